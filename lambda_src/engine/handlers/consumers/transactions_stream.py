"""The Transactions stream -> PostgreSQL's payments and loan balances (engine.logic.sync).

Hand-written rather than Powertools' BatchProcessor: that calls a handler once per record, so
each record would be its own transaction, where this applies the whole batch in one (a
constant number of SQL round trips per batch) and splits it only when it fails. The answer
is the same partial-batch response (`batchItemFailures` by sequence number): the event source
mapping retries from the first failure and, once retries are spent, sends the positions to
TransactionsSyncDLQ; the repair job re-syncs from the table whatever still differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from engine import metrics, telemetry, wiring
from engine.dal.pg.payments import PaymentRow, SyncOutcome, sync_payments
from engine.handlers.common import inject_context, logger
from engine.logic.sync import StreamSync


def apply(rows: Sequence[PaymentRow]) -> SyncOutcome:
    return wiring.database().run(lambda cur: sync_payments(cur, rows))


@cache
def syncer() -> StreamSync:
    return StreamSync(apply)


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    report = syncer().process(records)
    logger.info(
        "stream batch synced",
        extra={
            "records": len(records),
            "written": report.written,
            "loans_moved": report.loans_moved,
            "skipped": report.skipped,
            "failed": len(report.failed),
        },
    )
    if report.failed:
        telemetry.publish(metrics.STREAM_SYNC_FAILED_RECORDS, len(report.failed))
    return {"batchItemFailures": [{"itemIdentifier": s} for s in report.failed]}
