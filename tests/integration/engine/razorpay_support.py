"""Helpers shared by the RazorPay simulator tests (real HTTP on localhost); fixtures: conftest."""

from __future__ import annotations

import json
from typing import Any

import razorpay

from simulators.razorpay import RazorpaySimulator
from tests.sim_http import basic, call

KEY_ID = "rzp_test_Sim0000000001"
KEY_SECRET = "key-secret-for-tests"
WEBHOOK_SECRET = "webhook-secret-for-tests"
AUTH = basic(KEY_ID, KEY_SECRET)


def api(
    sim: RazorpaySimulator, method: str, path: str, body: Any = None, **options: Any
) -> tuple[int, Any]:
    options.setdefault("auth", AUTH)
    return call(sim.base_url, method, path, body, **options)


def admin(sim: RazorpaySimulator, method: str, name: str, body: Any = None) -> tuple[int, Any]:
    return call(sim.base_url, method, f"/_simulator/{name}", body)


def new_order(sim: RazorpaySimulator, amount: int = 50000, **fields: Any) -> dict[str, Any]:
    code, order = api(sim, "POST", "/v1/orders", {"amount": amount, "currency": "INR", **fields})
    assert code == 200, order
    return order


def checkout(sim: RazorpaySimulator, order_id: str, **options: Any) -> dict[str, Any]:
    code, answer = admin(sim, "POST", "checkout", {"order_id": order_id, **options})
    assert code == 200, answer
    return answer


def events_of(received: list[dict[str, Any]]) -> list[str]:
    return [json.loads(r["raw"])["event"] for r in received]


def verify_webhook(received: dict[str, Any], secret: str = WEBHOOK_SECRET) -> bool:
    """RazorPay's SDK check: raises SignatureVerificationError when it does not hold."""
    utility = razorpay.Client(auth=(KEY_ID, KEY_SECRET)).utility
    body = received["raw"].decode("utf-8")  # the SDK takes the raw body as str
    return utility.verify_webhook_signature(
        body, received["headers"]["x-razorpay-signature"], secret
    )
