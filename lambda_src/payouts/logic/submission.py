"""Sending a recorded payout to Monoova and recording what came back.

Shared by the create path and the reconciler's re-execution: both reuse the payout's stored
uniqueReference, so Monoova can never be asked to pay the same payout twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from payouts.clients.monoova import ExecuteResult, MonoovaClient, Outcome
from payouts.dal.breaker import BreakerStore
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import breaker as rules
from payouts.logic import metrics as m
from payouts.logic.monoova_body import execute_body
from payouts.models.payout import Destination
from payouts.models.status import Status
from payouts.settings import MonoovaSettings
from shared import clock


@dataclass
class Submitter:
    client: Any  # DynamoDB client, for the one TransactWriteItems after the call
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
        now_epoch = clock.epoch()
        at = clock.iso(clock.now())
        ok = result.stats.attempts - result.stats.failed_attempts
        ops = [
            self._outcome_op(payout, result, at, source),
            self.breaker.record_op(now_epoch, ok, result.stats.failed_attempts),
        ]
        try:
            self.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            # A webhook already moved the payout on: keep its state, still count the call.
            self.breaker.record(now_epoch, ok, result.stats.failed_attempts)
        if result.outcome is Outcome.UNKNOWN:
            self.metrics.add_metric(m.PAYOUT_UNKNOWN, "Count", 1)
        if result.outcome is Outcome.DECLINED:
            self.metrics.add_metric(m.PAYOUT_REJECTED, "Count", 1)

    def _outcome_op(
        self, payout: dict[str, Any], result: ExecuteResult, at: str, source: str
    ) -> dict[str, Any]:
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
            return self.transactions.transition_op(move)
        if result.outcome is Outcome.UNKNOWN:
            move = Transition(txn_id, Status.UNKNOWN, at, source, facts)
            return self.transactions.transition_op(move)
        if Status(payout["status"]) is Status.UNKNOWN:
            # The reconciler's re-execution reached Monoova: the payout is pending again.
            return self.transactions.transition_op(
                Transition(txn_id, Status.PENDING, at, source, facts)
            )
        return self.transactions.set_fields_op(txn_id, facts)

    def _update_breaker(
        self, before: rules.Snapshot, state: rules.State, result: ExecuteResult
    ) -> None:
        now = clock.epoch()
        ok = result.stats.attempts - result.stats.failed_attempts
        failed = result.stats.failed_attempts
        if state is rules.State.HALF_OPEN:
            if result.outcome is Outcome.UNKNOWN:
                self.breaker.open(now)
                self.metrics.add_metric(m.CIRCUIT_OPENED, "Count", 1)
            else:
                self.breaker.close()
            return
        if failed and rules.should_trip(before, ok, failed, self.breaker.settings):
            self.breaker.open(now)
            self.metrics.add_metric(m.CIRCUIT_OPENED, "Count", 1)
