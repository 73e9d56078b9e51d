"""The payouts work that spans items: each write is one transaction, one method, one unit of
work; the create path's reads across tables are one BatchGetItem.

Each method tells the caller, in domain errors, why its write did not happen: the claim existed
(`AlreadyApplied`), a condition on the payout or the balance was false (`ConditionFailed`,
`InsufficientBalance`), or the items stayed busy through the retries (`Conflict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payouts.dal.batch import batch_get
from payouts.dal.customers import CustomerStore
from payouts.dal.idempotency import IdempotencyStore
from payouts.dal.transactions import TransactionStore, Transition
from shared import ddb_writes
from shared.ddb_writes import Cancelled
from shared.store_errors import AlreadyApplied, ConditionFailed, InsufficientBalance

_CLAIM, _SUBJECT, _BALANCE = 0, 1, 2


@dataclass(frozen=True)
class CreateInputs:
    customer: dict[str, Any] | None
    idempotency_record: dict[str, Any] | None
    breaker: list[dict[str, Any]]


@dataclass
class PayoutLedger:
    client: Any
    transactions: TransactionStore
    customers: CustomerStore
    idempotency: IdempotencyStore
    breaker_table: str
    retry: ddb_writes.Retry = ddb_writes.DEFAULT_RETRY

    def read_for_create(
        self, customer_id: str, record_id: str, breaker_keys: list[dict[str, str]]
    ) -> CreateInputs:
        """The customer, the idempotency record and the breaker items, in one strong read."""
        breaker_table = self.breaker_table
        found = batch_get(
            self.client,
            {
                self.customers.table: [self.customers.key(customer_id)],
                self.idempotency.table: [{"id": record_id}],
                breaker_table: breaker_keys,
            },
        )
        return CreateInputs(
            customer=next(iter(found[self.customers.table]), None),
            idempotency_record=next(iter(found[self.idempotency.table]), None),
            breaker=found[breaker_table],
        )

    def open_payout(
        self, record_id: str, record: dict[str, Any], payout: dict[str, Any], method: str
    ) -> None:
        """Claim the idempotency key, store the payout and debit its amount, all or nothing."""
        items = [
            self.idempotency.claim_op(record_id, record),
            self.transactions.put_new_op(payout),
            self.customers.debit_op(payout["customer_id"], payout["amount"], method),
        ]
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except Cancelled as cancelled:
            if _CLAIM in cancelled.failed:
                raise AlreadyApplied("the idempotency key was claimed first") from cancelled
            if _BALANCE in cancelled.failed:
                raise InsufficientBalance("the balance does not cover the payout") from cancelled
            raise

    def apply_webhook(self, dedupe_id: str, marker: dict[str, Any], move: Transition) -> None:
        """Claim the webhook's dedupe id and move the payout, together."""
        items = [
            self.idempotency.claim_op(dedupe_id, marker),
            self.transactions.transition_op(move),
        ]
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except Cancelled as cancelled:
            if _CLAIM in cancelled.failed:
                raise AlreadyApplied("this webhook was applied before") from cancelled
            current = cancelled.items[_SUBJECT]
            raise ConditionFailed("the payout cannot make this move", current) from cancelled

    def credit_back(self, payout: dict[str, Any], at: str) -> None:
        """Mark a Rejected/Returned payout refunded and credit its amount, exactly once."""
        items = [self.transactions.mark_refunded_op(payout["transaction_id"], at)]
        items.append(self.customers.credit_op(payout["customer_id"], Decimal(payout["amount"])))
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except Cancelled as cancelled:
            if 0 in cancelled.failed:
                raise AlreadyApplied("already credited, or not refundable") from cancelled
            raise ConditionFailed("the customer to credit does not exist") from cancelled
