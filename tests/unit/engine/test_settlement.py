"""Settlement's decisions when another path got there first, with a scripted store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.clients.razorpay import GatewayPayment
from engine.dal.ddb.payments import ClaimTaken, StaleVersion
from engine.logic.settlement import Settlement
from engine.models.payment import Payment
from engine.models.status import PaymentStatus
from shared.store_errors import Conflict

S = PaymentStatus
MOMENT = datetime(2026, 12, 3, 6, 41, tzinfo=UTC)


def payment(status: S = S.CREATED, version: int = 2, **changes: Any) -> Payment:
    return Payment(
        transaction_id="pay_abcdefghijklmnopqrst",
        loan_account_number="LN0000000001",
        branch_code="BR001",
        customer_id="c",
        amount=Decimal("100.00"),
        status=status,
        created_date="2026-12-03T06:40:00.000Z",
        updated_at="2026-12-03T06:40:00.000Z",
        idempotency_key_hash="h",
        version=version,
        razorpay_order_id="order_A",
    ).with_changes(**changes)


def gateway(status: str = "captured", rzp_id: str = "pay_R1") -> GatewayPayment:
    return GatewayPayment(
        rzp_id, "order_A", Decimal("100.00"), "INR", status, "upi", Decimal("0"), None, None
    )


@dataclass
class Store:
    """Each write answers the next scripted outcome: an exception, or success."""

    script: list[Exception | None]
    current: Payment
    writes: list[str] = field(default_factory=list)

    def _next(self, kind: str) -> None:
        self.writes.append(kind)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome

    def capture(self, p: Payment, capture: Any, claims: Any = ()) -> Payment:
        self._next(f"capture@{p.version}:{capture.receipt_number}")
        return p.with_changes(status=S.CAPTURED, receipt_number=capture.receipt_number)

    def move(self, p: Payment, target: S, at: str, fields: Any = None, claims: Any = ()) -> Payment:
        self._next(f"move@{p.version}:{target}")
        return p.with_changes(status=target, version=p.version + 1, **(fields or {}))

    def get(self, _id: str) -> Payment:
        return self.current


@dataclass
class Counters:
    issued: int = 0

    def next_receipt_sequence(self, branch: str, year: str) -> int:
        self.issued += 1
        return self.issued


@dataclass
class Seen:
    published: list[Payment] = field(default_factory=list)
    outcomes: list[S] = field(default_factory=list)

    def payment_captured(self, p: Payment) -> None:
        self.published.append(p)

    def outcome(self, p: Payment) -> None:
        self.outcomes.append(p.status)


def settlement(store: Store) -> tuple[Settlement, Counters, Seen]:
    counters, seen = Counters(), Seen()
    return Settlement(store, counters, seen, seen, now=lambda: MOMENT), counters, seen  # type: ignore[arg-type]


def test_a_capture_issues_a_receipt_publishes_and_counts_once() -> None:
    store = Store([], payment())
    settle, _, seen = settlement(store)
    captured = settle.capture(payment(), gateway())
    assert captured.receipt_number == "BR001/2026-27/000001"
    assert len(seen.published) == 1 and seen.outcomes == [S.CAPTURED]


def test_losing_the_race_to_another_capture_returns_theirs_and_leaves_a_gap() -> None:
    theirs = payment(S.CAPTURED, 3, receipt_number="BR001/2026-27/000007")
    store = Store([StaleVersion(theirs)], theirs)
    settle, counters, seen = settlement(store)
    assert settle.capture(payment(), gateway()) == theirs
    assert counters.issued == 1  # taken before the transaction, unused: the documented gap
    assert seen.published == [] and seen.outcomes == []


def test_a_moved_payment_is_read_again_and_the_capture_retried_from_there() -> None:
    authorized = payment(S.AUTHORIZED, 3)
    store = Store([StaleVersion(authorized)], authorized)
    settle, _, seen = settlement(store)
    captured = settle.capture(payment(), gateway())
    assert store.writes == ["capture@2:BR001/2026-27/000001", "capture@3:BR001/2026-27/000002"]
    assert captured.status is S.CAPTURED and len(seen.published) == 1


def test_a_duplicate_event_claim_changes_nothing() -> None:
    store = Store([ClaimTaken({})], payment(S.CAPTURED, 3))
    settle, _, seen = settlement(store)
    assert settle.capture(payment(), gateway()).status is S.CAPTURED
    assert seen.published == []


def test_a_payment_that_keeps_changing_is_a_conflict_not_a_guess() -> None:
    store = Store([StaleVersion(None)] * 3, payment())
    settle, _, _ = settlement(store)
    with pytest.raises(Conflict):
        settle.capture(payment(), gateway())


def test_a_failure_after_a_capture_writes_nothing() -> None:
    store = Store([], payment(S.CAPTURED, 3))
    settle, _, seen = settlement(store)
    assert settle.apply(payment(S.CAPTURED, 3), gateway("failed")).status is S.CAPTURED
    assert store.writes == [] and seen.outcomes == []


def test_another_attempts_failure_does_not_fail_the_authorized_one() -> None:
    authorized = payment(S.AUTHORIZED, 3, razorpay_payment_id="pay_R1")
    store = Store([], authorized)
    settle, _, _ = settlement(store)
    assert settle.apply(authorized, gateway("failed", rzp_id="pay_R2")) is authorized
    assert store.writes == []


def test_a_failure_is_counted_as_an_outcome_of_zero() -> None:
    store = Store([], payment())
    settle, _, seen = settlement(store)
    failed = settle.apply(payment(), gateway("failed"))
    assert failed.status is S.FAILED and failed.failure_reason
    assert seen.outcomes == [S.FAILED]


def test_refunds_record_razorpays_running_total_and_only_raise_it() -> None:
    captured = payment(S.CAPTURED, 3)
    store = Store([], captured)
    settle, _, _ = settlement(store)
    partial = settle.refund(captured, Decimal("40.00"))
    assert partial.status is S.CAPTURED and partial.refunded_amount == Decimal("40.00")
    assert settle.refund(partial, Decimal("40.00")) is partial  # repeated: nothing written
    full = settle.refund(partial, Decimal("100.00"))
    assert full.status is S.REFUNDED


def test_an_authorization_refunded_uncaptured_is_a_failure_not_a_receipt() -> None:
    authorized = payment(S.AUTHORIZED, 3, razorpay_payment_id="pay_R1")
    store = Store([], authorized)
    settle, counters, seen = settlement(store)
    refunded = GatewayPayment(
        "pay_R1",
        "order_A",
        Decimal("100.00"),
        "INR",
        "refunded",
        "upi",
        Decimal("100.00"),
        None,
        None,
        captured=False,
    )
    assert settle.apply(authorized, refunded).status is S.FAILED
    assert counters.issued == 0 and seen.published == []


def test_a_captured_then_refunded_payment_is_captured_first() -> None:
    store = Store([], payment())
    settle, counters, _ = settlement(store)
    refunded = GatewayPayment(
        "pay_R1",
        "order_A",
        Decimal("100.00"),
        "INR",
        "refunded",
        "upi",
        Decimal("100.00"),
        None,
        None,
        captured=True,
    )
    after = settle.apply(payment(), refunded)
    assert counters.issued == 1
    assert after.status is S.REFUNDED
