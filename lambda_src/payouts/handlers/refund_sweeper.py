"""Scheduled: credit Rejected/Returned payouts the table stream has not credited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import settings, wiring
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic.refund_sweep import RefundSweeper


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sweeper = RefundSweeper(wiring.ledger(), metrics, settings.jobs().refund_sweep_batch_limit)
    report = asdict(sweeper.run())
    if report["credited"]:
        logger.warning("refund sweep credited payouts the stream missed", extra={"report": report})
    else:
        logger.info("refund sweep run", extra={"report": report})
    return report
