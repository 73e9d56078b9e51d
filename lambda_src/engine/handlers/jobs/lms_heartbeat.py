"""Every minute, in the active Region: lms_connectivity_status 1 when the LMS answers an
authenticated read, 0 when it does not. The alarm treats a missing minute as breaching, so
a heartbeat that cannot run pages too."""

from __future__ import annotations

from typing import Any

from engine import metrics, telemetry, wiring_lms
from engine.clients.lms import LmsError
from engine.handlers.common import inject_context, logger
from engine.logic.lms_posting import reachable


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        up = reachable(wiring_lms.lms())
    except LmsError as exc:
        logger.warning("lms unreachable", extra={"error": type(exc).__name__})
        up = False
    telemetry.publish(metrics.LMS_CONNECTIVITY_STATUS, 1 if up else 0)
    return {"lms_reachable": up}
