"""POST /api/v1/webhooks/razorpay: signed by RazorPay, applied forward only and once; the
unappliable kept in the DLQ with the raw body, and re-driven from there."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from engine.clients.razorpay import hmac_hex
from engine.dal.ddb.counters import loan_counter_id
from tests.integration.engine.payments.support import (
    PREVIOUS_WEBHOOK_SECRET,
    Portal,
    signed,
    unknown_capture,
)
from tests.integration.engine.razorpay_support import WEBHOOK_SECRET


def created(portal: Portal, amount: str = "2500.00", key: str = "key-webhook-01") -> Any:
    response = portal.create(amount, token=portal.session(), key=key)
    assert response.status == 201, response.body
    return response.body


def settled(portal: Portal, count: int) -> list[dict[str, Any]]:
    """Wait for `count` first attempts and for every event to have had a 200."""

    def done() -> bool:
        deliveries = portal.sim.deliveries()
        firsts = [d for d in deliveries if d["attempt"] == 1]
        answered = {d["event_id"] for d in deliveries if d["status_code"] == 200}
        return len(firsts) >= count and answered == {d["event_id"] for d in deliveries}

    portal.wait_for(done, timeout=10)
    return portal.sim.deliveries()


def test_a_captured_payment_webhook_alone_issues_the_receipt(portal: Portal) -> None:
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])  # no notification follows
    settled(portal, 3)  # authorized, captured, order.paid
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "CAPTURED" and stored.receipt_number
    assert len(portal.queue_items()) == 1
    assert len(portal.captured_events()) == 1


def test_five_copies_of_every_webhook_make_one_receipt(portal: Portal) -> None:
    portal.sim.set_mode("duplicate", times=5)
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    deliveries = settled(portal, 15)
    assert {d["status_code"] for d in deliveries} == {200}
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "CAPTURED"
    (queued,) = portal.queue_items()
    assert queued["payload"]["receipt_number"] == stored.receipt_number
    counter = portal.counter(loan_counter_id("LN0000000001"))
    assert counter is not None and counter["captured"] == Decimal("2500.00")
    assert len(portal.captured_events()) == 1


def test_failed_then_captured_ends_captured(
    portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    portal.sim.set_mode("failed_then_captured")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    portal.wait_for(lambda: portal.payment(payment["payment_id"]).status.value == "FAILED")
    portal.wait_for(
        lambda: portal.payment(payment["payment_id"]).status.value == "CAPTURED", timeout=5
    )
    stored = portal.payment(payment["payment_id"])
    assert stored.failure_reason is None and stored.receipt_number
    assert len(portal.queue_items()) == 1
    rates = [
        json.loads(line)["payment_success_rate"]
        for line in capsys.readouterr().out.splitlines()
        if '"payment_success_rate"' in line and '"channel"' in line
    ]
    assert rates == [[0.0], [100.0]]  # each outcome once


def test_a_failure_never_overrides_a_capture(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    paid = portal.checkout(payment["razorpay_order_id"])
    token = portal.session()
    assert portal.notify(payment["payment_id"], paid, token=token).body["status"] == "CAPTURED"
    entity = portal.sim.payments()[0] | {"status": "failed", "error_code": "BAD_REQUEST_ERROR"}
    raw, headers = signed(
        {"event": "payment.failed", "payload": {"payment": {"entity": entity}}}, event_id="evt_f"
    )
    response = portal.post_webhook(raw, headers)
    assert response.status == 200 and response.body["result"] == "stale"
    assert portal.payment(payment["payment_id"]).status.value == "CAPTURED"


def test_out_of_order_webhooks_end_captured(portal: Portal) -> None:
    portal.sim.set_mode("out_of_order")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    settled(portal, 3)
    assert portal.payment(payment["payment_id"]).status.value == "CAPTURED"


def test_a_forged_webhook_is_401_and_changes_nothing(
    portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    entity = portal.sim.payments()[0]
    body = {"event": "payment.captured", "payload": {"payment": {"entity": entity}}}
    raw, headers = signed(body, secret="not-the-secret")
    capsys.readouterr()
    response = portal.post_webhook(raw, headers)
    assert response.status == 401
    assert response.body["error"]["code"] == "UNAUTHORIZED"
    assert "webhook_rejected" in capsys.readouterr().out
    unsigned = portal.post_webhook(raw, {"Content-Type": "application/json"})
    assert unsigned.status == 401
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    assert portal.messages("RAZORPAY_WEBHOOK_DLQ_URL") == []


def test_during_a_rotation_the_previous_secret_still_verifies(portal: Portal) -> None:
    portal.sim.set_webhook_secret(PREVIOUS_WEBHOOK_SECRET)
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    settled(portal, 3)
    assert portal.payment(payment["payment_id"]).status.value == "CAPTURED"


def test_an_unappliable_event_goes_to_the_dlq_with_its_raw_body(portal: Portal) -> None:
    raw, headers = unknown_capture(1, "evt_unknown")
    response = portal.post_webhook(raw, headers)
    assert response.status == 200 and response.body["result"] == "dead_lettered"
    (message,) = portal.messages("RAZORPAY_WEBHOOK_DLQ_URL")
    letter = json.loads(message["Body"])
    assert base64.b64decode(letter["raw_body_b64"]) == raw
    assert letter["headers"]["x-razorpay-event-id"] == "evt_unknown"
    assert letter["headers"]["x-razorpay-signature"] == headers["X-Razorpay-Signature"]
    assert "no such payment" in letter["error"]


def test_an_unreadable_but_signed_body_is_dead_lettered(portal: Portal) -> None:
    raw = b"this is not json"
    headers = {"X-Razorpay-Signature": hmac_hex(WEBHOOK_SECRET, raw)}
    response = portal.post_webhook(raw, headers)
    assert response.status == 200 and response.body["result"] == "dead_lettered"
    (message,) = portal.messages("RAZORPAY_WEBHOOK_DLQ_URL")
    assert base64.b64decode(json.loads(message["Body"])["raw_body_b64"]) == raw


def test_events_we_do_not_handle_are_acknowledged_and_ignored(portal: Portal) -> None:
    raw, headers = signed({"event": "payment.dispute.created", "payload": {}})
    response = portal.post_webhook(raw, headers)
    assert response.status == 200 and response.body["result"] == "ignored"
    assert portal.messages("RAZORPAY_WEBHOOK_DLQ_URL") == []


def undelivered_capture(portal: Portal) -> tuple[bytes, dict[str, str]]:
    """A payment paid at RazorPay whose webhook the simulator signed but never sent: its raw
    body and headers, for a test to deliver itself."""
    portal.sim.set_mode("lost_webhook")
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    event = portal.sim.events()[-1]
    headers = {"X-Razorpay-Signature": event["signature"], "x-razorpay-event-id": event["event_id"]}
    return event["body"].encode(), headers


def test_a_store_outage_is_503_so_razorpay_retries(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.dal.ddb.payments import PaymentStore
    from shared.store_errors import Conflict

    raw, headers = undelivered_capture(portal)

    def busy(*_: Any, **__: Any) -> None:
        raise Conflict("busy")

    monkeypatch.setattr(PaymentStore, "get", busy)
    response = portal.post_webhook(raw, headers)
    assert response.status == 503
    assert portal.messages("RAZORPAY_WEBHOOK_DLQ_URL") == []
    monkeypatch.undo()
    assert portal.post_webhook(raw, headers).status == 200  # RazorPay's retry applies it


@pytest.mark.parametrize(
    ("code", "http_status", "answer"),
    [
        ("ProvisionedThroughputExceededException", 400, 503),
        ("InternalServerError", 500, 503),
        ("AccessDeniedException", 400, 500),
    ],
)
def test_a_store_error_left_after_retries_is_503_only_when_it_is_transient(
    portal: Portal, monkeypatch: pytest.MonkeyPatch, code: str, http_status: int, answer: int
) -> None:
    from botocore.exceptions import ClientError

    from engine.dal.ddb.payments import PaymentStore

    raw, headers = undelivered_capture(portal)

    def failing(*_: Any, **__: Any) -> None:
        error = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": http_status}}
        raise ClientError(error, "GetItem")

    monkeypatch.setattr(PaymentStore, "get", failing)
    response = portal.post_webhook(raw, headers)

    assert response.status == answer
    assert portal.messages("RAZORPAY_WEBHOOK_DLQ_URL") == []  # never dead-lettered for our fault


def test_a_dead_letter_re_driven_to_the_replay_queue_applies(portal: Portal) -> None:
    """An order whose answer we lost (timeout) was paid before the create was retried: the
    webhook cannot match the payment then; after the retry attached the order, the replay
    applies it."""
    token = portal.session()
    portal.sim.set_mode("timeout", count=2)
    assert portal.create("777.00", token=token, key="key-replay-001").status == 503
    (order,) = portal.sim.orders()
    portal.checkout(order["id"])
    settled(portal, 3)
    letters = portal.messages("RAZORPAY_WEBHOOK_DLQ_URL")
    assert letters, "the payment had no order yet: its webhooks are dead-lettered"
    (payment,) = portal.all_payments()
    assert payment["status"] == "CREATED"

    assert portal.create("777.00", token=token, key="key-replay-001").status == 201
    result = portal.replay(letters)

    assert result == {"batchItemFailures": []}
    stored = portal.payment(payment["transaction_id"])
    assert stored.status.value == "CAPTURED" and stored.receipt_number
    assert len(portal.queue_items()) == 1


def test_a_replay_that_still_cannot_apply_is_reported_failed(portal: Portal) -> None:
    raw, headers = signed(
        {
            "event": "payment.captured",
            "payload": {
                "payment": {
                    "entity": {
                        "id": "pay_X",
                        "order_id": "order_X",
                        "amount": 100,
                        "currency": "INR",
                        "status": "captured",
                        "notes": {"payment_id": "pay_bbbbbbbbbbbbbbbbbbbb"},
                    }
                }
            },
        }
    )
    assert portal.post_webhook(raw, headers).body["result"] == "dead_lettered"
    letters = portal.messages("RAZORPAY_WEBHOOK_DLQ_URL")
    forged = [{**letters[0], "MessageId": "m-forged"}]
    body = json.loads(forged[0]["Body"])
    body["raw_body_b64"] = base64.b64encode(raw + b" ").decode()
    forged[0]["Body"] = json.dumps(body)

    ignorable = _letter_of(*signed({"event": "payment.dispute.created", "payload": {}}))

    result = portal.replay([{**letters[0], "MessageId": "m-1"}, *forged, ignorable])

    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {"m-1", "m-forged"}  # still unknown; and a tampered body never verifies
    # A batch with nothing applicable fails whole (SQS hands it back; then the DLQ).
    with pytest.raises(BatchProcessingError):
        portal.replay(forged)


def _letter_of(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    from engine.logic.dead_letters import DeadLetter, kept_headers

    lowered = {k.lower(): v for k, v in headers.items()}
    letter = DeadLetter(raw, kept_headers(lowered.get), "test")
    return {"MessageId": "m-ok", "Body": letter.to_message()}


def test_a_refund_webhook_records_the_refund_once(portal: Portal) -> None:
    payment = created(portal)
    portal.checkout(payment["razorpay_order_id"])
    settled(portal, 3)
    rzp_payment = portal.sim.payments()[0]["id"]
    from tests.integration.engine.razorpay_support import api

    code, _ = api(portal.sim, "POST", f"/v1/payments/{rzp_payment}/refund", {"amount": 50000})
    assert code == 200
    settled(portal, 4)
    partial = portal.payment(payment["payment_id"])
    assert partial.status.value == "CAPTURED"
    assert partial.refunded_amount == Decimal("500.00")
    event = portal.sim.events()[-1]
    again = portal.post_webhook(
        event["body"].encode(),
        {"X-Razorpay-Signature": event["signature"], "x-razorpay-event-id": event["event_id"]},
    )
    assert again.status == 200 and again.body["result"] == "stale"
    api(portal.sim, "POST", f"/v1/payments/{rzp_payment}/refund", {})
    settled(portal, 5)
    full = portal.payment(payment["payment_id"])
    assert full.status.value == "REFUNDED" and full.refunded_amount == Decimal("2500.00")
