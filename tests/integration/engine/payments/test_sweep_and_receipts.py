"""The payment sweeper (lost webhooks, closed browsers, unpaid orders) and the receipt
(JSON; the PDF made once, stored once, the same bytes on every download)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.engine.payments.support import Portal, aws, pdf_of


def created(portal: Portal, amount: str = "2500.00", key: str = "key-sweep-0001") -> Any:
    response = portal.create(amount, token=portal.session(), key=key)
    assert response.status == 201, response.body
    return response.body


def expire_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import wiring

    monkeypatch.setenv("ORDER_EXPIRY_MINUTES", "0")
    wiring.reset()


def test_a_lost_webhook_and_a_closed_browser_are_captured_by_the_sweep(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])  # paid; nothing tells us

    counts = portal.sweep()

    assert counts["captured"] == 1
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "CAPTURED" and stored.receipt_number
    assert len(portal.queue_items()) == 1
    assert portal.sweep().get("captured", 0) == 0  # settled: no longer swept


def test_an_authorized_payment_left_behind_is_captured_at_razorpay(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"], outcome="authorized")

    assert portal.sweep()["captured"] == 1
    assert [r for r in portal.sim.received() if r["path"].endswith("/capture")]
    assert portal.payment(payment["payment_id"]).status.value == "CAPTURED"


def test_an_unpaid_order_expires_after_its_lifetime(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = created(portal)
    assert portal.sweep().get("expired", 0) == 0  # young: left alone
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    expire_now(monkeypatch)

    assert portal.sweep()["expired"] == 1
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "EXPIRED"
    assert portal.queue_items() == []
    # Paid after all (the customer had the page open): the capture still applies.
    portal.checkout(payment["razorpay_order_id"])
    portal.wait_for(lambda: portal.payment(payment["payment_id"]).status.value == "CAPTURED")


def test_only_failed_attempts_make_the_payment_failed(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.sim.checkout(payment["razorpay_order_id"], outcome="failed")
    assert portal.sweep()["failed"] == 1
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "FAILED" and stored.failure_reason


def test_an_order_we_never_recorded_is_found_by_its_receipt(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = portal.session()
    portal.sim.set_mode("timeout", count=2)
    assert portal.create("555.00", token=token, key="key-sweep-lost").status == 503
    (order,) = portal.sim.orders()
    portal.sim.set_mode("lost_webhook")
    portal.checkout(order["id"])  # paid at RazorPay; our record has no order id

    assert portal.sweep()["captured"] == 1
    (payment,) = portal.all_payments()
    assert payment["razorpay_order_id"] == order["id"] and payment["status"] == "CAPTURED"


def test_a_payment_whose_order_never_existed_expires(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal.sim.set_mode("error_5xx", count=2)
    assert portal.create("555.00", token=portal.session()).status == 503
    expire_now(monkeypatch)
    assert portal.sweep()["expired"] == 1
    assert portal.all_payments()[0]["status"] == "EXPIRED"


def test_razorpay_down_during_the_sweep_is_counted_and_retried_next_time(
    portal: Portal,
) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    portal.sim.set_mode("error_5xx", count=3)
    assert portal.sweep()["errors"] == 1
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    assert portal.sweep()["captured"] == 1


# ---------------------------------------------------------------------- receipts


def captured(portal: Portal) -> tuple[str, str]:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal)
    paid = portal.checkout(payment["razorpay_order_id"])
    assert portal.notify(payment["payment_id"], paid, token=token).status == 200
    return payment["payment_id"], token


def test_the_receipt_as_json(portal: Portal) -> None:
    payment_id, token = captured(portal)
    response = portal.receipt(payment_id, token=token)
    assert response.status == 200
    body = response.body
    assert body["receipt_number"] == portal.payment(payment_id).receipt_number
    assert body["amount"] == "2500.00" and body["currency"] == "INR"
    assert body["loan_account_number"] == "LN0000000001"


def test_the_pdf_is_made_once_stored_once_and_the_same_bytes_every_time(portal: Portal) -> None:
    payment_id, token = captured(portal)
    bucket = portal.env["DOCUMENTS_BUCKET"]

    def download() -> Any:
        return portal.receipt(payment_id, token=token, pdf=True)

    first, first_calls = portal.calls.measure(download)
    second, second_calls = portal.calls.measure(download)

    assert first.status == second.status == 200
    assert pdf_of(first) == pdf_of(second)
    assert pdf_of(first).startswith(b"%PDF-1.4")
    assert first.headers["Content-Disposition"] == f'inline; filename="receipt-{payment_id}.pdf"'
    objects = aws("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in objects] == [f"receipts/{payment_id}.pdf"]
    assert "s3.PutObject" in first_calls
    assert "s3.PutObject" not in second_calls  # read back, never made again


def test_no_receipt_for_a_payment_not_captured(portal: Portal) -> None:
    token = portal.session()
    payment = created(portal)
    assert portal.receipt(payment["payment_id"], token=token).status == 404
    assert portal.receipt(payment["payment_id"], token=token, pdf=True).status == 404


def test_another_loans_receipt_is_not_found_like_a_missing_one(portal: Portal) -> None:
    payment_id, _ = captured(portal)
    other = portal.session("LN0000000002")
    theirs = portal.receipt(payment_id, token=other)
    missing = portal.receipt("pay_aaaaaaaaaaaaaaaaaaaa", token=other)
    malformed = portal.receipt("not-a-payment", token=other)
    assert theirs.status == missing.status == malformed.status == 404
    assert theirs.body["error"]["message"] == missing.body["error"]["message"]
    assert portal.receipt(payment_id, token=None).status == 401
