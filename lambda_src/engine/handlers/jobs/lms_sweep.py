"""Every minute, in the active Region: post what is due (retries, and items whose poster's
claim ran out; receipts and reversals alike), then publish the queue's depth per queue type
and the age of its oldest live item."""

from __future__ import annotations

from typing import Any

from engine import metrics, telemetry, wiring_lms
from engine.handlers.common import inject_context, logger
from engine.handlers.lms_metrics import publish_counts
from engine.logic.lms_posting import queue_gauges_by_type
from shared import clock

# At most this many items a run; what is left is still due for the next.
SWEEP_LIMIT = 200


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    poster = wiring_lms.poster()
    counts = poster.sweep(SWEEP_LIMIT, lambda: context.get_remaining_time_in_millis() / 1000)
    publish_counts(counts)
    depths, oldest_age = queue_gauges_by_type(poster.store, clock.epoch())
    for queue_type, depth in depths.items():
        telemetry.publish(metrics.QUEUE_DEPTH, depth, queue_type=queue_type)
    telemetry.publish(metrics.LMS_QUEUE_OLDEST_AGE, oldest_age)
    depth = sum(depths.values())
    logger.info(
        "lms sweep",
        extra={"counts": counts, "depth": depth, "depths": depths, "oldest_age": oldest_age},
    )
    return {"counts": counts, "depth": depth, "depths": depths, "oldest_age_seconds": oldest_age}
