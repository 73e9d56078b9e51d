"""The internal API's LMS-posting shapes: manual intervention on outbox items.

Requests are `Shape`s (one declaration for the gateway model, the OpenAPI schema and the
parser); the answer's view of an item carries no customer PII (the queued payload has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.models.collections import Choice
from engine.models.posting import QueueItem
from engine.models.shapes import Field, Shape, Text

LMS_RECEIPT_ID = r"LMSR[0-9]{10}"
# Printable text: what a person writes in a form, control characters refused.
REASON = Text(r"[^\x00-\x1f\x7f]{3,200}", "3 to 200 characters, no control characters", "LMS fixed")
LIST_LIMIT_MAX = 100
# The outbox's kinds of item (engine.dal.ddb.queue LMS_QUEUE_TYPES, which a test holds this
# to): a receipt's posting, and a cancelled receipt's reversal.
QUEUE_TYPES = ("LMS_RECEIPT", "LMS_CANCEL")
QUEUE_TYPE = Choice(
    QUEUE_TYPES,
    "which of the transaction's items: the receipt's posting (the default) or its reversal",
    "LMS_RECEIPT",
)


@dataclass(frozen=True)
class RetryPostingRequest:
    reason: str
    queue_type: str | None = None

    @property
    def item_type(self) -> str:
        return self.queue_type or QUEUE_TYPES[0]


@dataclass(frozen=True)
class ResolvePostingRequest:
    reason: str
    lms_receipt_id: str | None = None
    queue_type: str | None = None

    @property
    def item_type(self) -> str:
        return self.queue_type or QUEUE_TYPES[0]


RETRY_POSTING = Shape(
    "RetryPostingRequest",
    (Field("reason", REASON), Field("queue_type", QUEUE_TYPE, required=False)),
    RetryPostingRequest,
    description="Why the item is being tried again (kept in the audit record).",
)
RESOLVE_POSTING = Shape(
    "ResolvePostingRequest",
    (
        Field("reason", REASON),
        Field(
            "lms_receipt_id",
            Text(LMS_RECEIPT_ID, "the LMS's receipt id, when it was found there", "LMSR0000000001"),
            required=False,
        ),
        Field("queue_type", QUEUE_TYPE, required=False),
    ),
    ResolvePostingRequest,
    description="Settles an EXCEPTION item outside the poster; with lms_receipt_id the "
    "transaction is marked posted with it (a reversal: marked lms_cancelled_at).",
)
REQUESTS = (RETRY_POSTING, RESOLVE_POSTING)


def posting_view(item: QueueItem) -> dict[str, Any]:
    """Any kind of item: a reversal's payload has no loan, branch or amount (None here), and
    `queue_type` tells it from the receipt (the retry and resolve routes take it too)."""
    p = item.payload
    return {
        "transaction_id": item.transaction_id,
        "queue_type": item.queue_type,
        "status": item.status.value,
        "attempts": item.attempts,
        "in_doubt": item.in_doubt,
        "loan_account_number": p.get("loan_account_number"),
        "branch_code": p.get("branch_code"),
        "receipt_number": p.get("receipt_number"),
        "amount": p.get("amount"),
        "created_at": item.created_at,
        "next_attempt_at": item.retry_timestamp,
        "last_error": item.last_error,
        "lms_receipt_id": item.lms_receipt_id,
        "exception_at": item.exception_at,
        "resolution": item.resolution,
    }
