"""Scheduled: re-sync the recent Transactions PostgreSQL is missing or holds stale.

The window is the last WINDOW_HOURS of created payments (the schedule's default, three times
the stream's 24-hour retention); an invocation may ask for another with
`{"window_hours": N}` (at most MAX_WINDOW_HOURS), e.g. after an outage longer than that.
A run that nears its timeout stops between pages and says so (`complete: false`); the next
run starts over, and what this one repaired stays repaired.

TransactionsSyncDLQ is not read here: it holds stream positions, not items, and the table
already says what each payment is now. Its messages say when a batch was lost; one whose
payments were created before the window (a late refund of an old payment) is repaired by a
run with a window reaching back to them.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from engine import metrics, settings, telemetry, wiring
from engine.dal.ddb import recent_transactions
from engine.dal.pg.payments import stored_versions
from engine.handlers.common import inject_context, logger
from engine.handlers.consumers.transactions_stream import syncer
from engine.logic.repair import SETTLE_SECONDS, Repairer, Window
from shared import clock

WINDOW_HOURS = 72
MAX_WINDOW_HOURS = 24 * 90


@cache
def repairer() -> Repairer:
    table = settings.require("TRANSACTIONS_TABLE", settings.get().transactions_table)
    client = wiring.dynamodb()

    def pages(status: str, since: str, until: str) -> Any:
        return recent_transactions.created_between(client, table, status, since, until)

    def versions(ids: Any) -> dict[str, int]:
        return wiring.database().run(lambda cur: stored_versions(cur, ids))

    return Repairer(pages, versions, syncer())


def window(event: dict[str, Any]) -> Window:
    hours = event.get("window_hours", WINDOW_HOURS) if isinstance(event, dict) else WINDOW_HOURS
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_WINDOW_HOURS:
        raise ValueError(f"window_hours must be an integer from 1 to {MAX_WINDOW_HOURS}")
    now = clock.now()
    return Window(
        since=clock.iso(now - timedelta(hours=hours)),
        until=clock.iso(now),
        settled_before=clock.iso(now - timedelta(seconds=SETTLE_SECONDS)),
    )


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    span = window(event)
    report = repairer().run(span, lambda: context.get_remaining_time_in_millis() / 1000)
    # Published on every run, zeros included: the alarm reads a steady series.
    telemetry.publish(metrics.TRANSACTIONS_REPAIRED, report.repaired)
    if report.failed:
        telemetry.publish(metrics.STREAM_SYNC_FAILED_RECORDS, len(report.failed))
    summary = {
        "since": span.since,
        "examined": report.examined,
        "repaired": report.repaired,
        "failed": report.failed,
        "complete": report.complete,
    }
    logger.info("transactions repair finished", extra=summary)
    return summary
