"""A staff collection's DynamoDB side: its Transactions item and LMS posting, written after
PostgreSQL's ledger has it, and its cancellation; each one transaction with its audit record.

* `record`: the CAPTURED Transactions item (create-only), the LMS receipt posting
  (engine.dal.ddb.queue) and, for an EMI, the loan's captured counter (what is payable before
  the stream syncs it), with the COLLECTION_CREATED audit record (engine.dal.ddb.audit).
* `record_cancel`: the item CAPTURED -> CANCELLED, the LMS reversal posting, the counter
  lowered again for an EMI, with the COLLECTION_CANCELLED record.

Both may be repeated (a retried request, the repair job, both at once): the transaction's
first item is conditional, so a repeat finds it done, writes nothing, and the first write's
audit record stays the only one. Raises `Conflict` (shared.store_errors) when still busy and
`RecordingFailed` when DynamoDB could not be reached or refused the request: either way the
collection is in PostgreSQL already, and the write is to be made again.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from engine.dal.ddb.counters import CounterStore
from engine.dal.ddb.queue import QueueStore
from engine.models.audit import AuditEntry, AuditRecord
from engine.models.collections import EMI, Collection
from engine.models.status import PaymentStatus, allowed_from
from shared import clock, ddb
from shared.ddb_writes import Cancelled
from shared.store_errors import Unavailable

logger = logging.getLogger(__name__)


class RecordingFailed(Unavailable):
    """DynamoDB did not take the write (unreachable, or an error that is not a condition)."""


class AuditTrail(Protocol):
    def transact(self, entry: AuditEntry, items: list[dict[str, Any]]) -> AuditRecord: ...


class CollectionRecords:
    def __init__(
        self,
        client: Any,
        table: str,
        *,
        counters: CounterStore,
        queue: QueueStore,
        audit: AuditTrail,
    ) -> None:
        self.client = client
        self.table = table
        self.counters = counters
        self.queue = queue
        self.audit = audit

    def record(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        """The collection's capture in DynamoDB; False when it was there already."""
        payment = collection.payment()
        item = payment.to_item() | {
            "purpose": collection.purpose,
            "collection_id": collection.collection_id,
        }
        receipt = self.queue.lms_receipt_op(payment, now_epoch)
        # The LMS posting says what the money pays (a fee is not an instalment).
        payload = receipt["Put"]["Item"]["payload"]["M"]
        payload["purpose"] = ddb.to_value(collection.purpose)
        if collection.instrument:  # a cheque's or draft's number, for the LMS's receipt
            payload["instrument_number"] = ddb.to_value(str(collection.instrument["number"]))
        items = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": ddb.to_item(item),
                    "ConditionExpression": "attribute_not_exists(transaction_id)",
                }
            },
            receipt,
        ]
        if collection.purpose == EMI:
            items.append(
                self.counters.add_captured_op(
                    collection.loan_account_number, collection.amount, payment.captured_at or ""
                )
            )
        return self._write(entry, items)

    def record_cancel(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        """The collection's cancellation in DynamoDB; False when it was there already."""
        if collection.cancelled_at is None or collection.cancellation_reason is None:
            raise ValueError("only a cancelled collection's cancellation is recorded")
        at = clock.iso(collection.cancelled_at)
        (source,) = allowed_from(PaymentStatus.CANCELLED)
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": ddb.to_item({"transaction_id": collection.transaction_id}),
                    "UpdateExpression": "SET #s = :to, updated_at = :at, cancelled_at = :at "
                    "ADD version :one",
                    "ConditionExpression": "#s = :from",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": ddb.values(
                        {
                            ":to": PaymentStatus.CANCELLED.value,
                            ":from": source.value,
                            ":at": at,
                            ":one": 1,
                        }
                    ),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            self.queue.lms_cancel_op(
                collection.transaction_id,
                collection.receipt_number,
                collection.cancellation_reason,
                at,
                now_epoch,
                collection.loan_account_number,
            ),
        ]
        if collection.purpose == EMI:
            items.append(
                self.counters.add_captured_op(
                    collection.loan_account_number, -collection.amount, at
                )
            )
        return self._write(entry, items)

    def _write(self, entry: AuditEntry, items: list[dict[str, Any]]) -> bool:
        try:
            self.audit.transact(entry, items)
        except Cancelled as cancelled:
            if cancelled.failed == (0,) and _done(items[0], cancelled.items[0]):
                return False
            raise
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            logger.error("collection not written to DynamoDB", extra={"error_code": code})
            raise RecordingFailed(f"DynamoDB refused the write: {code}") from exc
        except BotoCoreError as exc:
            raise RecordingFailed(f"DynamoDB unreachable: {type(exc).__name__}") from exc
        return True


def _done(first: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether the failed first item is this very write, made before: the item exists (a
    capture), or stands CANCELLED (a cancellation)."""
    if "Put" in first:
        return True  # attribute_not_exists failed: the item is there
    return current is not None and current.get("status") == PaymentStatus.CANCELLED.value
