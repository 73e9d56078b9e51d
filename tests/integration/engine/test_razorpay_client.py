"""The engine's RazorPay client against the simulator over HTTP: paise at the edge, one order
per receipt, and every failure classified (refused, or no definite answer)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from engine.clients import razorpay as client_module
from engine.clients.razorpay import Credentials, RazorpayClient, Refused, Unavailable
from simulators.razorpay import RazorpaySimulator
from tests.integration.engine.razorpay_support import KEY_ID, KEY_SECRET


@pytest.fixture(autouse=True)
def no_backoff_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_sleep", lambda _s: None)


def client(sim: RazorpaySimulator, secret: str = KEY_SECRET, **options: float) -> RazorpayClient:
    assert sim.base_url
    return RazorpayClient(
        sim.base_url,
        lambda: Credentials(KEY_ID, secret),
        timeout_seconds=options.get("timeout", 1.0),
        backoff=(0.1,),
        budget_seconds=options.get("budget", 5.0),
    )


def test_an_order_is_made_in_paise_once_per_receipt(rzp_sim: RazorpaySimulator) -> None:
    rzp = client(rzp_sim)
    notes = {"payment_id": "pay_aaaaaaaaaaaaaaaaaaaa", "loan_account_number": "LN0000000001"}
    first = rzp.create_order("pay_aaaaaaaaaaaaaaaaaaaa", Decimal("2500.05"), notes)
    again = rzp.create_order("pay_aaaaaaaaaaaaaaaaaaaa", Decimal("2500.05"), notes)
    assert first == again
    assert first.amount == Decimal("2500.05") and first.receipt == "pay_aaaaaaaaaaaaaaaaaaaa"
    (order,) = rzp_sim.orders()
    assert order["amount"] == 250005 and order["notes"] == notes
    assert rzp.order(first.id) == first
    assert rzp.order_by_receipt("pay_aaaaaaaaaaaaaaaaaaaa") == first
    assert rzp.order_by_receipt("pay_bbbbbbbbbbbbbbbbbbbb") is None


def test_a_payment_is_read_and_captured(rzp_sim: RazorpaySimulator) -> None:
    rzp = client(rzp_sim)
    order = rzp.create_order("pay_cccccccccccccccccccc", Decimal("100.00"), {})
    paid = rzp_sim.checkout(order.id, outcome="authorized", method="card")
    payment = rzp.payment(paid["razorpay_payment_id"])
    assert (payment.status, payment.method) == ("authorized", "card")
    assert payment.amount == Decimal("100")
    assert [p.id for p in rzp.order_payments(order.id)] == [payment.id]
    captured = rzp.capture(payment.id, payment.amount)
    assert captured.status == "captured"
    with pytest.raises(Refused) as refused:
        rzp.capture(payment.id, payment.amount)  # already captured: definite, not retried
    assert refused.value.status == 400


def test_an_unknown_payment_is_refused(rzp_sim: RazorpaySimulator) -> None:
    with pytest.raises(Refused):
        client(rzp_sim).payment("pay_DoesNotExist01")


def test_refused_credentials_are_no_answer_not_a_refusal(rzp_sim: RazorpaySimulator) -> None:
    with pytest.raises(Unavailable, match="credentials"):
        client(rzp_sim, secret="wrong").create_order("pay_dddddddddddddddddddd", Decimal("1"), {})


def test_5xx_is_retried_then_unavailable(rzp_sim: RazorpaySimulator) -> None:
    rzp = client(rzp_sim)
    rzp_sim.set_mode("error_5xx", count=1)
    assert rzp.create_order("pay_eeeeeeeeeeeeeeeeeeee", Decimal("1"), {}).id  # retry answered
    rzp_sim.set_mode("error_5xx", count=5)
    before = rzp.calls
    with pytest.raises(Unavailable):
        rzp.create_order("pay_ffffffffffffffffffff", Decimal("1"), {})
    assert rzp.calls - before == 2  # the attempt and its one retry


def test_a_timeout_stays_within_the_budget(rzp_sim: RazorpaySimulator) -> None:
    rzp_sim.set_mode("timeout", count=5)
    rzp = client(rzp_sim, timeout=0.3, budget=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        rzp.payment("pay_Anything0001")
    assert time.monotonic() - started < 1.0


def test_amounts_with_fractions_of_a_paisa_never_reach_razorpay(
    rzp_sim: RazorpaySimulator,
) -> None:
    with pytest.raises(ValueError, match="2 decimal places"):
        client(rzp_sim).create_order("pay_gggggggggggggggggggg", Decimal("1.005"), {})
    assert rzp_sim.received() == []
