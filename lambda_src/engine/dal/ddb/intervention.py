"""What staff do to outbox items by hand: list them, retry one now, mark one resolved.

Each action and its audit record (the head office's hash chain of the day in the Audit
table, engine.dal.ddb.audit: who, when, what, why, the status before and after) are written
in one transaction, so no action goes unrecorded and no record claims an action that did not
happen. Only an item in EXCEPTION can be acted on: a live one is the poster's, a final one
is done. An action names the kind of item (a receipt's posting or its reversal, one of each
per transaction at most) and acts on that one alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.dal.ddb.audit import AuditLog
from engine.dal.ddb.posting import RETENTION_SECONDS
from engine.dal.ddb.queue import LMS_CANCEL, LMS_RECEIPT, lms_cancel_queue_id, lms_queue_id
from engine.models.audit import Actor, AuditEntry
from engine.models.posting import QueueItem
from engine.models.status import PostingStatus, posting_allowed_from
from shared import cursors, ddb
from shared.ddb_writes import Cancelled
from shared.store_errors import ConditionFailed

__all__ = ["Action", "Actor", "InterventionStore", "NotActionable", "Page"]

P = PostingStatus
STATUS_INDEX = "StatusIndex"
_PAGE_KEYS = ("queue_id", "status", "created_at")
_QUEUE_IDS = {LMS_RECEIPT: lms_queue_id, LMS_CANCEL: lms_cancel_queue_id}


class NotActionable(ConditionFailed):
    """The item is not in EXCEPTION (or does not exist): nothing was changed."""


@dataclass(frozen=True)
class Action:
    """One person's action on one transaction's posting, and why."""

    transaction_id: str
    actor: Actor
    reason: str
    at: str  # ISO-8601 UTC
    now: int  # the same moment, epoch seconds
    queue_type: str = LMS_RECEIPT  # which of the transaction's items

    def __post_init__(self) -> None:
        if self.queue_type not in _QUEUE_IDS:
            raise ValueError(f"no intervention on {self.queue_type} items")

    @property
    def queue_id(self) -> str:
        return _QUEUE_IDS[self.queue_type](self.transaction_id)


@dataclass(frozen=True)
class Page:
    items: list[QueueItem]
    cursor: str | None


class InterventionStore:
    def __init__(
        self,
        client: Any,
        table: str,
        transactions_table: str,
        audit_log: AuditLog,
    ) -> None:
        self.client = client
        self.table = table
        self.transactions_table = transactions_table
        self.audit_log = audit_log

    def in_status(
        self,
        status: PostingStatus,
        limit: int,
        cursor: str | None = None,
        loan_account_number: str | None = None,
    ) -> Page:
        """Items in `status`, oldest first; a loan filter reads the same pages (fewer may come
        back than `limit`, and the cursor goes on from where the read stopped). A reversal's
        payload names no loan, so the loan filter leaves reversals out: finding their loan
        would take a read of each transaction, which this store has no grant for."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": ddb.values({":s": status.value}),
            "Limit": limit,
        }
        if loan_account_number:
            request["FilterExpression"] = "payload.loan_account_number = :loan"
            request["ExpressionAttributeValues"] |= ddb.values({":loan": loan_account_number})
        if cursor:
            start = cursors.decode(cursor, _PAGE_KEYS, ("status", status.value), "status")
            request["ExclusiveStartKey"] = ddb.to_item(start)
        response = self.client.query(**request)
        items = [QueueItem.from_item(ddb.from_item(i) or {}) for i in response.get("Items", [])]
        last = ddb.from_item(response.get("LastEvaluatedKey"))
        return Page(items, cursors.encode(last, _PAGE_KEYS) if last else None)

    def retry_now(self, action: Action) -> None:
        """EXCEPTION -> PENDING, due now (the stream hands it to the poster at once), with a
        fresh count of attempts. Whether an earlier attempt is unaccounted for (`in_doubt`)
        is kept: the poster asks the LMS first."""
        self._act(
            action,
            P.PENDING,
            "SET retry_timestamp = :now, attempts = :zero, #s = :to ADD manual_retries :one",
            {":now": action.now, ":zero": 0, ":one": 1},
            kind="LMS_RETRY",
        )

    def resolve(self, action: Action, lms_receipt_id: str | None = None) -> None:
        """EXCEPTION -> RESOLVED (final). With `lms_receipt_id` (the person found the receipt,
        or its reversal, at the LMS) the item keeps it, and the transaction is marked as the
        poster would: posted with it, or for a reversal `lms_cancelled_at`."""
        sets = "SET #s = :to, resolution = :why, resolved_at = :at, #ttl = :ttl"
        values: dict[str, Any] = {
            ":why": action.reason,
            ":at": action.at,
            ":ttl": action.now + RETENTION_SECONDS,
        }
        extra = []
        if lms_receipt_id:
            sets += ", lms_receipt_id = :rid"
            values[":rid"] = lms_receipt_id
            extra.append(self._transaction_op(action, lms_receipt_id))
        self._act(
            action,
            P.RESOLVED,
            sets,
            values,
            kind="LMS_RESOLVE",
            extra=extra,
            names={"#ttl": "ttl"},
            noted={"lms_receipt_id": lms_receipt_id} if lms_receipt_id else None,
        )

    # ------------------------------------------------------------------ helpers

    def _act(
        self,
        action: Action,
        target: PostingStatus,
        expression: str,  # the whole UpdateExpression; it must set #s = :to
        values: dict[str, Any],
        *,
        kind: str,
        extra: list[dict[str, Any]] | None = None,
        names: dict[str, str] | None = None,
        noted: dict[str, Any] | None = None,  # more for the audit record's details
    ) -> None:
        if P.EXCEPTION not in posting_allowed_from(target):
            raise ValueError(f"EXCEPTION -> {target} is not a declared transition")
        update = {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item({"queue_id": action.queue_id}),
                "UpdateExpression": expression,
                "ConditionExpression": "#s = :exception",
                "ExpressionAttributeNames": {"#s": "status"} | (names or {}),
                "ExpressionAttributeValues": ddb.values(
                    values | {":to": target.value, ":exception": P.EXCEPTION.value}
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        entry = self._entry(action, kind, target, noted or {})
        try:
            self.audit_log.transact(entry, [update, *(extra or [])])
        except Cancelled as cancelled:
            if 0 in cancelled.failed:
                current = cancelled.items[0]
                status = current.get("status") if current else "missing"
                raise NotActionable(f"the item is {status}, not EXCEPTION", current) from None
            raise

    def _transaction_op(self, action: Action, receipt_id: str) -> dict[str, Any]:
        # The poster's marks (engine.dal.ddb.posting `posted`, `reversed`), each a new version.
        # A reversal's LMS id stays on its item: the transaction's is the receipt's.
        if action.queue_type == LMS_CANCEL:
            sets, values = "SET lms_cancelled_at = :at", {":at": action.at}
        else:
            sets = "SET lms_receipt_id = :rid, lms_posted_at = :at"
            values = {":rid": receipt_id, ":at": action.at}
        return {
            "Update": {
                "TableName": self.transactions_table,
                "Key": ddb.to_item({"transaction_id": action.transaction_id}),
                "UpdateExpression": f"{sets} ADD version :one",
                "ConditionExpression": "attribute_exists(transaction_id)",
                "ExpressionAttributeValues": ddb.values(values | {":one": 1}),
            }
        }

    def _entry(
        self, action: Action, kind: str, target: PostingStatus, noted: dict[str, Any]
    ) -> AuditEntry:
        details: dict[str, Any] = {
            "transaction_id": action.transaction_id,
            "queue_type": action.queue_type,
            "reason": action.reason,
            "status_before": P.EXCEPTION.value,
            "status_after": target.value,
        } | noted
        # The outbox belongs to no branch: the head office's chain.
        return AuditEntry.by(
            action.actor,
            kind,
            "LMS_POSTING",
            action.queue_id,
            at=action.at,
            details=details,
        )
