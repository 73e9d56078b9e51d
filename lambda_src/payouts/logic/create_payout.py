"""POST /payouts: one payout per idempotency key, debited atomically, sent once.

Order matters: the idempotency record, the payout (with its uniqueReference and a sealed
copy of its destination) and the debit are written in ONE transaction before Monoova is
called, so a crash after the write leaves a Pending payout that the reconciler finishes
(sending exactly that destination), and a duplicate request can never debit twice.

The Monoova call is bounded (one attempt and one short retry within a few seconds): when it
gives no answer the payout is UNKNOWN and due at the reconciler's next run, and the caller has
its 202 well inside API Gateway's 29 s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from payouts.dal.customers import CustomerStore, active_destination
from payouts.dal.destinations import PayoutDestinations
from payouts.dal.idempotency import IdempotencyStore, fingerprint_hash, request_key
from payouts.dal.ledger import PayoutLedger
from payouts.logic import metrics as m
from payouts.logic.submission import Submitter
from payouts.models.payout import CURRENCY, CreatePayoutCommand, Destination
from payouts.models.status import Status, Work
from shared import breaker as rules
from shared import clock, jsonutil
from shared.breaker_store import BreakerStore
from shared.http import Conflict, NotFound, ServiceUnavailable, Unprocessable
from shared.store_errors import AlreadyApplied, InsufficientBalance

ACCEPTED_MESSAGE = "Payout accepted; follow it with GET /payouts/{transaction_id}"


def new_unique_reference() -> str:
    """35 characters: fits Monoova's uniqueReference (200) and endToEndId (35) both."""
    return "po_" + uuid.uuid4().hex


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    submission_error: str | None = None  # sent or not, the reconciler finishes the payout


@dataclass
class CreatePayout:
    customers: CustomerStore
    idempotency: IdempotencyStore
    ledger: PayoutLedger
    destinations: PayoutDestinations
    breaker: BreakerStore
    submitter: Submitter
    metrics: m.MetricSink
    retention_seconds: int
    idempotency_ttl_seconds: int

    def __call__(self, command: CreatePayoutCommand) -> Reply:
        now = clock.epoch()
        record_id = request_key(command.idempotency_key)
        fingerprint = fingerprint_hash(command.request_fingerprint())
        customer, existing, snapshot = self._read(command.customer_id, record_id, now)
        if existing:
            return _replay(existing, fingerprint)
        self._check_customer(customer, command)
        assert customer is not None
        decision = self._admit(snapshot, now)
        destination = self.customers.destination(customer, command.payout_method)
        payout, reply = self._new_payout(command, record_id, destination)
        try:
            self._write(payout, command, record_id, fingerprint, reply)
        except AlreadyApplied:
            winner = self.idempotency.get(record_id)
            if winner is None:
                raise
            return _replay(winner, fingerprint)
        self.metrics.add_metric(m.PAYOUT_CREATED, "Count", 1)
        self.metrics.add_metric(m.PAYOUT_AMOUNT_CENTS, "Count", int(command.amount * 100))
        try:
            self.submitter.submit(payout, destination, snapshot, decision.state, "create")
        except Exception as exc:
            # Answering 5xx now would invite a retry of a payout that is safely Pending; the
            # reconciler asks Monoova what happened and finishes it under the same reference,
            # at its next run rather than after the usual wait for a webhook.
            self.metrics.add_metric(m.SUBMISSION_INCOMPLETE, "Count", 1)
            self._due_now(payout["transaction_id"])
            return Reply(reply.status_code, reply.body, submission_error=type(exc).__name__)
        return reply

    def _read(
        self, customer_id: str, record_id: str, now: float
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, rules.Snapshot]:
        found = self.ledger.read_for_create(customer_id, record_id, self.breaker.keys(now))
        return found.customer, found.idempotency_record, self.breaker.snapshot(found.breaker)

    @staticmethod
    def _check_customer(customer: dict[str, Any] | None, command: CreatePayoutCommand) -> None:
        if customer is None:
            raise NotFound(f"customer {command.customer_id} does not exist")
        if active_destination(customer, command.payout_method) is None:
            raise Unprocessable(
                f"customer has no active {command.payout_method} payout destination"
            )
        # The balance is checked by the conditional debit itself: a pre-check here could
        # read a concurrent duplicate's debit without its idempotency record and answer 422.

    def _admit(self, snapshot: rules.Snapshot, now: float) -> rules.Decision:
        decision = rules.decide(snapshot, now, self.breaker.settings)
        if decision.state is rules.State.HALF_OPEN and not self.breaker.claim_probe(now):
            decision = rules.Decision(rules.State.OPEN, rules.PROBE_SECONDS)
        if decision.state is rules.State.OPEN:
            self.metrics.add_metric(m.CIRCUIT_REJECTED, "Count", 1)
            raise ServiceUnavailable(
                "Monoova is failing; payouts are paused. Retry later.",
                headers={"Retry-After": str(decision.retry_after)},
            )
        return decision

    def _due_now(self, transaction_id: str) -> None:
        try:
            self.ledger.transactions.defer(transaction_id, Work.RECONCILE, clock.iso(clock.now()))
        except Exception:  # best effort: the scheduled look at the payout comes anyway
            self.metrics.add_metric(m.RECONCILE_ERRORS, "Count", 1)

    def _new_payout(
        self, command: CreatePayoutCommand, record_id: str, destination: Destination
    ) -> tuple[dict[str, Any], Reply]:
        reference = new_unique_reference()
        created = clock.now()
        at = clock.iso(created)
        schedule = self.ledger.transactions.schedule
        payout = {
            "transaction_id": reference,
            "unique_reference": reference,
            "customer_id": command.customer_id,
            "amount": command.amount,
            "currency": CURRENCY,
            "payout_method": command.payout_method,
            "status": Status.PENDING.value,
            "open_status": Status.PENDING.value,
            "due_work": Work.RECONCILE.value,
            "due_at": schedule.due_at(Status.PENDING, at),
            # What a resubmission sends: never the customer's destination of the day.
            "destination": self.destinations.seal(reference, destination),
            "created_at": at,
            "updated_at": at,
            "idempotency_record": record_id,
            "submit_attempts": 0,
            "status_history": [{"status": Status.PENDING.value, "at": at, "source": "create"}],
            "expires_at": int(created.timestamp()) + self.retention_seconds,
        }
        body = {
            "transaction_id": reference,
            "status": Status.PENDING.value,
            "message": ACCEPTED_MESSAGE,
            "created_at": at,
        }
        return payout, Reply(202, body)

    def _write(
        self,
        payout: dict[str, Any],
        command: CreatePayoutCommand,
        record_id: str,
        fingerprint: str,
        reply: Reply,
    ) -> None:
        record = {
            "kind": "create_payout",
            "fingerprint": fingerprint,
            "status_code": reply.status_code,
            "response": jsonutil.dumps(reply.body),
            "transaction_id": payout["transaction_id"],
            "expiration": int(clock.epoch()) + self.idempotency_ttl_seconds,
        }
        try:
            self.ledger.open_payout(record_id, record, payout, command.payout_method)
        except InsufficientBalance as exc:
            raise Unprocessable("insufficient available balance for this payout") from exc


def _replay(record: dict[str, Any], fingerprint: str) -> Reply:
    if record.get("fingerprint") != fingerprint:
        raise Conflict("this Idempotency-Key was already used with a different request body")
    return Reply(int(record["status_code"]), jsonutil.loads(record["response"]), replayed=True)
