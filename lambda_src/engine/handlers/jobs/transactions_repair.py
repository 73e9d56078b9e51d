"""Scheduled: re-sync the recent Transactions PostgreSQL is missing or holds stale.

The window is the last WINDOW_HOURS of created payments (the schedule's default, three times
the stream's 24-hour retention); an invocation may ask for another with
`{"window_hours": N}` (at most MAX_WINDOW_HOURS), e.g. after an outage longer than that.
A run that nears its timeout stops between pages and says so (`complete: false`); the next
run starts over, and what this one repaired stays repaired.

First it drains TransactionsSyncDLQ (TRANSACTIONS_SYNC_DLQ_URL): each message names a lost
batch's stream positions, read back from the stream (24 hours) to re-sync exactly those
transactions, however old; then it compares the window. Without the queue's URL (a
deployment that has no DLQ) only the window is compared.

Last, staff collections PostgreSQL recorded whose DynamoDB side (Transactions item, LMS
posting, audit record) never followed, because the request failed after the commit and the
field app did not send it again, are completed (engine.logic.collections), and so are their
cancellations: the stream then syncs them like any other. So are the audit records of DCR
steps whose own request failed after its commit (engine.logic.dcr `settle_owed`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import Any

from botocore.config import Config

from engine import metrics, settings, telemetry, wiring, wiring_collections, wiring_dcr
from engine.dal.ddb import recent_transactions
from engine.dal.ddb.sync_dead_letters import SyncDeadLetters
from engine.dal.pg.payments import stored_versions
from engine.handlers.common import inject_context, logger
from engine.handlers.consumers.transactions_stream import syncer
from engine.logic.repair import MARGIN_SECONDS, SETTLE_SECONDS, Repairer, RepairReport, Window
from engine.queues import TRANSACTIONS_SYNC_DLQ
from shared import aws, clock

WINDOW_HOURS = 72
# The streams API's regional endpoint (moto serves only that one; AWS serves it too).
_STREAMS = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    account_id_endpoint_mode="disabled",
)
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


@cache
def dead_letters() -> SyncDeadLetters | None:
    url = os.environ.get(TRANSACTIONS_SYNC_DLQ.env_var, "")
    if not url:
        return None
    table = settings.require("TRANSACTIONS_TABLE", settings.get().transactions_table)
    streams = aws.client_with("dynamodbstreams", _STREAMS)
    return SyncDeadLetters(aws.client("sqs"), streams, wiring.dynamodb(), url, table)


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

    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    report = RepairReport()
    letters = dead_letters()
    if letters is not None:
        repairer().drain(letters, report, seconds_left)
    if report.complete:
        repairer().run(span, seconds_left, report)
    completed, dcr_audited = None, 0
    if report.complete and seconds_left() >= MARGIN_SECONDS:
        # Left alone while their own request may still be completing them.
        completed = wiring_collections.service().complete_unrecorded(SETTLE_SECONDS)
    if report.complete and seconds_left() >= MARGIN_SECONDS:
        dcr_audited = wiring_dcr.service().settle_owed()
    # Published on every run, zeros included: the alarm reads a steady series.
    telemetry.publish(metrics.TRANSACTIONS_REPAIRED, report.repaired)
    if report.failed:
        telemetry.publish(metrics.STREAM_SYNC_FAILED_RECORDS, len(report.failed))
    summary = {
        "since": span.since,
        "examined": report.examined,
        "repaired": report.repaired,
        "failed": report.failed,
        "dead_letters": report.dead_letters,
        "complete": report.complete,
        "collections_completed": completed.recorded if completed else 0,
        "cancellations_completed": completed.cancellations if completed else 0,
        "collections_failed": completed.failed if completed else 0,
        "dcr_audit_records_settled": dcr_audited,
    }
    logger.info("transactions repair finished", extra=summary)
    return summary
