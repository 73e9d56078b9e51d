"""An outbox item of the TransactionQueue as the posters see it: an LMS receipt to post
(LMS_RECEIPT: its payload the receipt as issued) or a cancelled receipt's reversal
(LMS_CANCEL: its payload the receipt number, the reason and when we cancelled it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.models.status import PostingStatus


@dataclass(frozen=True)
class QueueItem:
    queue_id: str
    queue_type: str
    transaction_id: str
    status: PostingStatus
    attempts: int
    created_at: str
    payload: dict[str, Any] = field(default_factory=dict)
    # When it is next due (PENDING) or when its claim runs out (IN_FLIGHT); absent once the
    # item has left the poster's hands, which takes it out of the RetryIndex.
    retry_timestamp: int | None = None
    # An attempt went out whose outcome nobody has learnt: ask before posting again.
    in_doubt: bool = False
    last_error: str | None = None
    lms_receipt_id: str | None = None
    posted_at: str | None = None
    # A reversal's: when the LMS cancelled the receipt, as the LMS wrote it.
    cancelled_at: str | None = None
    # A receipt's: when its reversal was about to be asked of the LMS (so finding the
    # receipt cancelled there is our own doing).
    reversal_requested_at: str | None = None
    exception_at: str | None = None
    resolution: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> QueueItem:
        known = {name: item[name] for name in cls.__dataclass_fields__ if name in item}
        known["status"] = PostingStatus(item["status"])
        known["attempts"] = int(item.get("attempts", 0))
        if item.get("retry_timestamp") is not None:
            known["retry_timestamp"] = int(item["retry_timestamp"])
        known["in_doubt"] = bool(item.get("in_doubt", False))
        known["payload"] = dict(item.get("payload") or {})
        return cls(**known)

    @property
    def reference(self) -> str:
        """The LMS's idempotency reference: our receipt number."""
        return str(self.payload["receipt_number"])
