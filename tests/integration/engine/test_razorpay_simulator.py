"""The RazorPay simulator's API contract over real HTTP: auth, orders, checkout, capture, refunds.

Signatures are checked with RazorPay's own SDK (razorpay==2.0.1, ``Utility``), and one test
drives the whole API through the SDK's client, so the contract is held to the provider's code.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import razorpay
from razorpay.errors import BadRequestError, SignatureVerificationError

from simulators.razorpay import RazorpaySimulator
from tests.integration.engine.razorpay_support import (
    KEY_ID,
    KEY_SECRET,
    admin,
    api,
    checkout,
    events_of,
    new_order,
)
from tests.sim_http import Receiver, basic

ID = {prefix: re.compile(prefix + r"_[A-Za-z0-9]{14}") for prefix in ("order", "pay", "rfnd")}
AUTH_FAILED = {
    "error": {
        "code": "BAD_REQUEST_ERROR",
        "description": "Authentication failed",
        "source": "NA",
        "step": "NA",
        "reason": "NA",
        "metadata": {},
    }
}


def error_of(payload: dict[str, Any]) -> dict[str, Any]:
    error = payload["error"]
    assert set(error) >= {"code", "description", "source", "step", "reason", "metadata"}
    assert error["code"] == "BAD_REQUEST_ERROR"
    return error


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "auth",
    [
        None,
        basic(KEY_ID, "wrong-secret"),
        basic("rzp_test_other", KEY_SECRET),
        basic(KEY_ID, ""),
        f"Bearer {KEY_SECRET}",
        "Basic %%%",
        "Basic " + base64.b64encode(KEY_ID.encode()).decode(),
    ],
)
def test_every_v1_route_needs_the_key_pair(rzp_sim: RazorpaySimulator, auth: str | None) -> None:
    order = new_order(rzp_sim)
    requests = [
        ("POST", "/v1/orders", {"amount": 100, "currency": "INR"}),
        ("GET", "/v1/orders", None),
        ("GET", f"/v1/orders/{order['id']}", None),
        ("GET", f"/v1/orders/{order['id']}/payments", None),
        ("GET", "/v1/payments/pay_x", None),
        ("POST", "/v1/payments/pay_x/capture", {"amount": 100, "currency": "INR"}),
        ("POST", "/v1/payments/pay_x/refund", {}),
        ("GET", "/v1/refunds/rfnd_x", None),
        ("GET", "/v1/nothing-here", None),
    ]
    for method, path, body in requests:
        assert api(rzp_sim, method, path, body, auth=auth) == (401, AUTH_FAILED), path
    assert len(rzp_sim.orders()) == 1


def test_request_log_never_holds_credentials(rzp_sim: RazorpaySimulator) -> None:
    new_order(rzp_sim, receipt="log-1")
    api(rzp_sim, "GET", "/v1/orders", auth=basic(KEY_ID, "wrong-secret"))
    log = rzp_sim.received()
    assert [(e["method"], e["path"], e["response_status"]) for e in log] == [
        ("POST", "/v1/orders", 200),
        ("GET", "/v1/orders", 401),
    ]
    assert log[0]["body"]["receipt"] == "log-1"
    assert log[1]["error_code"] == "BAD_REQUEST_ERROR"
    text = repr(log)
    assert KEY_SECRET not in text and "wrong-secret" not in text
    assert base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode() not in text
    assert all(name.lower() != "authorization" for e in log for name in e["headers"])


# --------------------------------------------------------------------------- orders


def test_create_order_returns_razorpays_order_entity(rzp_sim: RazorpaySimulator) -> None:
    notes = {"loan_account_number": "LN0001", "branch": "7"}
    code, order = api(
        rzp_sim,
        "POST",
        "/v1/orders",
        {"amount": 123456, "currency": "INR", "receipt": "pmt_1", "notes": notes},
    )
    assert code == 200
    assert ID["order"].fullmatch(order["id"])
    assert order == {
        "id": order["id"],
        "entity": "order",
        "amount": 123456,
        "amount_paid": 0,
        "amount_due": 123456,
        "currency": "INR",
        "receipt": "pmt_1",
        "offer_id": None,
        "status": "created",
        "attempts": 0,
        "notes": notes,
        "created_at": order["created_at"],
    }
    assert isinstance(order["created_at"], int)
    assert abs(order["created_at"] - time.time()) < 5
    assert api(rzp_sim, "GET", f"/v1/orders/{order['id']}") == (200, order)
    assert new_order(rzp_sim)["notes"] == []  # RazorPay writes empty notes as []


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"currency": "INR"}, "amount", "amount field is required"),
        ({"amount": 99, "currency": "INR"}, "amount", "atleast INR 1.00"),
        ({"amount": 0, "currency": "INR"}, "amount", "atleast INR 1.00"),
        ({"amount": Decimal("500.0"), "currency": "INR"}, "amount", "must be an integer"),
        ({"amount": Decimal("5.5"), "currency": "INR"}, "amount", "must be an integer"),
        ({"amount": "500", "currency": "INR"}, "amount", "must be an integer"),
        ({"amount": True, "currency": "INR"}, "amount", "must be an integer"),
        ({"amount": 500}, "currency", "currency field is required"),
        ({"amount": 500, "currency": "USD"}, "currency", "not supported"),
        ({"amount": 500, "currency": "INR", "receipt": "r" * 41}, "receipt", "40 characters"),
        ({"amount": 500, "currency": "INR", "receipt": 12}, "receipt", "must be a string"),
        (
            {"amount": 500, "currency": "INR", "notes": {f"k{i}": "v" for i in range(16)}},
            "notes",
            "more than 15",
        ),
        ({"amount": 500, "currency": "INR", "notes": {"k": "v" * 257}}, "notes", "256"),
        ({"amount": 500, "currency": "INR", "notes": ["a"]}, "notes", "key-value"),
        ({"amount": 500, "currency": "INR", "notes": {"k": {"x": 1}}}, "notes", "string"),
        ({"amount": 500, "currency": "INR", "amout": 5}, "amout", "should not be sent"),
        ({"amount": 500, "currency": "INR", "unique_receipt": True}, "receipt", "required"),
        ({"amount": 500, "currency": "INR", "unique_receipt": "yes"}, "unique_receipt", "true"),
        ({"amount": 500, "currency": "INR", "partial_payment": 1}, "partial_payment", "true"),
    ],
)
def test_order_validation_errors_are_400_in_razorpays_shape(
    rzp_sim: RazorpaySimulator, body: dict[str, Any], field: str, text: str
) -> None:
    code, payload = api(rzp_sim, "POST", "/v1/orders", body)
    assert code == 400
    error = error_of(payload)
    assert (error["source"], error["step"], error["reason"]) == (
        "business",
        "payment_initiation",
        "input_validation_failed",
    )
    assert error["field"] == field
    assert text in error["description"]
    assert rzp_sim.orders() == []


def test_order_limits_are_inclusive(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(
        rzp_sim, amount=100, receipt="r" * 40, notes={f"k{i}": "v" * 256 for i in range(15)}
    )
    assert (order["amount"], len(order["receipt"]), len(order["notes"])) == (100, 40, 15)


@pytest.mark.parametrize("raw", [b'{"amount": 500,', b"[1, 2]", b'{"amount": NaN}', b"\xff"])
def test_bodies_that_are_not_json_objects_are_400(rzp_sim: RazorpaySimulator, raw: bytes) -> None:
    code, payload = api(rzp_sim, "POST", "/v1/orders", raw=raw)
    assert code == 400
    error_of(payload)
    assert rzp_sim.orders() == []


def test_unique_receipt_returns_the_existing_order(rzp_sim: RazorpaySimulator) -> None:
    first = new_order(rzp_sim, receipt="pmt_same", unique_receipt=True, notes={"n": "1"})
    again = new_order(rzp_sim, receipt="pmt_same", unique_receipt=True, notes={"n": "1"})
    assert again == first
    other = new_order(rzp_sim, receipt="pmt_other", unique_receipt=True)
    assert other["id"] != first["id"]
    # Without unique_receipt RazorPay does not enforce the receipt: a second order is made.
    assert new_order(rzp_sim, receipt="pmt_same")["id"] != first["id"]
    # ... and a later unique_receipt create still finds the first.
    assert new_order(rzp_sim, receipt="pmt_same", unique_receipt=True)["id"] == first["id"]
    assert len(rzp_sim.orders()) == 3


def test_twenty_concurrent_identical_creates_make_one_order(rzp_sim: RazorpaySimulator) -> None:
    barrier = threading.Barrier(20)
    body = {"amount": 75000, "currency": "INR", "receipt": "pmt_race", "unique_receipt": True}

    def create(_: int) -> tuple[int, Any]:
        barrier.wait()
        return api(rzp_sim, "POST", "/v1/orders", body)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(create, range(20)))
    assert {code for code, _ in results} == {200}
    assert len({order["id"] for _, order in results}) == 1
    [order] = rzp_sim.orders()
    assert order["receipt"] == "pmt_race"


def test_unknown_ids_and_urls_are_razorpays_400(rzp_sim: RazorpaySimulator) -> None:
    for path in ("/v1/orders/order_missing", "/v1/payments/pay_missing", "/v1/refunds/rfnd_x"):
        code, payload = api(rzp_sim, "GET", path)
        assert code == 400, path
        assert error_of(payload)["description"] == "The id provided does not exist"
    assert api(rzp_sim, "GET", "/v1/orders/order_missing/payments")[0] == 400
    for method, path in (("GET", "/v1/customers"), ("DELETE", "/v1/orders"), ("GET", "/v2/x")):
        code, payload = api(rzp_sim, method, path)
        assert code == 400, path
        assert "URL was not found" in error_of(payload)["description"]


def test_list_orders_newest_first_with_count_skip_and_receipt(
    rzp_sim: RazorpaySimulator,
) -> None:
    made = [new_order(rzp_sim, receipt=f"r{i % 2}")["id"] for i in range(5)]
    code, page = api(rzp_sim, "GET", "/v1/orders?count=2&skip=1")
    assert code == 200
    assert page["entity"] == "collection"
    assert [o["id"] for o in page["items"]] == [made[3], made[2]]
    assert page["count"] == 2
    code, page = api(rzp_sim, "GET", "/v1/orders?receipt=r1")
    assert [o["id"] for o in page["items"]] == [made[3], made[1]]
    for query in ("count=0", "count=101", "count=x", "skip=-1"):
        code, payload = api(rzp_sim, "GET", f"/v1/orders?{query}")
        assert code == 400, query
        error_of(payload)


# --------------------------------------------------------------------------- checkout


def test_captured_checkout_signature_verifies_with_razorpays_sdk(
    rzp_sim: RazorpaySimulator,
) -> None:
    order = new_order(rzp_sim, amount=250000, notes={"loan_account_number": "LN1"})
    answer = checkout(rzp_sim, order["id"])
    assert set(answer) == {"razorpay_payment_id", "razorpay_order_id", "razorpay_signature"}
    assert answer["razorpay_order_id"] == order["id"]
    assert ID["pay"].fullmatch(answer["razorpay_payment_id"])
    assert re.fullmatch("[0-9a-f]{64}", answer["razorpay_signature"])
    utility = razorpay.Client(auth=(KEY_ID, KEY_SECRET)).utility
    assert utility.verify_payment_signature(answer) is True
    with pytest.raises(SignatureVerificationError):
        utility.verify_payment_signature({**answer, "razorpay_order_id": new_order(rzp_sim)["id"]})
    with pytest.raises(SignatureVerificationError):
        razorpay.Client(auth=(KEY_ID, "another-secret")).utility.verify_payment_signature(answer)


def test_captured_checkout_moves_payment_and_order(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim, amount=250000, notes={"loan_account_number": "LN1"})
    answer = checkout(rzp_sim, order["id"])
    code, payment = api(rzp_sim, "GET", f"/v1/payments/{answer['razorpay_payment_id']}")
    assert code == 200
    assert payment["entity"] == "payment"
    assert (payment["status"], payment["captured"], payment["amount"]) == ("captured", True, 250000)
    assert (payment["order_id"], payment["currency"], payment["method"]) == (
        order["id"],
        "INR",
        "upi",
    )
    assert (payment["fee"], payment["tax"]) == (5000, 900)  # 2% and 18% GST, whole paise
    assert payment["notes"] == {"loan_account_number": "LN1"}
    assert payment["vpa"] and payment["upi"]["vpa"] == payment["vpa"]
    assert payment["error_code"] is None and payment["amount_refunded"] == 0
    code, paid = api(rzp_sim, "GET", f"/v1/orders/{order['id']}")
    assert (paid["status"], paid["amount_paid"], paid["amount_due"], paid["attempts"]) == (
        "paid",
        250000,
        0,
        1,
    )
    code, payments = api(rzp_sim, "GET", f"/v1/orders/{order['id']}/payments")
    assert payments == {"entity": "collection", "count": 1, "items": [payment]}


def test_a_paid_order_takes_no_further_payment(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim)
    checkout(rzp_sim, order["id"])
    code, payload = admin(rzp_sim, "POST", "checkout", {"order_id": order["id"]})
    assert code == 409
    assert "already paid" in payload["error"]
    assert len(rzp_sim.payments(order["id"])) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"order_id": "order_missing"}, 404),
        ({}, 400),
        ({"order_id": None}, 400),
        ({"order_id": "ORDER", "outcome": "maybe"}, 400),
        ({"order_id": "ORDER", "method": "cash"}, 400),
    ],
)
def test_checkout_errors(rzp_sim: RazorpaySimulator, body: dict[str, Any], status: int) -> None:
    order = new_order(rzp_sim)
    if body.get("order_id") == "ORDER":
        body = {**body, "order_id": order["id"]}
    code, payload = admin(rzp_sim, "POST", "checkout", body)
    assert code == status
    assert payload["error"]
    assert rzp_sim.payments() == []


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("card", {"card_id", "card"}),
        ("netbanking", {"bank"}),
        ("wallet", {"wallet"}),
        ("upi", {"vpa", "upi"}),
    ],
)
def test_payment_methods_carry_their_fields(
    rzp_sim: RazorpaySimulator, method: str, fields: set[str]
) -> None:
    answer = checkout(rzp_sim, new_order(rzp_sim)["id"], method=method)
    payment = api(rzp_sim, "GET", f"/v1/payments/{answer['razorpay_payment_id']}")[1]
    assert payment["method"] == method
    assert all(payment[name] for name in fields)
    assert isinstance(payment["acquirer_data"], dict)


def test_failed_checkout_then_a_retry_on_the_same_order(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim)
    answer = checkout(rzp_sim, order["id"], outcome="failed")
    error = answer["error"]
    assert (error["code"], error["reason"]) == ("BAD_REQUEST_ERROR", "payment_failed")
    failed_id = error["metadata"]["payment_id"]
    assert error["metadata"]["order_id"] == order["id"]
    payment = api(rzp_sim, "GET", f"/v1/payments/{failed_id}")[1]
    assert (payment["status"], payment["captured"], payment["fee"]) == ("failed", False, None)
    assert (payment["error_source"], payment["error_step"]) == ("bank", "payment_authorization")
    attempted = api(rzp_sim, "GET", f"/v1/orders/{order['id']}")[1]
    assert (attempted["status"], attempted["attempts"], attempted["amount_due"]) == (
        "attempted",
        1,
        order["amount"],
    )
    second = checkout(rzp_sim, order["id"])["razorpay_payment_id"]
    payments = api(rzp_sim, "GET", f"/v1/orders/{order['id']}/payments")[1]
    assert [p["id"] for p in payments["items"]] == [second, failed_id]  # newest first
    assert [p["status"] for p in payments["items"]] == ["captured", "failed"]
    assert api(rzp_sim, "GET", f"/v1/orders/{order['id']}")[1]["attempts"] == 2


def test_failed_then_captured_is_failed_until_the_late_capture(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    order = new_order(rzp_sim)
    answer = checkout(rzp_sim, order["id"], outcome="failed_then_captured")
    payment_id = answer["razorpay_payment_id"]
    assert api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]["status"] == "failed"
    received = rzp_hooks.wait_for(3)
    assert events_of(received) == ["payment.failed", "payment.captured", "order.paid"]
    payment = api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]
    assert (payment["status"], payment["error_code"]) == ("captured", None)
    assert api(rzp_sim, "GET", f"/v1/orders/{order['id']}")[1]["status"] == "paid"


# --------------------------------------------------------------------------- capture


def test_authorized_payment_is_captured_by_the_merchant(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    order = new_order(rzp_sim, amount=10000)
    payment_id = checkout(rzp_sim, order["id"], outcome="authorized")["razorpay_payment_id"]
    authorized = api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]
    assert (authorized["status"], authorized["captured"]) == ("authorized", False)
    assert api(rzp_sim, "GET", f"/v1/orders/{order['id']}")[1]["status"] == "attempted"
    assert events_of(rzp_hooks.wait_for(1)) == ["payment.authorized"]
    capture = f"/v1/payments/{payment_id}/capture"
    for body, text in [
        ({"amount": 9999, "currency": "INR"}, "equal to the amount authorized"),
        ({"amount": 20000, "currency": "INR"}, "equal to the amount authorized"),
        ({"amount": 10000}, "currency field is required"),
        ({"currency": "INR"}, "amount field is required"),
        ({"amount": 10000, "currency": "INR", "extra": 1}, "should not be sent"),
    ]:
        code, payload = api(rzp_sim, "POST", capture, body)
        assert code == 400, body
        assert text in error_of(payload)["description"]
    assert api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]["status"] == "authorized"
    code, captured = api(rzp_sim, "POST", capture, {"amount": 10000, "currency": "INR"})
    assert (code, captured["status"], captured["captured"]) == (200, "captured", True)
    assert events_of(rzp_hooks.wait_for(3)) == [
        "payment.authorized",
        "payment.captured",
        "order.paid",
    ]
    code, payload = api(rzp_sim, "POST", capture, {"amount": 10000, "currency": "INR"})
    assert code == 400
    assert "already been captured" in error_of(payload)["description"]
    assert api(rzp_sim, "GET", f"/v1/orders/{order['id']}")[1]["status"] == "paid"


def test_a_failed_payment_cannot_be_captured(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim, amount=10000)
    failed = checkout(rzp_sim, order["id"], outcome="failed")["error"]["metadata"]["payment_id"]
    code, payload = api(
        rzp_sim, "POST", f"/v1/payments/{failed}/capture", {"amount": 10000, "currency": "INR"}
    )
    assert code == 400
    assert "Only payments which have been authorized" in error_of(payload)["description"]
    code, payload = api(
        rzp_sim, "POST", "/v1/payments/pay_missing/capture", {"amount": 100, "currency": "INR"}
    )
    assert (code, error_of(payload)["description"]) == (400, "The id provided does not exist")


# --------------------------------------------------------------------------- refunds


def test_partial_then_full_refund(rzp_sim: RazorpaySimulator, rzp_hooks: Receiver) -> None:
    payment_id = checkout(rzp_sim, new_order(rzp_sim, amount=30000)["id"])["razorpay_payment_id"]
    rzp_hooks.wait_for(3)
    refund_path = f"/v1/payments/{payment_id}/refund"
    code, partial = api(rzp_sim, "POST", refund_path, {"amount": 10000, "notes": {"why": "x"}})
    assert code == 200
    assert ID["rfnd"].fullmatch(partial["id"])
    assert (partial["entity"], partial["amount"], partial["status"]) == (
        "refund",
        10000,
        "processed",
    )
    assert (partial["payment_id"], partial["notes"]) == (payment_id, {"why": "x"})
    payment = api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == (
        "captured",
        10000,
        "partial",
    )
    code, payload = api(rzp_sim, "POST", refund_path, {"amount": 20001})
    assert code == 400
    assert "greater than" in error_of(payload)["description"]
    code, rest = api(rzp_sim, "POST", refund_path, {})  # no amount: what is left
    assert (code, rest["amount"]) == (200, 20000)
    payment = api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]
    assert (payment["status"], payment["amount_refunded"], payment["refund_status"]) == (
        "refunded",
        30000,
        "full",
    )
    code, payload = api(rzp_sim, "POST", refund_path, {"amount": 100})
    assert (code, error_of(payload)["description"]) == (
        400,
        "The payment has been fully refunded already",
    )
    assert api(rzp_sim, "GET", f"/v1/refunds/{partial['id']}") == (200, partial)
    listed = api(rzp_sim, "GET", f"/v1/payments/{payment_id}/refunds")[1]
    assert [r["id"] for r in listed["items"]] == [rest["id"], partial["id"]]
    received = rzp_hooks.wait_for(5)
    assert events_of(received)[3:] == ["refund.processed", "refund.processed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 99}, "amount"),
        ({"amount": Decimal("100.5")}, "amount"),
        ({"speed": "instant"}, "speed"),
        ({"receipt": "r" * 41}, "receipt"),
        ({"reason": "x"}, "reason"),
    ],
)
def test_refund_validation(rzp_sim: RazorpaySimulator, body: dict[str, Any], field: str) -> None:
    payment_id = checkout(rzp_sim, new_order(rzp_sim)["id"])["razorpay_payment_id"]
    code, payload = api(rzp_sim, "POST", f"/v1/payments/{payment_id}/refund", body)
    assert code == 400
    assert error_of(payload)["field"] == field
    assert rzp_sim.refunds() == []


def test_only_captured_payments_are_refunded(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim)
    payment_id = checkout(rzp_sim, order["id"], outcome="authorized")["razorpay_payment_id"]
    code, payload = api(rzp_sim, "POST", f"/v1/payments/{payment_id}/refund", {})
    assert code == 400
    assert "captured" in error_of(payload)["description"]
    assert rzp_sim.refunds() == []


def test_refund_idempotency_key(rzp_sim: RazorpaySimulator, rzp_hooks: Receiver) -> None:
    payment_id = checkout(rzp_sim, new_order(rzp_sim, amount=30000)["id"])["razorpay_payment_id"]
    path = f"/v1/payments/{payment_id}/refund"
    key = {"X-Refund-Idempotency": "refund-key-0001"}
    code, first = api(rzp_sim, "POST", path, {"amount": 5000}, headers=key)
    assert code == 200
    assert api(rzp_sim, "POST", path, {"amount": 5000}, headers=key) == (200, first)
    assert len(rzp_sim.refunds()) == 1
    code, payload = api(rzp_sim, "POST", path, {"amount": 6000}, headers=key)
    assert code == 400
    assert error_of(payload)["field"] == "X-Refund-Idempotency"
    code, payload = api(
        rzp_sim, "POST", path, {"amount": 100}, headers={"X-Refund-Idempotency": "short"}
    )
    assert (code, error_of(payload)["field"]) == (400, "X-Refund-Idempotency")
    assert len(rzp_sim.refunds()) == 1
    assert api(rzp_sim, "GET", f"/v1/payments/{payment_id}")[1]["amount_refunded"] == 5000
    time.sleep(0.3)
    assert events_of(rzp_hooks.received).count("refund.processed") == 1


# --------------------------------------------------------------------------- the SDK as client


def test_razorpays_sdk_drives_the_whole_api(rzp_sim: RazorpaySimulator, rzp_sdk: Any) -> None:
    body = {"amount": 50000, "currency": "INR", "receipt": "sdk-1", "unique_receipt": True}
    order = rzp_sdk.order.create(body)
    assert rzp_sdk.order.create(body)["id"] == order["id"]
    assert rzp_sdk.order.fetch(order["id"]) == order
    answer = checkout(rzp_sim, order["id"], outcome="authorized")
    assert rzp_sdk.utility.verify_payment_signature(answer)
    payment_id = answer["razorpay_payment_id"]
    assert rzp_sdk.order.payments(order["id"])["items"][0]["id"] == payment_id
    captured = rzp_sdk.payment.capture(payment_id, 50000, {"currency": "INR"})
    assert captured["status"] == "captured"
    refund = rzp_sdk.payment.refund(payment_id, {"amount": 1000})
    assert rzp_sdk.refund.fetch(refund["id"])["amount"] == 1000
    with pytest.raises(BadRequestError, match=r"atleast INR 1\.00"):
        rzp_sdk.order.create({"amount": 50, "currency": "INR"})
