"""A customer's repayment: create it (our record, then RazorPay's order), take the checkout's
notification, and read it back.

Create records first and calls RazorPay second. The CREATED payment and the Idempotency-Key's
claim are written in one transaction before the order is asked for, and the order's receipt
is our payment id with `unique_receipt`, so every retry of the request (after a timeout, a
5xx, or twenty at once) reuses the one payment and gets RazorPay's one order for it.

The amount is checked against what is payable: outstanding less what was captured but is not
yet in PostgreSQL (the loan's captured counter less PostgreSQL's applied total). That check is
a condition of the same transaction, so no read of the counter is needed and two concurrent
creates cannot both pass on a stale read of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from engine.clients.razorpay import (
    GatewayPayment,
    RazorpayClient,
    Refused,
    Unavailable,
    checkout_signature_ok,
)
from engine.dal.ddb import idempotency as claims
from engine.dal.ddb.idempotency import IdempotencyStore
from engine.dal.ddb.payments import ClaimTaken, NotPayable, PaymentStore, StaleVersion
from engine.logic.settlement import Settlement, capture_at
from engine.models.payment import CURRENCY, Payment, new_payment_id
from engine.models.portal import CreatePaymentRequest, PaymentNotificationRequest
from engine.models.status import PaymentStatus, is_past
from shared import clock
from shared.http import Conflict, NotFound, ServiceUnavailable, Unprocessable, ValidationError

if TYPE_CHECKING:  # PostgreSQL's row type: only a create reads one (psycopg on first use)
    from engine.dal.pg.payable import LoanPosition

logger = logging.getLogger(__name__)
MIN_AMOUNT = Decimal("1.00")
RETRY_AFTER = {"Retry-After": "2"}


class Positions(Protocol):
    def position(self, loan_account_number: str) -> LoanPosition | None: ...


@dataclass(frozen=True)
class Created:
    payment: Payment
    key_id: str
    replayed: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment.transaction_id,
            "razorpay_order_id": self.payment.razorpay_order_id,
            "razorpay_key_id": self.key_id,
            "amount": self.payment.amount,
            "currency": self.payment.currency,
        }


def _issue(field: str, text: str) -> list[dict[str, str]]:
    return [{"field": field, "issue": text}]


def _refuse(code: str, message: str, **facts: Any) -> Unprocessable:
    details = [{"field": "amount", "issue": message, **facts}] if code.startswith("AMOUNT") else []
    return Unprocessable(message, code=code, details=details)


@dataclass
class PaymentService:
    payments: PaymentStore
    idempotency: IdempotencyStore
    positions: Positions
    razorpay: RazorpayClient
    settlement: Settlement
    max_amount: Decimal
    auto_capture: bool

    # ------------------------------------------------------------------ create

    def create(self, request: CreatePaymentRequest, key: str, session_loan: str) -> Created:
        loan_number = request.loan_account_number
        if loan_number != session_loan:
            raise NotFound("no such loan account")  # another loan's: nothing leaked
        amount = request.amount.quantize(Decimal("0.01"))
        self._check_limits(amount)
        position = self.positions.position(loan_number)
        if position is None:
            raise NotFound("no such loan account")
        key_hash = claims.key_hash(loan_number, key)
        fingerprint = claims.fingerprint(loan_number, amount)
        refusal = self._refusal(position, amount)
        if refusal is not None:
            # A retry of a request that succeeded may find the loan paid down since: replay.
            earlier = self.idempotency.get(claims.payment_request_id(key_hash))
            if earlier is None:
                raise refusal
            return self._replay(earlier, fingerprint)
        payment = self._new_payment(position, amount, key_hash)
        claim = claims.request_claim(key_hash, fingerprint, payment.transaction_id, _epoch())
        ceiling = position.outstanding + position.applied - amount
        try:
            self.payments.open(payment, claim, ceiling)
        except ClaimTaken as taken:
            return self._replay(taken.record, fingerprint)
        except NotPayable as short:
            payable = position.outstanding - (short.captured - position.applied)
            raise _refuse(
                "AMOUNT_EXCEEDS_OUTSTANDING",
                "more than is payable now: a recent payment is still being applied",
                payable=f"{max(payable, Decimal('0.00')):.2f}",
            ) from short
        return self._with_order(payment, replayed=False)

    def _check_limits(self, amount: Decimal) -> None:
        if amount < MIN_AMOUNT:
            raise _refuse("AMOUNT_BELOW_MINIMUM", f"the minimum payment is {MIN_AMOUNT}")
        if amount > self.max_amount:
            raise _refuse("AMOUNT_ABOVE_MAXIMUM", f"the maximum payment is {self.max_amount}")

    @staticmethod
    def _refusal(position: LoanPosition, amount: Decimal) -> Unprocessable | None:
        if position.is_closed:
            return Unprocessable("this loan account takes no payments", code="LOAN_CLOSED")
        if not position.branch_code:
            # A receipt is numbered in its branch's sequence: without one none can be issued.
            return Unprocessable("this loan cannot be paid online", code="LOAN_NOT_PAYABLE")
        if amount > position.outstanding:
            return _refuse(
                "AMOUNT_EXCEEDS_OUTSTANDING",
                "more than the outstanding balance",
                payable=f"{position.outstanding:.2f}",
            )
        return None

    @staticmethod
    def _new_payment(position: LoanPosition, amount: Decimal, key_hash: str) -> Payment:
        at = clock.iso(clock.now())
        return Payment(
            transaction_id=new_payment_id(),
            loan_account_number=position.loan_account_number,
            branch_code=position.branch_code or "",
            customer_id=position.customer_id or "",
            amount=amount,
            status=PaymentStatus.CREATED,
            created_date=at,
            updated_at=at,
            idempotency_key_hash=key_hash,
        )

    def _replay(self, record: dict[str, Any], fingerprint: str) -> Created:
        if record.get("fingerprint") != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used with a different request body",
                details=_issue("Idempotency-Key", "reused with a different body"),
            )
        payment = self.payments.get(str(record.get("payment_id")))
        if payment is None:  # written with its claim, in one transaction: never happens
            raise ServiceUnavailable("the payment is not readable yet", headers=RETRY_AFTER)
        return self._with_order(payment, replayed=True)

    def _with_order(self, payment: Payment, *, replayed: bool) -> Created:
        """The payment with its RazorPay order, asked for now if it has none yet (a first
        request, or a retry of one whose order call failed)."""
        if payment.razorpay_order_id is None:
            payment = self._attach_order(payment)
        return Created(payment, self.razorpay.credentials().key_id, replayed)

    def _attach_order(self, payment: Payment) -> Payment:
        if payment.status is not PaymentStatus.CREATED:
            raise Unprocessable(
                "this payment has expired; start a new one with a new Idempotency-Key",
                code="PAYMENT_EXPIRED",
            )
        notes = {
            "payment_id": payment.transaction_id,
            "loan_account_number": payment.loan_account_number,
            "branch_code": payment.branch_code,
        }
        try:
            order = self.razorpay.create_order(payment.transaction_id, payment.amount, notes)
        except Unavailable as exc:
            raise ServiceUnavailable(
                "RazorPay is unavailable; retry with the same Idempotency-Key",
                headers=RETRY_AFTER,
            ) from exc
        except Refused as exc:
            logger.error("RazorPay refused an order", extra={"code": exc.code})
            raise ServiceUnavailable("RazorPay refused the order", headers=RETRY_AFTER) from exc
        if order.amount != payment.amount or order.receipt != payment.transaction_id:
            logger.error("RazorPay's order is not this payment's", extra={"order_id": order.id})
            raise ServiceUnavailable("RazorPay answered with another order", headers=RETRY_AFTER)
        try:
            return self.payments.attach_order(payment, order.id, clock.iso(clock.now()))
        except StaleVersion as stale:
            current = stale.payment or self.payments.get(payment.transaction_id)
            if current is None or current.razorpay_order_id is None:
                raise
            if current.razorpay_order_id != order.id:
                # RazorPay made a second order despite unique_receipt: the first one stays
                # ours; the other is never shown to the customer and expires unpaid.
                logger.warning(
                    "second RazorPay order for one payment", extra={"order_id": order.id}
                )
            return current

    # ------------------------------------------------------------------ read

    def owned(self, payment_id: str, session_loan: str) -> Payment:
        return owned(self.payments.get(payment_id), session_loan)

    # ------------------------------------------------------------------ notification

    def notify(self, request: PaymentNotificationRequest, session_loan: str) -> Payment:
        """Checkout says the customer paid: believe RazorPay, not the browser."""
        return self.notify_read(request, session_loan, self.payments.get(request.payment_id))

    def notify_read(
        self, request: PaymentNotificationRequest, session_loan: str, read: Payment | None
    ) -> Payment:
        """`notify` for the payment as the caller read it (None: there is none), e.g. with
        the customer's session in one request."""
        payment = owned(read, session_loan)
        self._verify(payment, request)
        if is_past(payment.status, PaymentStatus.CAPTURED):
            return payment  # the webhook (or an earlier notification) got here first
        gateway = self._fetch(request.razorpay_payment_id)
        self._check_matches(payment, gateway)
        capture = None if self.auto_capture else capture_at(self.razorpay)
        try:
            return self.settlement.apply(payment, gateway, capture_authorized=capture)
        except Unavailable as exc:
            raise ServiceUnavailable("RazorPay is unavailable; retry", headers=RETRY_AFTER) from exc

    def _verify(self, payment: Payment, request: PaymentNotificationRequest) -> None:
        stored = payment.razorpay_order_id
        secret = self.razorpay.credentials().key_secret
        signed = stored is not None and checkout_signature_ok(
            stored, request.razorpay_payment_id, request.razorpay_signature, secret
        )
        if not signed:
            raise ValidationError(
                "the payment signature does not verify",
                details=_issue("razorpay_signature", "does not verify for this payment"),
            )
        if request.razorpay_order_id != stored:
            raise ValidationError(
                "the order is not this payment's",
                details=_issue("razorpay_order_id", "is not this payment's order"),
            )

    def _fetch(self, razorpay_payment_id: str) -> GatewayPayment:
        try:
            return self.razorpay.payment(razorpay_payment_id)
        except Unavailable as exc:
            raise ServiceUnavailable("RazorPay is unavailable; retry", headers=RETRY_AFTER) from exc
        except Refused as exc:
            raise ValidationError(
                "RazorPay does not know this payment",
                details=_issue("razorpay_payment_id", "unknown to RazorPay"),
            ) from exc

    @staticmethod
    def _check_matches(payment: Payment, gateway: GatewayPayment) -> None:
        if gateway.order_id != payment.razorpay_order_id:
            raise ValidationError(
                "the RazorPay payment is for another order",
                details=_issue("razorpay_payment_id", "belongs to another order"),
            )
        if gateway.amount != payment.amount or gateway.currency != CURRENCY:
            logger.error(
                "RazorPay's amount differs from the payment's",
                extra={"payment_id": payment.transaction_id, "razorpay_payment_id": gateway.id},
            )
            raise Unprocessable("the amount paid is not this payment's", code="AMOUNT_MISMATCH")


def owned(payment: Payment | None, session_loan: str) -> Payment:
    """The payment if the session's loan owns it; none and another loan's answer alike."""
    if payment is None or payment.loan_account_number != session_loan:
        raise NotFound("no such payment")  # another loan's payment looks like none
    return payment


def _epoch() -> int:
    return int(clock.epoch())
