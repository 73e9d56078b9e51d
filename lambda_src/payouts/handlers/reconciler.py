"""Scheduled: resolve Pending/UNKNOWN payouts, or (event {"job": "return-check"}, on its own
slower schedule) look for returns of completed payouts, through Monoova's status API.

Both jobs run in this one function so that its reserved concurrency of one keeps every
status sweep from overlapping another.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import settings, wiring
from payouts.declarations import RETURN_CHECK_JOB
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic.reconcile import Reconciler
from payouts.logic.return_check import ReturnChecker


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    monoova = wiring.monoova(lambda: context.get_remaining_time_in_millis() / 1000)
    jobs = settings.jobs()
    if event.get("job") == RETURN_CHECK_JOB:
        checker = ReturnChecker(
            transactions=wiring.transactions(),
            breaker=wiring.breaker(),
            monoova=monoova,
            metrics=metrics,
            window_seconds=jobs.return_window_seconds,
            batch_limit=jobs.return_check_batch_limit,
        )
        report = asdict(checker.run())
        logger.info("return check run", extra={"report": report})
        return report
    reconciler = Reconciler(
        transactions=wiring.transactions(),
        destinations=wiring.payout_destinations(),
        breaker=wiring.breaker(),
        monoova=monoova,
        submitter=wiring.submitter(metrics, monoova),
        metrics=metrics,
        stuck_seconds=jobs.stuck_seconds,
        batch_limit=jobs.reconcile_batch_limit,
    )
    report = asdict(reconciler.run())
    logger.info("reconciliation run", extra={"report": report})
    return report
