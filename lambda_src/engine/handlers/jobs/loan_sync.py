"""Nightly: the loans the LMS changed since the last run, into PostgreSQL
(engine.logic.loan_sync). A run that nears its timeout stops between pages and says so
(`finished: false`); one that fails raises after logging. Either way what it applied stays
applied and the next run resumes from the saved cursor."""

from __future__ import annotations

from typing import Any

from engine import wiring_loan_sync
from engine.handlers.common import inject_context, logger


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    summary = wiring_loan_sync.loan_sync().run(seconds_left).as_dict()
    logger.info("loan sync", extra=summary)
    return summary
