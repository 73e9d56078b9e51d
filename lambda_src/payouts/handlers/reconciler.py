"""Scheduled: resolve Pending/UNKNOWN payouts through Monoova's status API."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import wiring
from payouts.handlers.common import logger, metrics
from payouts.logic.reconcile import Reconciler


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    monoova = wiring.monoova(lambda: context.get_remaining_time_in_millis() / 1000)
    reconciler = Reconciler(
        transactions=wiring.transactions(),
        customers=wiring.customers(),
        breaker=wiring.breaker(),
        monoova=monoova,
        submitter=wiring.submitter(metrics, monoova),
        metrics=metrics,
        threshold_seconds=int(os.environ.get("RECONCILE_THRESHOLD_SECONDS", "600")),
        stuck_seconds=int(os.environ.get("STUCK_UNKNOWN_SECONDS", "3600")),
        batch_limit=int(os.environ.get("RECONCILE_BATCH_LIMIT", "100")),
    )
    report = asdict(reconciler.run())
    logger.info("reconciliation run", extra={"report": report})
    return report
