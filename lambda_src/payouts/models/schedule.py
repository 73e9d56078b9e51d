"""When each payout's follow-up work falls due (the `due_at` of the due-work index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from payouts.models.status import WORK_FOR, Status, Work
from shared import clock


@dataclass(frozen=True)
class Schedule:
    # Pending: how long to wait for Monoova's webhook before asking, and between looks.
    reconcile_seconds: int = 600
    # Completed: how long between status checks for a return, while the window is open.
    return_check_seconds: int = 3600
    # Rejected/Returned: the stream credits within seconds; the sweep takes what it missed.
    refund_grace_seconds: int = 300

    def delay(self, work: Work) -> int:
        return {
            Work.RECONCILE: self.reconcile_seconds,
            Work.RETURN_CHECK: self.return_check_seconds,
            Work.REFUND: self.refund_grace_seconds,
        }[work]

    def due_at(self, target: Status, at: str) -> str | None:
        """When a payout that moved to `target` at `at` needs looking at (None: never)."""
        work = WORK_FOR[target]
        if work is None:
            return None
        if target is Status.UNKNOWN:
            return at  # the outcome is unknown: ask Monoova at the reconciler's next run
        return after(at, self.delay(work))


def after(at: str, seconds: int) -> str:
    return clock.iso(clock.parse_iso(at) + timedelta(seconds=seconds))
