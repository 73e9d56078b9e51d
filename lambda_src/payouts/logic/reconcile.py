"""Resolving payouts that stay Pending or UNKNOWN: the reconciler's scheduled run.

Monoova's status API is the source of truth. A payout Monoova has no record of was never
received (or its first send was lost before Monoova stored it), so it is executed again
with the SAME uniqueReference and the destination it was created with (sealed on the payout):
Monoova's own dedupe makes that safe, and a changed customer destination cannot redirect it.
A payout that cannot be sent again that way goes to ManualReview, which pages.

The run reads only what is due (the due-work index, soonest first) and pushes each payout it
looked at to the back of the line, so a few stuck payouts never starve the newer ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from payouts.clients.monoova import MonoovaClient, StatusResult
from payouts.dal.destinations import DestinationUnavailable, PayoutDestinations
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import metrics as m
from payouts.logic.submission import Submitter
from payouts.models.schedule import after
from payouts.models.status import Status, Work, can_move
from shared import breaker as rules
from shared import clock
from shared.breaker_store import BreakerStore
from shared.store_errors import ConditionFailed, StoreError

# Monoova transactionStatus -> our state. Pending and WaitingOnClearedFunds mean "in flight".
PROVIDER_FINAL = {
    "Complete": Status.COMPLETED,
    "Rejected": Status.REJECTED,
    "Dishonoured": Status.RETURNED,
}


@dataclass
class RunReport:
    examined: int = 0
    adopted: int = 0  # open payouts from before the due-work index, filed this run
    moved: dict[str, int] = field(default_factory=dict)
    resubmitted: int = 0
    needs_review: int = 0
    unresolved: int = 0
    errors: int = 0
    skipped_circuit_open: bool = False
    stuck_unknown: int = 0

    def count(self, status: Status) -> None:
        self.moved[status.value] = self.moved.get(status.value, 0) + 1


def record_status_call(breaker: BreakerStore, metrics: m.MetricSink, result: StatusResult) -> None:
    """Count a status call for the circuit breaker (best effort: it never fails a run)."""
    if result.stats.auth_failed:
        metrics.add_metric(m.MONOOVA_AUTH_FAILED, "Count", 1)
    ok = result.stats.attempts - result.stats.failed_attempts
    try:
        breaker.record(clock.epoch(), ok, result.stats.failed_attempts)
    except StoreError:
        metrics.add_metric(m.BREAKER_UPDATE_FAILED, "Count", 1)


@dataclass
class Reconciler:
    transactions: TransactionStore
    destinations: PayoutDestinations
    breaker: BreakerStore
    monoova: MonoovaClient
    submitter: Submitter
    metrics: m.MetricSink
    stuck_seconds: int
    batch_limit: int

    def run(self) -> RunReport:
        report = RunReport()
        now = clock.epoch()
        snapshot = self.breaker.read(now)
        decision = rules.decide(snapshot, now, self.breaker.settings)
        report.adopted = self._adopt_unfiled()
        if decision.state is rules.State.OPEN:
            report.skipped_circuit_open = True
        else:
            due = self.transactions.due(Work.RECONCILE, clock.iso(clock.now()), self.batch_limit)
            for payout in due:
                report.examined += 1
                self._resolve_one(payout, snapshot, decision.state, report)
        report.stuck_unknown = self._count_stuck()
        self.metrics.add_metric(m.STUCK_UNKNOWN, "Count", report.stuck_unknown)
        return report

    def _adopt_unfiled(self) -> int:
        """Open payouts written before the due-work index existed: file them, due now."""
        now = clock.iso(clock.now())
        unfiled = self.transactions.open_without_work(self.batch_limit)
        return sum(
            self.transactions.file_work(p["transaction_id"], Work.RECONCILE, now) for p in unfiled
        )

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
        finally:
            self._look_again_later(payout, report)

    def _look_again_later(self, payout: dict[str, Any], report: RunReport) -> None:
        """Still open: to the back of the line (a no-op once the payout has moved on)."""
        due = after(clock.iso(clock.now()), self.transactions.schedule.reconcile_seconds)
        try:
            self.transactions.defer(payout["transaction_id"], Work.RECONCILE, due)
        except StoreError:
            report.errors += 1

    def _resolve(
        self,
        payout: dict[str, Any],
        snapshot: rules.Snapshot,
        state: rules.State,
        report: RunReport,
    ) -> None:
        result = self.monoova.status(payout["transaction_id"])
        record_status_call(self.breaker, self.metrics, result)
        current = Status(payout["status"])
        if result.found is None:
            report.unresolved += 1
            return
        if result.found is False:
            self._resubmit(payout, snapshot, state, report)
            return
        target = PROVIDER_FINAL.get(result.transaction_status or "")
        if target is None and current is Status.UNKNOWN:
            target = Status.PENDING  # Monoova holds it and it is still in flight
        if target is None or not can_move(current, target):
            return
        if self._move(payout, target, {"provider_status": result.transaction_status or ""}):
            report.count(target)

    def _move(self, payout: dict[str, Any], target: Status, fields: dict[str, Any]) -> bool:
        at = clock.iso(clock.now())
        move = Transition(payout["transaction_id"], target, at, "reconciler", fields)
        try:
            self.transactions.transition(move)
        except ConditionFailed:
            return False  # a webhook moved it first; its state stands
        if target in (Status.COMPLETED, Status.REJECTED, Status.RETURNED):
            self.metrics.add_metric(m.FINAL_METRIC[target.value], "Count", 1)
        return True

    def _resubmit(
        self,
        payout: dict[str, Any],
        snapshot: rules.Snapshot,
        state: rules.State,
        report: RunReport,
    ) -> None:
        try:
            destination = self.destinations.open(payout)
        except DestinationUnavailable as exc:
            reason = f"cannot be sent again as first sent: {exc}"
            if self._move(payout, Status.MANUAL_REVIEW, {"status_reason": reason}):
                self.metrics.add_metric(m.PAYOUT_NEEDS_REVIEW, "Count", 1)
                report.needs_review += 1
            return
        self.submitter.submit(payout, destination, snapshot, state, "reconciler")
        report.resubmitted += 1

    def _count_stuck(self) -> int:
        cutoff = clock.iso(clock.now() - timedelta(seconds=self.stuck_seconds))
        return len(self.transactions.open_older_than(Status.UNKNOWN, cutoff, 1000))
