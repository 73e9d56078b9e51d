"""Resolving payouts that stayed Pending or UNKNOWN past a threshold.

Monoova's status API is the source of truth. A payout Monoova has no record of was never
received (or its first send was lost before Monoova stored it), so it is executed again
with the SAME uniqueReference: Monoova's own dedupe makes that safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from payouts.clients.monoova import MonoovaClient, StatusResult
from payouts.dal.breaker import BreakerStore
from payouts.dal.customers import CustomerStore
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import breaker as rules
from payouts.logic import metrics as m
from payouts.logic.submission import Submitter
from payouts.models.status import Status, can_move
from shared import clock
from shared.store_errors import ConditionFailed, StoreError

# Monoova transactionStatus -> our state. Pending and WaitingOnClearedFunds mean "in flight".
_PROVIDER_FINAL = {
    "Complete": Status.COMPLETED,
    "Rejected": Status.REJECTED,
    "Dishonoured": Status.RETURNED,
}


@dataclass
class RunReport:
    examined: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    resubmitted: int = 0
    unresolved: int = 0
    errors: int = 0
    skipped_circuit_open: bool = False
    stuck_unknown: int = 0

    def count(self, status: Status) -> None:
        self.moved[status.value] = self.moved.get(status.value, 0) + 1


@dataclass
class Reconciler:
    transactions: TransactionStore
    customers: CustomerStore
    breaker: BreakerStore
    monoova: MonoovaClient
    submitter: Submitter
    metrics: m.MetricSink
    threshold_seconds: int
    stuck_seconds: int
    batch_limit: int

    def run(self) -> RunReport:
        report = RunReport()
        now = clock.epoch()
        snapshot = self.breaker.read(now)
        decision = rules.decide(snapshot, now, self.breaker.settings)
        if decision.state is rules.State.OPEN:
            report.skipped_circuit_open = True
        else:
            cutoff = clock.iso(clock.now() - timedelta(seconds=self.threshold_seconds))
            for status in (Status.UNKNOWN, Status.PENDING):
                for payout in self.transactions.open_older_than(status, cutoff, self.batch_limit):
                    report.examined += 1
                    self._resolve_one(payout, snapshot, decision.state, report)
        report.stuck_unknown = self._count_stuck()
        self.metrics.add_metric(m.STUCK_UNKNOWN, "Count", report.stuck_unknown)
        return report

    def _resolve_one(
        self,
        payout: dict[str, Any],
        snapshot: rules.Snapshot,
        state: rules.State,
        report: RunReport,
    ) -> None:
        """One payout's failure must not stop the run from resolving the others."""
        try:
            self._resolve(payout, snapshot, state, report)
        except Exception:
            report.errors += 1
            self.metrics.add_metric(m.RECONCILE_ERRORS, "Count", 1)

    def _resolve(
        self,
        payout: dict[str, Any],
        snapshot: rules.Snapshot,
        state: rules.State,
        report: RunReport,
    ) -> None:
        result = self.monoova.status(payout["transaction_id"])
        self._record_call(result)
        current = Status(payout["status"])
        if result.found is None:
            report.unresolved += 1
            return
        if result.found is False:
            self._resubmit(payout, snapshot, state, report)
            return
        target = _PROVIDER_FINAL.get(result.transaction_status or "")
        if target is None and current is Status.UNKNOWN:
            target = Status.PENDING  # Monoova holds it and it is still in flight
        if target is None or not can_move(current, target):
            return
        self._move(payout, target, result)
        report.count(target)

    def _move(self, payout: dict[str, Any], target: Status, result: StatusResult) -> None:
        at = clock.iso(clock.now())
        fields: dict[str, Any] = {"provider_status": result.transaction_status or ""}
        if target is not Status.PENDING:
            fields["finalised_at"] = at
        move = Transition(payout["transaction_id"], target, at, "reconciler", fields)
        try:
            self.transactions.transition(move)
        except ConditionFailed:
            return  # a webhook moved it first; its state stands
        if target in (Status.COMPLETED, Status.REJECTED, Status.RETURNED):
            self.metrics.add_metric(m.FINAL_METRIC[target.value], "Count", 1)

    def _resubmit(
        self,
        payout: dict[str, Any],
        snapshot: rules.Snapshot,
        state: rules.State,
        report: RunReport,
    ) -> None:
        customer = self.customers.get(payout["customer_id"])
        if customer is None:
            report.unresolved += 1
            return
        destination = self.customers.destination(customer, payout["payout_method"])
        self.submitter.submit(payout, destination, snapshot, state, "reconciler")
        report.resubmitted += 1

    def _record_call(self, result: StatusResult) -> None:
        if result.stats.auth_failed:
            self.metrics.add_metric(m.MONOOVA_AUTH_FAILED, "Count", 1)
        ok = result.stats.attempts - result.stats.failed_attempts
        try:
            self.breaker.record(clock.epoch(), ok, result.stats.failed_attempts)
        except StoreError:
            self.metrics.add_metric(m.BREAKER_UPDATE_FAILED, "Count", 1)

    def _count_stuck(self) -> int:
        cutoff = clock.iso(clock.now() - timedelta(seconds=self.stuck_seconds))
        return len(self.transactions.open_older_than(Status.UNKNOWN, cutoff, 1000))
