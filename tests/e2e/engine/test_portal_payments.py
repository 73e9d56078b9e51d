"""A customer repays a loan online, end to end through the local runner, and the ways the
payment's news can arrive: notification and webhook, duplicates, a failure then a capture, a
lost webhook, no notification at all, and 20 identical creates at once."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from tests.e2e.conftest import Response, wait_for
from tests.e2e.engine.conftest import ACTIVE, OVERDUE, SECOND, SETTLE, Engine, new_key

PAYMENT_ID = re.compile(r"^pay_[a-z2-7]{20}$")
RECEIPT_NUMBER = re.compile(r"^BR00[12]/\d{4}-\d{2}/\d{6}$")


def _captured_with_receipt(answer: dict[str, object]) -> str:
    assert answer["status"] == "CAPTURED", answer
    receipt = str(answer["receipt_number"])
    assert RECEIPT_NUMBER.match(receipt), answer
    return receipt


def test_the_whole_repayment_flow(engine: Engine) -> None:
    session = engine.session(ACTIVE)  # validate-loan, the OTP from /_local/sms, a session
    loan = engine.loan(session)
    assert loan["loan_account_number"] == ACTIVE and loan["status"] == "ACTIVE", loan
    assert "Ravi Kumar" not in str(loan), loan  # the name comes masked
    before = Decimal(loan["outstanding"])

    key = new_key()
    created = engine.create(session, "1234.50", key)
    assert created.status == 201, created
    payment = created.body
    assert PAYMENT_ID.match(payment["payment_id"]), payment
    assert payment["amount"] == "1234.50" and payment["currency"] == "INR", payment
    assert payment["razorpay_key_id"] == engine.demo["razorpay"]["key_id"], payment
    replay = engine.create(session, "1234.50", key)
    assert (replay.status, replay.body) == (201, payment), replay  # the first answer again

    paid = engine.checkout(payment["razorpay_order_id"])
    notified = engine.notify(session, payment["payment_id"], paid)
    assert notified.status == 200, notified
    receipt_number = _captured_with_receipt(notified.body)
    assert notified.raw.endswith(b"\n"), notified

    status = engine.payment(session, payment["payment_id"])
    assert status["receipt_number"] == receipt_number, status
    receipt = engine.call(
        "GET", f"/api/v1/customer/payments/{payment['payment_id']}/receipt", session=session
    )
    assert receipt.status == 200, receipt
    assert receipt_number in receipt.text, receipt
    assert "1234.50" in receipt.text, receipt
    pdfs = [
        engine.call(
            "GET",
            f"/api/v1/customer/payments/{payment['payment_id']}/receipt",
            session=session,
            headers={"Accept": "application/pdf"},
        )
        for _ in range(2)
    ]
    for pdf in pdfs:
        assert pdf.status == 200, pdf
        assert (pdf.header("Content-Type") or "").startswith("application/pdf"), pdf.headers
        assert pdf.raw.startswith(b"%PDF"), pdf.raw[:20]
    assert pdfs[0].raw == pdfs[1].raw  # generated once, kept

    # PostgreSQL, through the Transactions stream: the outstanding balance lowered once.
    engine.wait_outstanding(session, before - Decimal("1234.50"))
    history = engine.call("GET", f"/api/v1/customer/loans/{ACTIVE}/payments", session=session)
    assert history.status == 200, history
    assert [p["payment_id"] for p in history.body["items"]].count(payment["payment_id"]) == 1


def test_five_deliveries_of_every_webhook_make_one_receipt(engine: Engine) -> None:
    session = engine.session(ACTIVE)
    before = engine.outstanding(session)
    payment = engine.created(session, "101.01")
    engine.mode("duplicate", times=5)

    engine.checkout(payment["razorpay_order_id"])  # no notification: the webhooks alone

    captured = engine.wait_payment(session, payment["payment_id"], "CAPTURED")
    _captured_with_receipt(captured)
    deliveries = _deliveries(engine, payment["razorpay_order_id"], at_least=10)
    assert {d["status_code"] for d in deliveries} <= {200, 201, 202, 204}, deliveries
    engine.wait_outstanding(session, before - Decimal("101.01"))
    time.sleep(1.5)  # a late duplicate must not take it off twice
    assert engine.outstanding(session) == before - Decimal("101.01")
    assert (
        engine.payment(session, payment["payment_id"])["receipt_number"]
        == captured["receipt_number"]
    )


def _deliveries(engine: Engine, order_id: str, at_least: int) -> list[dict[str, object]]:
    def delivered() -> list[dict[str, object]] | None:
        response = engine.sim("GET", "/_simulator/deliveries")
        found = [d for d in response.body if d.get("order_id") == order_id]
        return found if len(found) >= at_least else None

    return list(wait_for(delivered, SETTLE, what=f"{at_least} deliveries for {order_id}"))


def test_a_failure_then_a_capture_ends_captured(engine: Engine) -> None:
    session = engine.session(OVERDUE)
    before = engine.outstanding(session)
    payment = engine.created(session, "250.00")

    engine.checkout(payment["razorpay_order_id"], outcome="failed_then_captured")

    captured = engine.wait_payment(session, payment["payment_id"], "CAPTURED")
    _captured_with_receipt(captured)
    events = engine.sim("GET", "/_simulator/deliveries").body
    names = [d["event"] for d in events if d.get("order_id") == payment["razorpay_order_id"]]
    assert names.index("payment.failed") < names.index("payment.captured"), names
    engine.wait_outstanding(session, before - Decimal("250.00"))


def test_a_notification_without_any_webhook_captures(engine: Engine) -> None:
    session = engine.session(ACTIVE)
    before = engine.outstanding(session)
    payment = engine.created(session, "55.55")
    engine.mode("lost_webhook")

    paid = engine.checkout(payment["razorpay_order_id"])
    notified = engine.notify(session, payment["payment_id"], paid)

    assert notified.status == 200, notified
    _captured_with_receipt(notified.body)
    sent = engine.sim("GET", "/_simulator/deliveries").body
    assert not [d for d in sent if d.get("order_id") == payment["razorpay_order_id"]], sent
    engine.wait_outstanding(session, before - Decimal("55.55"))


def test_a_webhook_without_a_notification_captures(engine: Engine) -> None:
    session = engine.session(SECOND)
    before = engine.outstanding(session)
    payment = engine.created(session, "77.70")

    engine.checkout(payment["razorpay_order_id"])  # the customer closed the browser here

    _captured_with_receipt(engine.wait_payment(session, payment["payment_id"], "CAPTURED"))
    engine.wait_outstanding(session, before - Decimal("77.70"))


def test_twenty_concurrent_identical_creates_make_one_order(engine: Engine) -> None:
    session = engine.session(SECOND)
    key, start = new_key(), threading.Barrier(20)

    def one(_: int) -> Response:
        start.wait(10)
        return engine.create(session, "20.20", key)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(one, range(20)))

    created = [a for a in answers if a.status == 201]
    assert created, answers
    assert all(a.status in (201, 409) for a in answers), [(a.status, a.text) for a in answers]
    assert len({a.text for a in created}) == 1, created  # every 201 the same answer
    payment_id = created[0].body["payment_id"]
    assert len(engine.orders_posted(payment_id)) == 1  # RazorPay asked for one order
    history = engine.call("GET", f"/api/v1/customer/loans/{SECOND}/payments", session=session)
    assert [p["payment_id"] for p in history.body["items"]].count(payment_id) == 1
    assert engine.create(session, "20.20", key).body == created[0].body  # and it replays


def test_the_sync_applies_each_capture_once_across_a_burst(engine: Engine) -> None:
    session = engine.session(OVERDUE)
    before = engine.outstanding(session)
    amounts = ["10.01", "10.02", "10.03", "10.04", "10.05"]
    for amount in amounts:
        payment = engine.created(session, amount)
        paid = engine.checkout(payment["razorpay_order_id"])
        assert engine.notify(session, payment["payment_id"], paid).status == 200
    engine.wait_outstanding(session, before - sum(map(Decimal, amounts)))
