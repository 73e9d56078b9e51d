"""Idempotency claims in the regional Idempotency table: API keys and webhook event ids.

A claim is a create-only put inside the unit of work it guards, so the claim and the work are
written together or not at all. A key is scoped to the loan it was used for: two customers
who happen to choose the same Idempotency-Key never meet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared import ddb

# How long a claim is kept: longer than any client retries a request, and longer than
# RazorPay retries a webhook (24 hours) or replays one from its dashboard (7 days).
REQUEST_TTL_SECONDS = 7 * 86400
WEBHOOK_TTL_SECONDS = 30 * 86400


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_hash(loan_account_number: str, idempotency_key: str) -> str:
    return _sha256(f"{loan_account_number}\0{idempotency_key}")


def payment_request_id(key_hash_value: str) -> str:
    return "portal-payment#" + key_hash_value


def webhook_event_id(event_id: str) -> str:
    return "razorpay-event#" + event_id


def fingerprint(loan_account_number: str, amount: Decimal) -> str:
    """What makes two create requests "the same body": the loan and the amount in paise
    precision (100, 100.0 and "100.00" are one request)."""
    return _sha256(f"{loan_account_number}\0{amount.quantize(Decimal('0.01'))}")


@dataclass(frozen=True)
class Claim:
    record_id: str
    attributes: dict[str, Any]

    def op(self, table: str) -> dict[str, Any]:
        """A create-only put; on a failed condition the existing claim comes back with the
        cancellation, so a duplicate learns the first request's facts without a read."""
        return {
            "Put": {
                "TableName": table,
                "Item": ddb.to_item({"id": self.record_id, **self.attributes}),
                "ConditionExpression": "attribute_not_exists(id)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }


def request_claim(key_hash_value: str, body_fingerprint: str, payment_id: str, now: int) -> Claim:
    return Claim(
        payment_request_id(key_hash_value),
        {
            "kind": "create_payment",
            "fingerprint": body_fingerprint,
            "payment_id": payment_id,
            "expires_at": now + REQUEST_TTL_SECONDS,
        },
    )


def webhook_claim(event_id: str, payment_id: str, now: int) -> Claim:
    return Claim(
        webhook_event_id(event_id),
        {
            "kind": "razorpay_webhook",
            "payment_id": payment_id,
            "expires_at": now + WEBHOOK_TTL_SECONDS,
        },
    )


class IdempotencyStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def get(self, record_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item({"id": record_id}), ConsistentRead=True
        )
        return ddb.from_item(response.get("Item"))
