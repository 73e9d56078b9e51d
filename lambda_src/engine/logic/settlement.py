"""Moving a payment forward from what RazorPay says: the one place every path settles.

The checkout notification, the webhook, the replay of a dead-lettered webhook and the sweeper
all call `capture` and `move`, so they converge: whichever arrives first captures, and the
others find it captured. Each write is conditional on the version read; losing the race
re-reads and decides again (a few times, then `Conflict`).

The receipt number is taken from its counter before the capture's transaction, because a
transaction cannot hand back a counter's value. When the transaction then loses (another path
captured first, with its own number), that number is never used: a gap in the branch's
sequence. Gaps are accepted and rare (two paths capturing the same payment within
milliseconds); a duplicate number never happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from engine.clients.razorpay import GatewayPayment, RazorpayClient, Refused
from engine.dal.ddb.counters import CounterStore
from engine.dal.ddb.idempotency import Claim
from engine.dal.ddb.payments import Capture, ClaimTaken, PaymentStore, StaleVersion
from engine.logic import receipts
from engine.models.payment import METHODS, Payment
from engine.models.status import OUTCOMES, PaymentStatus, is_past
from shared import clock
from shared.store_errors import Conflict

_ATTEMPTS = 3
S = PaymentStatus


class Publisher(Protocol):
    def payment_captured(self, payment: Payment) -> None: ...


class Outcomes(Protocol):
    def outcome(self, payment: Payment) -> None: ...


def method_of(gateway: GatewayPayment) -> str | None:
    return gateway.method if gateway.method in METHODS else None


def capture_at(razorpay: RazorpayClient) -> Callable[[GatewayPayment], GatewayPayment]:
    """Capture an authorized payment at RazorPay (auto-capture off). A refusal is most often
    "already captured" (a capture whose answer was lost, or another path's): RazorPay's
    payment then says what is true. `Unavailable` is the caller's to handle."""

    def capture(gateway: GatewayPayment) -> GatewayPayment:
        try:
            return razorpay.capture(gateway.id, gateway.amount)
        except Refused:
            return razorpay.payment(gateway.id)

    return capture


def failure_facts(gateway: GatewayPayment) -> dict[str, Any]:
    reason = " ".join(p for p in (gateway.error_code, gateway.error_description) if p)
    return {
        "razorpay_payment_id": gateway.id,
        "payment_method": method_of(gateway),
        "failure_reason": reason[:200] or "failed",
    }


@dataclass
class Settlement:
    payments: PaymentStore
    counters: CounterStore
    publisher: Publisher
    outcomes: Outcomes
    now: Callable[[], datetime] = clock.now

    def capture(
        self, payment: Payment, gateway: GatewayPayment, claims: tuple[Claim, ...] = ()
    ) -> Payment:
        """CAPTURED with a receipt and its LMS posting; the payment as it ends up (already
        captured by another path: that one, unchanged)."""
        current = payment
        for _ in range(_ATTEMPTS):
            if is_past(current.status, S.CAPTURED):
                return current
            moment = self.now()
            capture = Capture(
                receipt_number=self._receipt_number(current, moment),
                razorpay_payment_id=gateway.id,
                payment_method=method_of(gateway),
                at=clock.iso(moment),
                now_epoch=int(moment.timestamp()),
            )
            try:
                captured = self.payments.capture(current, capture, claims)
            except ClaimTaken:
                return self._reread(current)
            except StaleVersion as stale:
                current = stale.payment or self._reread(current)
                continue
            self.outcomes.outcome(captured)
            self.publisher.payment_captured(captured)
            return captured
        raise Conflict(f"payment kept changing while being captured ({_ATTEMPTS} reads)")

    def move(
        self,
        payment: Payment,
        target: PaymentStatus,
        fields: dict[str, Any] | None = None,
        claims: tuple[Claim, ...] = (),
    ) -> Payment:
        """A move other than a capture; a payment already at or past `target` is returned as
        it is (a stale or repeated event changes nothing)."""
        current = payment
        for _ in range(_ATTEMPTS):
            if is_past(current.status, target):
                return current
            try:
                moved = self.payments.move(current, target, clock.iso(self.now()), fields, claims)
            except ClaimTaken:
                return self._reread(current)
            except StaleVersion as stale:
                current = stale.payment or self._reread(current)
                continue
            if target in OUTCOMES:
                self.outcomes.outcome(moved)
            return moved
        raise Conflict(f"payment kept changing while moving to {target} ({_ATTEMPTS} reads)")

    def refund(
        self, payment: Payment, refunded_total: Decimal, claims: tuple[Claim, ...] = ()
    ) -> Payment:
        """Record RazorPay's running refunded total (so a repeated or reordered refund event
        changes nothing); refunded in full, the payment is REFUNDED."""
        current = payment
        for _ in range(_ATTEMPTS):
            if current.status is not S.CAPTURED or refunded_total <= current.refunded_amount:
                return current
            target = S.REFUNDED if refunded_total >= current.amount else S.CAPTURED
            fields = {"refunded_amount": min(refunded_total, current.amount)}
            try:
                return self.payments.move(current, target, clock.iso(self.now()), fields, claims)
            except ClaimTaken:
                return self._reread(current)
            except StaleVersion as stale:
                current = stale.payment or self._reread(current)
        raise Conflict(f"payment kept changing while being refunded ({_ATTEMPTS} reads)")

    def apply(
        self,
        payment: Payment,
        gateway: GatewayPayment,
        *,
        capture_authorized: Callable[[GatewayPayment], GatewayPayment] | None = None,
        claims: tuple[Claim, ...] = (),
    ) -> Payment:
        """Move `payment` to what RazorPay's payment says (its order and amount checked by
        the caller). `capture_authorized`, when given, captures an authorized payment at
        RazorPay first (auto-capture is off and this path may call RazorPay)."""
        if gateway.status == "authorized" and capture_authorized is not None:
            gateway = capture_authorized(gateway)
        if gateway.captured:  # captured, or captured and since refunded
            captured = self.capture(payment, gateway, claims)
            if gateway.status == "refunded" and captured.status is S.CAPTURED:
                return self.refund(captured, gateway.amount_refunded)
            return captured
        if gateway.status == "authorized":
            facts = {"razorpay_payment_id": gateway.id, "payment_method": method_of(gateway)}
            return self.move(payment, S.AUTHORIZED, facts, claims)
        if gateway.status in ("failed", "refunded"):  # refunded uncaptured: never ours
            if payment.razorpay_payment_id not in (None, gateway.id):
                return payment  # another attempt failed; the one we follow may still succeed
            return self.move(payment, S.FAILED, failure_facts(gateway), claims)
        return payment  # "created": nothing has happened yet

    def _receipt_number(self, payment: Payment, moment: datetime) -> str:
        year = receipts.financial_year(moment)
        sequence = self.counters.next_receipt_sequence(payment.branch_code, year)
        return receipts.receipt_number(payment.branch_code, year, sequence)

    def _reread(self, payment: Payment) -> Payment:
        found = self.payments.get(payment.transaction_id)
        if found is None:  # the item was there a moment ago: never deleted by the engine
            raise Conflict("payment vanished while being settled")
        return found
