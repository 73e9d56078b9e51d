"""Repayments in the Transactions table: each business write is one unit of work here.

Every move of a payment is conditional on the (status, version) it was read at, and raises
in domain terms when it did not happen:

* `ClaimTaken`: an idempotency claim in the same transaction exists (a duplicate request or
  webhook); it carries the first claim's attributes;
* `StaleVersion`: the payment is not as it was read (another path moved it); it carries the
  payment as it now stands when DynamoDB returned it;
* `NotPayable`: the loan's captured-not-yet-synced total leaves less payable than asked;
* `Conflict` (shared.store_errors): still conflicting or throttled after the retries.

A cancelled transaction is never read as success, nor a conflict as a failed condition
(shared.ddb_writes tells them apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.dal.ddb.counters import CounterStore
from engine.dal.ddb.idempotency import Claim
from engine.dal.ddb.queue import QueueStore
from engine.models.payment import Payment
from engine.models.status import PaymentStatus, allowed_from, can_move
from shared import cursors, ddb, ddb_writes
from shared.ddb_writes import Cancelled
from shared.store_errors import AlreadyApplied, ConditionFailed

LOAN_INDEX = "LoanAccountIndex"
STATUS_INDEX = "StatusIndex"
_CURSOR_KEYS = ("transaction_id", "loan_account_number", "created_date")
MAX_PAGE = 100


class ClaimTaken(AlreadyApplied):
    def __init__(self, record: dict[str, Any] | None) -> None:
        super().__init__("the idempotency claim exists")
        self.record = record or {}


class StaleVersion(ConditionFailed):
    def __init__(self, payment: Payment | None) -> None:
        super().__init__("the payment is not as it was read")
        self.payment = payment


class NotPayable(ConditionFailed):
    def __init__(self, counter: dict[str, Any] | None) -> None:
        super().__init__("captured-not-yet-synced leaves less payable", counter)
        self.captured = Decimal((counter or {}).get("captured", 0))


@dataclass(frozen=True)
class Capture:
    """What the capture records beside the status (RazorPay's payment and our receipt)."""

    receipt_number: str
    razorpay_payment_id: str
    payment_method: str | None
    at: str
    now_epoch: int


class PaymentStore:
    def __init__(
        self,
        client: Any,
        table: str,
        *,
        idempotency_table: str,
        counters: CounterStore,
        queue: QueueStore,
        retry: ddb_writes.Retry = ddb_writes.DEFAULT_RETRY,
    ) -> None:
        self.client = client
        self.table = table
        self.idempotency_table = idempotency_table
        self.counters = counters
        self.queue = queue
        self.retry = retry

    # ------------------------------------------------------------------ reads

    def get(self, transaction_id: str) -> Payment | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=ddb.to_item({"transaction_id": transaction_id}),
            ConsistentRead=True,
        )
        return self.from_read(ddb.from_item(response.get("Item")))

    def read_op(self, transaction_id: str) -> dict[str, Any]:
        """The payment as one item of another store's transactional read (the portal reads
        it with the customer's session: engine.dal.ddb.sessions.SessionStore.session_with);
        `from_read` turns what comes back into the payment, as `get` answers."""
        key = ddb.to_item({"transaction_id": transaction_id})
        return {"Get": {"TableName": self.table, "Key": key}}

    @staticmethod
    def from_read(item: dict[str, Any] | None) -> Payment | None:
        return Payment.from_item(item) if item else None

    def history(
        self, loan_account_number: str, cursor: str | None, limit: int
    ) -> tuple[list[Payment], str | None]:
        """The loan's payments newest first; raises shared.cursors.BadCursor for a cursor
        not issued for this loan."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": LOAN_INDEX,
            "KeyConditionExpression": "loan_account_number = :l",
            "ExpressionAttributeValues": ddb.values({":l": loan_account_number}),
            "ScanIndexForward": False,
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        if cursor:
            scope = ("loan_account_number", loan_account_number)
            start = cursors.decode(cursor, _CURSOR_KEYS, scope, "loan")
            kwargs["ExclusiveStartKey"] = ddb.to_item(start)
        response = self.client.query(**kwargs)
        payments = [Payment.from_item(ddb.from_item(i) or {}) for i in response.get("Items", [])]
        last = ddb.from_item(response.get("LastEvaluatedKey"))
        return payments, cursors.encode(last, _CURSOR_KEYS) if last else None

    def in_status(
        self, status: PaymentStatus, created_after: str, created_before: str, limit: int
    ) -> list[Payment]:
        """Payments in `status` created in (created_after, created_before), oldest first."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s AND created_date BETWEEN :after AND :before",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": ddb.values(
                {":s": status.value, ":after": created_after, ":before": created_before}
            ),
        }
        found: list[Payment] = []
        while len(found) < limit:
            response = self.client.query(**kwargs, Limit=limit - len(found))
            found += [Payment.from_item(ddb.from_item(i) or {}) for i in response["Items"]]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    # ------------------------------------------------------------------ units of work

    def open(self, payment: Payment, claim: Claim, payable_ceiling: Decimal) -> None:
        """The idempotency claim, the CREATED payment and the payable check, all or nothing."""
        items = [
            claim.op(self.idempotency_table),
            {
                "Put": {
                    "TableName": self.table,
                    "Item": ddb.to_item(payment.to_item()),
                    "ConditionExpression": "attribute_not_exists(transaction_id)",
                }
            },
            self.counters.payable_check_op(payment.loan_account_number, payable_ceiling),
        ]
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except Cancelled as cancelled:
            if 0 in cancelled.failed:
                raise ClaimTaken(cancelled.items[0]) from cancelled
            if 2 in cancelled.failed:
                raise NotPayable(cancelled.items[2]) from cancelled
            raise

    def attach_order(self, payment: Payment, order_id: str, at: str) -> Payment:
        """Record RazorPay's order on the payment; the same order again changes nothing, and
        another order (RazorPay ignored `unique_receipt`) is refused: the first one stays."""
        if payment.razorpay_order_id == order_id:
            return payment
        request = {
            "TableName": self.table,
            "Key": ddb.to_item({"transaction_id": payment.transaction_id}),
            "UpdateExpression": "SET razorpay_order_id = :o, updated_at = :at ADD version :one",
            "ConditionExpression": "attribute_exists(transaction_id) "
            "AND attribute_not_exists(razorpay_order_id)",
            "ExpressionAttributeValues": ddb.values({":o": order_id, ":at": at, ":one": 1}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            ddb_writes.update(self.client, request, self.retry)
        except ConditionFailed as failed:
            raise StaleVersion(_payment(failed.current)) from failed
        return payment.with_changes(
            razorpay_order_id=order_id, updated_at=at, version=payment.version + 1
        )

    def move(
        self,
        payment: Payment,
        target: PaymentStatus,
        at: str,
        fields: dict[str, Any] | None = None,
        claims: tuple[Claim, ...] = (),
    ) -> Payment:
        """One forward move (or, with target == CAPTURED on a captured payment, a refund's
        facts), conditional on the status and version read."""
        changes = {k: v for k, v in (fields or {}).items() if v is not None}
        items = [c.op(self.idempotency_table) for c in claims]
        items.append(self._move_op(payment, target, at, changes))
        self._transact(items, len(claims))
        return payment.with_changes(
            status=target, updated_at=at, version=payment.version + 1, **changes
        )

    def capture(
        self, payment: Payment, capture: Capture, claims: tuple[Claim, ...] = ()
    ) -> Payment:
        """CAPTURED with its receipt, the loan's captured total, the LMS posting: together."""
        captured = payment.with_changes(
            status=PaymentStatus.CAPTURED,
            receipt_number=capture.receipt_number,
            razorpay_payment_id=capture.razorpay_payment_id,
            payment_method=capture.payment_method,
            captured_at=capture.at,
            failure_reason=None,
            updated_at=capture.at,
            version=payment.version + 1,
        )
        facts = {
            "receipt_number": capture.receipt_number,
            "razorpay_payment_id": capture.razorpay_payment_id,
            "payment_method": capture.payment_method,
            "captured_at": capture.at,
        }
        fields = {k: v for k, v in facts.items() if v is not None}
        items = [c.op(self.idempotency_table) for c in claims]
        move = self._move_op(payment, PaymentStatus.CAPTURED, capture.at, fields)
        move["Update"]["UpdateExpression"] += " REMOVE failure_reason"
        items.append(move)
        items.append(
            self.counters.add_captured_op(payment.loan_account_number, payment.amount, capture.at)
        )
        items.append(self.queue.lms_receipt_op(captured, capture.now_epoch))
        self._transact(items, len(claims))
        return captured

    # ------------------------------------------------------------------ helpers

    def _move_op(
        self, payment: Payment, target: PaymentStatus, at: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        # CAPTURED -> CAPTURED records a partial refund's facts; every other move is declared.
        refund_facts = target is PaymentStatus.CAPTURED and payment.status is target
        if not (refund_facts or can_move(payment.status, target)):
            raise ValueError(f"{payment.status} -> {target} is not a declared transition")
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":to": target.value,
            ":at": at,
            ":v": payment.version,
            ":next": payment.version + 1,
        }
        sets = ["#status = :to", "updated_at = :at", "version = :next"]
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        sources = {payment.status} if refund_facts else allowed_from(target)
        placeholders = []
        for i, state in enumerate(sorted(sources)):
            values[f":from{i}"] = state.value
            placeholders.append(f":from{i}")
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item({"transaction_id": payment.transaction_id}),
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": "version = :v AND #status IN ("
                + ", ".join(placeholders)
                + ")",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.values(values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _transact(self, items: list[dict[str, Any]], subject: int) -> None:
        """Items before `subject` are claims, `subject` is the payment's move."""
        try:
            ddb_writes.transact(self.client, items, self.retry)
        except Cancelled as cancelled:
            for index in cancelled.failed:
                if index < subject:
                    raise ClaimTaken(cancelled.items[index]) from cancelled
            if subject in cancelled.failed:
                raise StaleVersion(_payment(cancelled.items[subject])) from cancelled
            raise


def _payment(item: dict[str, Any] | None) -> Payment | None:
    return Payment.from_item(item) if item else None
