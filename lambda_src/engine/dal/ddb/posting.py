"""The posters' side of the TransactionQueue: find due items, claim one, settle the claim.

An item is live (PENDING or IN_FLIGHT) while it has a `retry_timestamp`, and only live items
are in the sparse RetryIndex: when the item is due, or, while claimed, when its lease runs
out. A claim is one conditional UpdateItem, so two posters never hold the same item; a
poster that dies leaves an IN_FLIGHT item whose lease ends, and the next sweep claims it.
Every claim sets `in_doubt` before the call goes out; only a definite answer clears it.

Settling a claim is conditional on still holding it (IN_FLIGHT with the attempt number we
claimed): a poster whose lease ran out while it waited cannot overwrite the next claimer's
outcome. Posted, the item and its transaction are marked in one transaction; so is a
reversal (an LMS_CANCEL item), whose transaction gets `lms_cancelled_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from engine.dal.ddb.queue import LMS_QUEUE_TYPES, LMS_RECEIPT, lms_queue_id
from engine.models.posting import QueueItem
from engine.models.status import PostingStatus, posting_allowed_from
from shared import ddb, ddb_writes
from shared.ddb_writes import DEFAULT_RETRY, Cancelled, Retry
from shared.store_errors import ConditionFailed

P = PostingStatus
RETRY_INDEX = "RetryIndex"
# A posted or resolved item stays readable this long (the manual routes, an audit), then
# DynamoDB's TTL removes it.
RETENTION_SECONDS = 30 * 86400


class ClaimLost(ConditionFailed):
    """The item is no longer ours: its lease ran out and another poster claimed or settled it."""


class PostingStore:
    def __init__(
        self,
        client: Any,
        table: str,
        transactions_table: str,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.client = client
        self.table = table
        self.transactions_table = transactions_table
        self.retry = retry

    # ------------------------------------------------------------------ reading

    def due(
        self, now: int, limit: int, queue_types: Iterable[str] = LMS_QUEUE_TYPES
    ) -> list[QueueItem]:
        """Live items of `queue_types` due by `now`, the longest-waiting first (at most
        `limit`; at a tie, in the order of `queue_types`, so a receipt goes before the
        reversal of it that was due at the same second)."""
        items: list[QueueItem] = []
        for queue_type in queue_types:
            items += self._due_of(queue_type, now, limit)
        items.sort(key=lambda item: item.retry_timestamp or 0)  # stable: the tie order holds
        return items[:limit]

    def _due_of(self, queue_type: str, now: int, limit: int) -> list[QueueItem]:
        items: list[QueueItem] = []
        for page in self._pages(queue_type, now, limit):
            items += [QueueItem.from_item(ddb.from_item(i) or {}) for i in page]
            if len(items) >= limit:
                break
        return items[:limit]

    def live_summary(self, queue_type: str = LMS_RECEIPT) -> tuple[int, str | None]:
        """How many items are live (due now or later, or claimed), and when the oldest of
        them was queued (None when there are none): one pass over the sparse index."""
        total, oldest = 0, None
        start: dict[str, Any] | None = None
        while True:
            request = self._index_query(queue_type, None) | {"ProjectionExpression": "created_at"}
            if start:
                request["ExclusiveStartKey"] = start
            response = self.client.query(**request)
            for raw in response.get("Items", []):
                total += 1
                created = (ddb.from_item(raw) or {}).get("created_at")
                if isinstance(created, str) and (oldest is None or created < oldest):
                    oldest = created
            start = response.get("LastEvaluatedKey")
            if not start:
                return total, oldest

    def get(self, queue_id: str) -> QueueItem | None:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item({"queue_id": queue_id}), ConsistentRead=True
        )
        item = ddb.from_item(response.get("Item"))
        return QueueItem.from_item(item) if item else None

    def _pages(self, queue_type: str, now: int, limit: int) -> Iterator[list[dict[str, Any]]]:
        start: dict[str, Any] | None = None
        while True:
            request = self._index_query(queue_type, now) | {"Limit": min(limit, 100)}
            if start:
                request["ExclusiveStartKey"] = start
            response = self.client.query(**request)
            yield response.get("Items", [])
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def _index_query(self, queue_type: str, now: int | None) -> dict[str, Any]:
        condition = "queue_type = :type"
        values: dict[str, Any] = {":type": queue_type}
        if now is not None:
            condition += " AND retry_timestamp <= :now"
            values[":now"] = now
        return {
            "TableName": self.table,
            "IndexName": RETRY_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": ddb.values(values),
        }

    # ------------------------------------------------------------------ claiming

    def claim(self, queue_id: str, now: int, lease_seconds: int, at: str) -> QueueItem | None:
        """Claims the item (IN_FLIGHT and ours until `now + lease_seconds`, one more attempt,
        in doubt) and answers it as it was *before* the claim, whose `in_doubt` says whether an
        earlier attempt is unaccounted for; None when it is not due, claimed under a live
        lease, or no longer live. Raises Conflict when the write stayed throttled (the item
        stays as it was: a later sweep takes it)."""
        sources = posting_allowed_from(P.IN_FLIGHT)
        try:
            attributes = ddb_writes.update(
                self.client,
                {
                    "TableName": self.table,
                    "Key": ddb.to_item({"queue_id": queue_id}),
                    "UpdateExpression": (
                        "SET #s = :flight, retry_timestamp = :lease, claimed_at = :at, "
                        "in_doubt = :yes ADD attempts :one"
                    ),
                    "ConditionExpression": (
                        "retry_timestamp <= :now AND #s IN (" + _in(sources, "src") + ")"
                    ),
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": ddb.values(
                        {
                            ":flight": P.IN_FLIGHT.value,
                            ":lease": now + lease_seconds,
                            ":at": at,
                            ":yes": True,
                            ":one": 1,
                            ":now": now,
                        }
                        | _values(sources, "src")
                    ),
                    "ReturnValues": "ALL_OLD",
                },
                self.retry,
            )
        except ConditionFailed:
            return None
        return QueueItem.from_item(attributes or {})

    # ------------------------------------------------------------------ settling a claim

    def posted(self, item: QueueItem, lms_receipt_id: str, at: str, now: int) -> None:
        """POSTED, and the transaction marked with the LMS receipt id, together."""
        values = {":rid": lms_receipt_id, ":at": at}
        self._posted_with_transaction(
            item,
            now,
            ("SET lms_receipt_id = :rid, posted_at = :at", values),
            ("SET lms_receipt_id = :rid, lms_posted_at = :at", values),
        )

    def reversed(
        self, item: QueueItem, lms_receipt_id: str, lms_cancelled_at: str, at: str, now: int
    ) -> None:
        """A reversal POSTED (the LMS's receipt id and its own `cancelled_at` on the item),
        and its transaction marked `lms_cancelled_at` (when we learnt it, as `lms_posted_at`
        is), together."""
        self._posted_with_transaction(
            item,
            now,
            (
                "SET lms_receipt_id = :rid, cancelled_at = :cat, posted_at = :at",
                {":rid": lms_receipt_id, ":cat": lms_cancelled_at, ":at": at},
            ),
            ("SET lms_cancelled_at = :at", {":at": at}),
        )

    def _posted_with_transaction(
        self,
        item: QueueItem,
        now: int,
        queue_set: tuple[str, dict[str, Any]],
        transaction_set: tuple[str, dict[str, Any]],
    ) -> None:
        """The item POSTED and out of the index, and its transaction's facts, in one write."""
        queue = self._settle_op(
            item,
            P.POSTED,
            f"{queue_set[0]}, in_doubt = :no, #ttl = :ttl REMOVE retry_timestamp",
            queue_set[1] | {":no": False, ":ttl": now + RETENTION_SECONDS},
            {"#ttl": "ttl"},
        )
        transaction = {
            "Update": {
                "TableName": self.transactions_table,
                "Key": ddb.to_item({"transaction_id": item.transaction_id}),
                # A new version, so the stream sync and the repair job carry the posting
                # facts to PostgreSQL like any other change (the loan sync relies on them).
                "UpdateExpression": f"{transaction_set[0]} ADD version :one",
                "ConditionExpression": "attribute_exists(transaction_id)",
                "ExpressionAttributeValues": ddb.values(transaction_set[1] | {":one": 1}),
            }
        }
        try:
            ddb_writes.transact(self.client, [queue, transaction], self.retry)
        except Cancelled as cancelled:
            if 0 in cancelled.failed:
                raise ClaimLost("the claim ran out first", cancelled.items[0]) from cancelled
            raise

    def note_reversal(self, transaction_id: str, at: str) -> None:
        """Marks the transaction's receipt item `reversal_requested_at`, whatever its state
        (the poster's settling conditions do not look at it); nothing when the item has
        expired, long settled. Raises Conflict when the write stayed throttled."""
        try:
            ddb_writes.update(
                self.client,
                {
                    "TableName": self.table,
                    "Key": ddb.to_item({"queue_id": lms_queue_id(transaction_id)}),
                    "UpdateExpression": "SET reversal_requested_at = :at",
                    "ConditionExpression": "attribute_exists(queue_id)",
                    "ExpressionAttributeValues": ddb.values({":at": at}),
                },
                self.retry,
            )
        except ConditionFailed:
            return

    def reschedule(self, item: QueueItem, due: int, error: str, in_doubt: bool) -> None:
        """Back to PENDING, due at `due`; `in_doubt` stays set when the attempt's outcome is
        unknown (a timeout, a lost answer), so the next claimer asks before posting."""
        self._settle(
            item,
            P.PENDING,
            "SET retry_timestamp = :due, last_error = :err, in_doubt = :doubt",
            {":due": due, ":err": error[:500], ":doubt": in_doubt},
        )

    def to_exception(self, item: QueueItem, reason: str, at: str, in_doubt: bool) -> None:
        """EXCEPTION: out of the poster's hands until a person retries or resolves it."""
        self._settle(
            item,
            P.EXCEPTION,
            "SET last_error = :err, exception_at = :at, in_doubt = :doubt REMOVE retry_timestamp",
            {":err": reason[:500], ":at": at, ":doubt": in_doubt},
        )

    def _settle(
        self,
        item: QueueItem,
        target: PostingStatus,
        expression: str,
        values: dict[str, Any],
    ) -> None:
        request = self._settle_op(item, target, expression, values)["Update"]
        try:
            ddb_writes.update(self.client, request, self.retry)
        except ConditionFailed as failed:
            raise ClaimLost("the claim ran out first", failed.current) from failed

    def _settle_op(
        self,
        item: QueueItem,
        target: PostingStatus,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if P.IN_FLIGHT not in posting_allowed_from(target):
            raise ValueError(f"IN_FLIGHT -> {target} is not a declared transition")
        set_part, _, remove_part = expression.partition(" REMOVE ")
        update = f"{set_part}, #s = :to"
        if remove_part:
            update += f" REMOVE {remove_part}"
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item({"queue_id": item.queue_id}),
                "UpdateExpression": update,
                "ConditionExpression": "#s = :flight AND attempts = :n",
                "ExpressionAttributeNames": {"#s": "status"} | (names or {}),
                "ExpressionAttributeValues": ddb.values(
                    values
                    | {":to": target.value, ":flight": P.IN_FLIGHT.value, ":n": item.attempts}
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }


def _in(states: frozenset[PostingStatus], prefix: str) -> str:
    return ", ".join(f":{prefix}{i}" for i in range(len(states)))


def _values(states: frozenset[PostingStatus], prefix: str) -> dict[str, Any]:
    return {f":{prefix}{i}": s.value for i, s in enumerate(sorted(states))}
