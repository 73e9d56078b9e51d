"""Nightly: the employees DarwinBox changed since the last run, into the users rows, the staff
pool and the audit trail (engine.logic.hrms_sync). A run that nears its timeout stops between
pages and says so (`finished: false`); one the HRMS or the database fails raises after
logging. Either way what it applied stays applied and the next run resumes from the saved
cursor. A change it could not carry to the pool or the audit trail fails the invocation
(the function's error alarm) after the rest are done; a later run carries it."""

from __future__ import annotations

from typing import Any

from engine import wiring_hrms
from engine.handlers.common import inject_context, logger
from engine.logic.hrms_sync import ChangesNotCarried


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    report = wiring_hrms.hrms_sync().run(seconds_left)
    summary = report.as_dict()
    # Nested: `created` is a LogRecord attribute, which `extra` may not overwrite.
    logger.info("hrms sync", extra={"summary": summary})
    if report.carry_failed:
        raise ChangesNotCarried(f"{report.carry_failed} changes are still to be carried")
    return summary
