"""The scheduled payment sweep (every 5 minutes, in the active Region only): engine.logic.sweep."""

from __future__ import annotations

from typing import Any

from engine import metrics, telemetry, wiring_payments
from engine.handlers.common import inject_context, logger
from engine.logic.sweep import Sweeper  # every run sweeps: imported with the handler

NOT_MOVES = frozenset({"examined", "errors", "deferred"})


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    sweeper: Sweeper = wiring_payments.sweeper()
    counts = sweeper.run(lambda: context.get_remaining_time_in_millis() / 1000)
    moved = sum(v for k, v in counts.items() if k not in NOT_MOVES)
    if moved:
        telemetry.publish(metrics.PAYMENTS_SWEPT, moved)
    logger.info("payment sweep", extra={"counts": counts})
    return counts
