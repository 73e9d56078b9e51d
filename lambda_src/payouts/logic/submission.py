"""Sending a recorded payout to Monoova and recording what came back.

Shared by the create path and the reconciler's re-execution: both reuse the payout's stored
uniqueReference, so Monoova can never be asked to pay the same payout twice.

The outcome is written to the payout alone, before the shared circuit-breaker counter (which
every payout updates): a busy or failing counter can delay a breaker decision, never lose an
outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payouts.clients.monoova import ExecuteResult, MonoovaClient, Outcome
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import metrics as m
from payouts.logic.monoova_body import execute_body
from payouts.models.payout import Destination
from payouts.models.status import Status
from payouts.settings import MonoovaSettings
from shared import breaker as rules
from shared import clock
from shared.breaker_store import BreakerStore
from shared.store_errors import ConditionFailed, StoreError


@dataclass
class Submitter:
    transactions: TransactionStore
    breaker: BreakerStore
    monoova: MonoovaClient
    settings: MonoovaSettings
    metrics: m.MetricSink

    def submit(
        self,
        payout: dict[str, Any],
        destination: Destination,
        before: rules.Snapshot,
        state: rules.State,
        source: str,
    ) -> ExecuteResult:
        body = execute_body(payout["transaction_id"], payout["amount"], destination, self.settings)
        result = self.monoova.execute(body)
        self._record(payout, result, source)
        self._update_breaker(before, state, result)
        self.metrics.add_metric(m.MONOOVA_LATENCY, "Milliseconds", result.stats.elapsed_ms)
        if result.stats.failed_attempts:
            self.metrics.add_metric(m.MONOOVA_CALL_FAILED, "Count", result.stats.failed_attempts)
        return result

    def _record(self, payout: dict[str, Any], result: ExecuteResult, source: str) -> None:
        try:
            self._write_outcome(payout, result, clock.iso(clock.now()), source)
        except ConditionFailed:
            pass  # a webhook moved the payout on first: its state stands
        finally:
            self._count_call(result)
        if result.outcome is Outcome.UNKNOWN:
            self.metrics.add_metric(m.PAYOUT_UNKNOWN, "Count", 1)
        if result.outcome is Outcome.DECLINED:
            self.metrics.add_metric(m.PAYOUT_REJECTED, "Count", 1)
        if result.stats.auth_failed:
            self.metrics.add_metric(m.MONOOVA_AUTH_FAILED, "Count", 1)

    def _count_call(self, result: ExecuteResult) -> None:
        ok = result.stats.attempts - result.stats.failed_attempts
        try:
            self.breaker.record(clock.epoch(), ok, result.stats.failed_attempts)
        except StoreError:
            self.metrics.add_metric(m.BREAKER_UPDATE_FAILED, "Count", 1)

    def _write_outcome(
        self, payout: dict[str, Any], result: ExecuteResult, at: str, source: str
    ) -> None:
        facts: dict[str, Any] = {
            "last_submitted_at": at,
            "submit_attempts": int(payout.get("submit_attempts", 0)) + result.stats.attempts,
            "provider_status": result.provider_status or result.outcome.value,
        }
        if result.transaction_id:
            facts["monoova_transaction_id"] = result.transaction_id
        txn_id = payout["transaction_id"]
        if result.outcome is Outcome.DECLINED:
            reason = f"{result.provider_status}: {result.description or 'declined by Monoova'}"
            move = Transition(
                txn_id, Status.REJECTED, at, source, {**facts, "status_reason": reason[:500]}
            )
            self.transactions.transition(move)
        elif result.outcome is Outcome.UNKNOWN:
            self.transactions.transition(Transition(txn_id, Status.UNKNOWN, at, source, facts))
        elif result.outcome is Outcome.AUTH_FAILED:
            # Our key was refused, the payment was not: keep the payout as it is (debited),
            # for the reconciler to send again under the same reference once the key works.
            self.transactions.record_facts(txn_id, {**facts, "due_at": at})
        elif Status(payout["status"]) is Status.UNKNOWN:
            # The reconciler's re-execution reached Monoova: the payout is pending again.
            self.transactions.transition(Transition(txn_id, Status.PENDING, at, source, facts))
        else:
            self.transactions.record_facts(txn_id, facts)

    def _update_breaker(
        self, before: rules.Snapshot, state: rules.State, result: ExecuteResult
    ) -> None:
        now = clock.epoch()
        ok = result.stats.attempts - result.stats.failed_attempts
        failed = result.stats.failed_attempts
        if state is rules.State.HALF_OPEN:
            if result.outcome in (Outcome.UNKNOWN, Outcome.AUTH_FAILED):
                self.breaker.open(now)
                self.metrics.add_metric(m.CIRCUIT_OPENED, "Count", 1)
            else:
                self.breaker.close()
            return
        if failed and rules.should_trip(before, ok, failed, self.breaker.settings):
            self.breaker.open(now)
            self.metrics.add_metric(m.CIRCUIT_OPENED, "Count", 1)
