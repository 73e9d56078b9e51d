"""Crediting the balance back when a payout ends Rejected or Returned (from the table stream).

The payout's `refunded_at` and the credit are one unit of work (`PayoutLedger.credit_back`),
guarded by `attribute_not_exists(refunded_at)`: a redelivered stream record credits nothing
twice, and a conflicted write raises so that the stream delivers the record again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payouts.dal.ledger import PayoutLedger
from payouts.logic import metrics as m
from payouts.models.status import OPEN, REFUNDABLE, Status
from shared import clock
from shared.store_errors import AlreadyApplied


@dataclass
class BalanceRestorer:
    ledger: PayoutLedger
    metrics: m.MetricSink

    def on_change(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
        """Handle one stream change; True when a credit was made."""
        if not new:
            return False
        status = Status(new["status"])
        if old and _first_final(Status(old["status"]), status):
            self._time_to_final(new)
        if status not in REFUNDABLE or new.get("refunded_at"):
            return False
        return self._credit(new)

    def _credit(self, payout: dict[str, Any]) -> bool:
        try:
            self.ledger.credit_back(payout, clock.iso(clock.now()))
        except AlreadyApplied:
            return False  # already credited by an earlier delivery
        self.metrics.add_metric(m.BALANCE_RESTORED, "Count", 1)
        return True

    def _time_to_final(self, payout: dict[str, Any]) -> None:
        created = clock.parse_iso(payout["created_at"])
        elapsed_ms = (clock.now() - created).total_seconds() * 1000
        self.metrics.add_metric(m.TIME_TO_FINAL_STATE, "Milliseconds", max(0.0, elapsed_ms))


def _first_final(old: Status, new: Status) -> bool:
    """Leaving Pending/UNKNOWN for an outcome (a later Completed -> Returned is not one)."""
    return old in OPEN and new not in OPEN
