"""What a poster's run counted, published as the LMS metrics (engine.metrics).

Reversals (`cancelled`, `cancelled_resolved`) are not receipts posted, so they stay out of
lms_receipts_posted (the run's log line has them); an item of either kind moved to EXCEPTION
counts in lms_posting_exceptions, as either waits for a person.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine import metrics, telemetry

POSTED = ("posted", "posted_repeat", "posted_resolved")


def publish_counts(counts: Mapping[str, int]) -> None:
    posted = sum(counts.get(name, 0) for name in POSTED)
    if posted:
        telemetry.publish(metrics.LMS_RECEIPTS_POSTED, posted)
    if counts.get("exception"):
        telemetry.publish(metrics.LMS_POSTING_EXCEPTIONS, counts["exception"])
    if counts.get("breaker_opened"):
        telemetry.publish(metrics.LMS_CIRCUIT_OPENED, counts["breaker_opened"])
