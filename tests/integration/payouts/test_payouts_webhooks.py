"""Monoova webhooks: authentication, forward-only transitions, dedupe, DLQ and re-drive."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from local.events import rest_event
from tests.integration.payouts.conftest import WEBHOOK_TOKEN
from tests.support import ApiResponse, Payouts, invoke, wait_for

BODY = {"customer_id": "cust-1", "amount": 100.5, "payout_method": "PayId"}
ROTATED_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_hex(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        .hex()
    )


@pytest.fixture
def hooks(payouts: Payouts, monkeypatch: pytest.MonkeyPatch) -> Payouts:
    """Monoova's key plus a second one, as during a yearly key rotation."""
    from payouts import wiring

    keys = f"{payouts.simulator.public_key_hex},{public_hex(ROTATED_KEY)}"
    monkeypatch.setenv("MONOOVA_WEBHOOK_PUBLIC_KEYS", keys)
    wiring.reset()
    payouts.seed_customer("cust-1")
    return payouts


def send(
    body: dict[str, Any] | bytes,
    *,
    key: rsa.RSAPrivateKey = ROTATED_KEY,
    token: str | None = WEBHOOK_TOKEN,
    webhook_id: str | None = "9001",
    signature: str | None = None,
) -> ApiResponse:
    from payouts.handlers import monoova_webhook

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = token
    if webhook_id is not None:
        headers["Webhookid"] = webhook_id
    if signature is None:
        signature = base64.b64encode(key.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
    headers["Verification-Signature"] = signature
    event = rest_event("POST", "/webhooks/monoova", headers=headers, body=raw.decode())
    return invoke(monoova_webhook.handler, event, "MonoovaWebhook")


def status_event(reference: str, status: str, amount: str = "100.50") -> dict[str, Any]:
    body: dict[str, Any] = {
        "TransactionDate": "2026-11-21T10:00:00",
        "UniqueReference": reference,
        "TransactionId": 4242,
        "Status": status,
        "Amount": Decimal(amount),
        "PayId": "jane@example.com",
        "PayIdType": "Email",
        "AccountName": "Jane Citizen",
    }
    if status == "Rejected":
        body.update(RejectionReasonDescription="ACCOUNT CLOSED", RejectionTransactionId=77)
    return json.loads(json.dumps(body, default=str))


def return_event(reference: str) -> dict[str, Any]:
    return {
        "ReturnDate": "2026-11-22T00:00:00",
        "Amount": 100.5,
        "ReturnReason": "ACCOUNT CLOSED",
        "TransactionDate": "2026-11-21T00:00:00",
        "TransactionId": 4242,
        "UniqueReference": reference,
        "ReturnTransactionId": 4343,
    }


def pending_payout(hooks: Payouts) -> str:
    hooks.simulator.set_webhook_url(None)  # these tests deliver the webhooks themselves
    return hooks.post_payout(BODY).body["transaction_id"]


def history(hooks: Payouts, txn: str) -> list[str]:
    return [h["status"] for h in hooks.payout(txn)["status_history"]]


def test_rejected_webhook_rejects_and_the_stream_restores_the_balance(hooks: Payouts) -> None:
    hooks.simulator.set_mode("reject", count=1)

    txn = hooks.post_payout(BODY).body["transaction_id"]

    wait_for(lambda: hooks.payout(txn)["status"] == "Rejected")
    assert hooks.payout(txn)["status_reason"] == "ACCOUNT CLOSED"
    assert hooks.balance("cust-1") == Decimal("899.50")
    hooks.pump_stream()
    assert hooks.balance("cust-1") == Decimal("1000.00")


def test_return_after_completion_restores_the_balance(hooks: Payouts) -> None:
    hooks.simulator.set_mode("return", count=1)

    txn = hooks.post_payout(BODY).body["transaction_id"]

    wait_for(lambda: hooks.payout(txn)["status"] == "Returned")
    assert history(hooks, txn) == ["Pending", "Completed", "Returned"]
    hooks.pump_stream()
    assert hooks.balance("cust-1") == Decimal("1000.00")


def test_a_replayed_webhook_changes_nothing(hooks: Payouts) -> None:
    txn = pending_payout(hooks)

    first = send(status_event(txn, "Payment Successful"))
    second = send(status_event(txn, "Payment Successful"))

    assert (first.status, first.body["result"]) == (200, "applied")
    assert (second.status, second.body["result"]) == (200, "duplicate")
    assert history(hooks, txn) == ["Pending", "Completed"]


def test_out_of_order_rejection_after_completion_is_ignored(hooks: Payouts) -> None:
    txn = pending_payout(hooks)
    send(status_event(txn, "Payment Successful"), webhook_id="1")

    late = send(status_event(txn, "Rejected"), webhook_id="2")

    assert late.body["result"] == "stale"
    assert hooks.payout(txn)["status"] == "Completed"
    hooks.pump_stream()
    assert hooks.balance("cust-1") == Decimal("899.50")


def test_a_return_that_overtakes_its_success_still_lands(hooks: Payouts) -> None:
    txn = pending_payout(hooks)

    assert send(return_event(txn), webhook_id="5").body["result"] == "applied"
    assert send(status_event(txn, "Payment Successful"), webhook_id="4").body["result"] == "stale"

    assert hooks.payout(txn)["status"] == "Returned"
    hooks.pump_stream()
    assert hooks.balance("cust-1") == Decimal("1000.00")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token": None},
        {"token": "Basic bm9wZTpub3Bl"},
        {"key": OTHER_KEY},
        {"signature": "not base64!"},
        {"signature": ""},
    ],
)
def test_unauthenticated_webhooks_are_401_and_change_nothing(
    hooks: Payouts, kwargs: dict[str, Any]
) -> None:
    txn = pending_payout(hooks)

    response = send(status_event(txn, "Payment Successful"), **kwargs)

    assert response.status == 401
    assert set(response.body) == {"error", "message", "timestamp"}
    assert hooks.payout(txn)["status"] == "Pending"


def test_a_body_changed_after_signing_is_rejected(hooks: Payouts) -> None:
    txn = pending_payout(hooks)
    signed = json.dumps(status_event(txn, "Rejected")).encode()
    signature = base64.b64encode(
        ROTATED_KEY.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    tampered = signed.replace(b"Rejected", b"Payment Successful")

    assert send(tampered, signature=signature).status == 401
    assert hooks.payout(txn)["status"] == "Pending"


def test_webhooks_signed_with_monoovas_current_key_verify(hooks: Payouts) -> None:
    txn = pending_payout(hooks)
    hooks.simulator.set_webhook_url(hooks.webhook_url)

    delivery = hooks.simulator.send_webhook(txn, event="NppPaymentStatus", status="Rejected")

    assert delivery["status_code"] == 200
    assert hooks.payout(txn)["status"] == "Rejected"


def test_unknown_reference_and_amount_mismatch_go_to_the_dlq(hooks: Payouts) -> None:
    txn = pending_payout(hooks)

    unknown = send(status_event("po_doesnotexist", "Payment Successful"), webhook_id="11")
    mismatch = send(status_event(txn, "Payment Successful", amount="999.00"), webhook_id="12")

    assert (unknown.status, unknown.body["result"]) == (200, "dead_lettered")
    assert (mismatch.status, mismatch.body["result"]) == (200, "dead_lettered")
    letters = {m["webhook_id"]: m for m in hooks.dlq_messages()}
    assert letters["11"]["error"] == "needs review: unknown_reference"
    assert letters["12"]["error"] == "needs review: amount_mismatch"
    raw = json.loads(base64.b64decode(letters["12"]["raw_body_b64"]))
    assert raw["UniqueReference"] == txn
    assert hooks.payout(txn)["status"] == "Pending"


def test_unreadable_event_is_dead_lettered(hooks: Payouts) -> None:
    response = send(b"{not json", webhook_id="13")

    assert (response.status, response.body["result"]) == (200, "dead_lettered")
    [letter] = hooks.dlq_messages()
    assert letter["error"].startswith("invalid event")
    assert base64.b64decode(letter["raw_body_b64"]) == b"{not json"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"UniqueReference": "po_x", "Amount": ' + b"9" * 5_000 + b"}",
    ],
    ids=["nested-100k-deep", "integer-5000-digits"],
)
def test_an_unreadable_authenticated_body_is_dead_lettered_not_a_500(
    hooks: Payouts, raw: bytes
) -> None:
    response = send(raw, webhook_id="14")

    assert (response.status, response.body["result"]) == (200, "dead_lettered")
    [letter] = hooks.dlq_messages()
    assert letter["error"].startswith("invalid event")


def test_processing_failure_is_dead_lettered_then_redriven_and_replayed(
    hooks: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.events import LambdaContext
    from payouts.handlers import webhook_replay
    from payouts.logic.webhooks import WebhookProcessor
    from scripts.redrive_webhooks import redrive

    txn = pending_payout(hooks)
    with monkeypatch.context() as patch:
        patch.setattr(WebhookProcessor, "apply", _table_down)
        response = send(status_event(txn, "Payment Successful"), webhook_id="21")
    assert (response.status, response.body["result"]) == (200, "dead_lettered")
    assert hooks.payout(txn)["status"] == "Pending"

    moved = redrive(hooks.client("sqs"), hooks.resources.dlq_url, hooks.resources.replay_queue_url)

    assert moved == 1
    assert hooks.dlq_messages() == []
    sqs = hooks.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=hooks.resources.replay_queue_url, MaxNumberOfMessages=10
    )["Messages"]
    event = {"Records": [_sqs_record(m) for m in messages]}
    result = webhook_replay.handler(event, LambdaContext(function_name="WebhookReplay"))
    assert result == {"batchItemFailures": []}
    assert hooks.payout(txn)["status"] == "Completed"


def test_dlq_send_failure_answers_500_so_monoova_retries(
    hooks: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payouts.logic.webhooks import WebhookProcessor

    txn = pending_payout(hooks)
    monkeypatch.setattr(WebhookProcessor, "apply", _table_down)
    monkeypatch.setenv("WEBHOOK_DLQ_URL", hooks.resources.dlq_url + "-missing")

    response = send(status_event(txn, "Payment Successful"))

    assert response.status == 500
    assert response.body["error"] == "InternalError"


def _table_down(self: object, event: object) -> object:
    from botocore.exceptions import ClientError

    raise ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "TransactWriteItems",
    )


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-southeast-2:000000000000:replay",
        "awsRegion": "ap-southeast-2",
    }
