"""The TransactionQueue stream -> the LMS poster (engine.logic.lms_posting), item by item.

Only records whose new image is an LMS item due now are taken: a capture's new receipt, a
cancellation's new reversal, or a person's "retry now". The poster's own writes (claims,
reschedules, posted marks) come back on the stream too and are passed over. No record is ever
reported failed for the LMS's sake: an item that cannot be posted now is rescheduled in the
table, and one left behind by a store error is still due, so the next sweep takes it. An
exception here is a bug: the mapping retries the batch, then records its position in
LmsPosterDLQ.
"""

from __future__ import annotations

from typing import Any

from engine import wiring_lms
from engine.dal.ddb.queue import LMS_QUEUE_TYPES
from engine.handlers.common import inject_context, logger
from engine.handlers.lms_metrics import publish_counts
from engine.models.status import PostingStatus
from shared import clock, ddb
from shared.store_errors import StoreError


def due_queue_ids(records: list[dict[str, Any]], now: float) -> list[str]:
    ids = []
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        image = ddb.from_item((record.get("dynamodb") or {}).get("NewImage")) or {}
        due = image.get("retry_timestamp")
        if (
            image.get("queue_type") in LMS_QUEUE_TYPES
            and image.get("status") == PostingStatus.PENDING.value
            and due is not None
            and due <= now
            and isinstance(image.get("queue_id"), str)
        ):
            ids.append(image["queue_id"])
    return ids


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    ids = due_queue_ids(records, clock.epoch())
    counts: dict[str, int] = {}
    if ids:
        try:
            counts = wiring_lms.poster().post(
                ids, lambda: context.get_remaining_time_in_millis() / 1000
            )
        except StoreError as exc:  # the breaker's state unreadable: the sweep takes them
            logger.warning("lms posting deferred", extra={"error": type(exc).__name__})
            counts = {"deferred": len(ids)}
        publish_counts(counts)
    logger.info("lms stream batch", extra={"records": len(records), "due": len(ids), **counts})
    return {"batchItemFailures": []}
