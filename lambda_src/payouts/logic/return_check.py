"""Finding returns whose NppReturn webhook never arrived.

A completed payout can still come back within the NPP return window. Monoova tells us with
an NppReturn webhook and retries a failed one only once, so on a slower schedule this job asks
the status API about completed payouts still inside the window (the due-work index holds only
those, soonest due first) and moves any that Monoova reports `Dishonoured` to Returned; the
table stream then credits them as it credits every return. A payout whose window has closed
leaves the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from payouts.clients.monoova import MonoovaClient
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import metrics as m
from payouts.logic.reconcile import record_status_call
from payouts.models.schedule import after
from payouts.models.status import Status, Work
from shared import breaker as rules
from shared import clock
from shared.breaker_store import BreakerStore
from shared.store_errors import ConditionFailed

DISHONOURED = "Dishonoured"


@dataclass
class ReturnReport:
    examined: int = 0
    returned: int = 0
    window_closed: int = 0
    unresolved: int = 0
    errors: int = 0
    skipped_circuit_open: bool = False


@dataclass
class ReturnChecker:
    transactions: TransactionStore
    breaker: BreakerStore
    monoova: MonoovaClient
    metrics: m.MetricSink
    window_seconds: int
    batch_limit: int

    def run(self) -> ReturnReport:
        report = ReturnReport()
        now = clock.epoch()
        decision = rules.decide(self.breaker.read(now), now, self.breaker.settings)
        if decision.state is rules.State.OPEN:
            report.skipped_circuit_open = True
            return report
        due = self.transactions.due(Work.RETURN_CHECK, clock.iso(clock.now()), self.batch_limit)
        for payout in due:
            report.examined += 1
            try:
                self._check(payout, report)
            except Exception:
                report.errors += 1
        self.metrics.add_metric(m.RETURNS_FOUND, "Count", report.returned)
        return report

    def _check(self, payout: dict[str, Any], report: ReturnReport) -> None:
        txn_id = payout["transaction_id"]
        result = self.monoova.status(txn_id)
        record_status_call(self.breaker, self.metrics, result)
        if result.found and result.transaction_status == DISHONOURED:
            if self._return(txn_id):
                report.returned += 1
            return
        if result.found is None:
            report.unresolved += 1
        if self._window_closed(payout):
            self.transactions.close_work(txn_id, Work.RETURN_CHECK)
            report.window_closed += 1
            return
        self._look_again_later(txn_id)

    def _return(self, transaction_id: str) -> bool:
        at = clock.iso(clock.now())
        fields = {
            "provider_status": DISHONOURED,
            "status_reason": "dishonoured: found by the return check (no NppReturn received)",
        }
        move = Transition(transaction_id, Status.RETURNED, at, "return-check", fields)
        try:
            self.transactions.transition(move)
        except ConditionFailed:
            return False  # the webhook got there first
        self.metrics.add_metric(m.PAYOUT_RETURNED, "Count", 1)
        return True

    def _window_closed(self, payout: dict[str, Any]) -> bool:
        completed = clock.parse_iso(payout.get("finalised_at") or payout["updated_at"])
        return clock.now() - completed > timedelta(seconds=self.window_seconds)

    def _look_again_later(self, transaction_id: str) -> None:
        due = after(clock.iso(clock.now()), self.transactions.schedule.return_check_seconds)
        self.transactions.defer(transaction_id, Work.RETURN_CHECK, due)
