"""What the RazorPay simulator knows: orders, payments and refunds, and the rules that move them.

No HTTP here. Each operation runs under one lock and returns the entity views it answers with
plus the events it caused (:class:`Emitted`, payloads built from the entities at that moment),
which the server signs and delivers. State only moves forward:

* order ``created`` -> ``attempted`` (a payment was tried) -> ``paid`` (one was captured); a paid
  order takes no further payment;
* payment ``authorized`` -> ``captured`` -> ``refunded`` (once fully refunded), or ``failed``; a
  ``failed_then_captured`` payment is ``failed`` until :meth:`Ledger.late_capture`.

``unique_receipt: true`` returns the order already made for that receipt (whatever else the body
says) instead of a second one; the lock makes that hold for concurrent creates too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from simulators.razorpay.entities import METHODS, Order, Payment, Refund, new_id
from simulators.razorpay.errors import RazorpayError, bad_request, no_such_id
from simulators.razorpay.rules import CaptureRequest, OrderRequest, RefundRequest

__all__ = ["OUTCOMES", "Emitted", "Ledger"]

OUTCOMES = ("captured", "authorized", "failed", "failed_then_captured")


@dataclass(frozen=True)
class Emitted:
    """An event that happened: its name and payload, and the ids it concerns."""

    name: str
    payload: dict[str, Any]
    payment_id: str | None = None
    order_id: str | None = None
    refund_id: str | None = None


def _payment_event(name: str, payment: Payment) -> Emitted:
    payload = {"payment": {"entity": payment.view()}}
    return Emitted(name, payload, payment.id, payment.order_id)


def _order_paid(payment: Payment, order: Order) -> Emitted:
    payload = {"payment": {"entity": payment.view()}, "order": {"entity": order.view()}}
    return Emitted("order.paid", payload, payment.id, order.id)


def _refund_processed(refund: Refund, payment: Payment) -> Emitted:
    payload = {"refund": {"entity": refund.view()}, "payment": {"entity": payment.view()}}
    return Emitted("refund.processed", payload, payment.id, payment.order_id, refund.id)


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._orders: dict[str, Order] = {}
            self._payments: dict[str, Payment] = {}
            self._refunds: dict[str, Refund] = {}
            self._by_receipt: dict[str, Order] = {}
            self._refund_keys: dict[str, tuple[str, tuple[Any, ...], str]] = {}

    # ------------------------------------------------------------------ reads

    def order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            return self._order(order_id).view()

    def orders(self, receipt: str | None = None) -> list[dict[str, Any]]:
        """Orders oldest first, optionally only those with ``receipt``."""
        with self._lock:
            return [
                order.view()
                for order in self._orders.values()
                if receipt is None or order.receipt == receipt
            ]

    def payment(self, payment_id: str) -> dict[str, Any]:
        with self._lock:
            return self._payment(payment_id).view()

    def payments(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Payments oldest first; ``order_id`` must name an order when given."""
        with self._lock:
            if order_id is not None:
                self._order(order_id)
            return [
                payment.view()
                for payment in self._payments.values()
                if order_id is None or payment.order_id == order_id
            ]

    def refund(self, refund_id: str) -> dict[str, Any]:
        with self._lock:
            refund = self._refunds.get(refund_id)
            if refund is None:
                raise no_such_id()
            return refund.view()

    def refunds(self, payment_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if payment_id is not None:
                self._payment(payment_id)
            return [
                refund.view()
                for refund in self._refunds.values()
                if payment_id is None or refund.payment_id == payment_id
            ]

    def _order(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise no_such_id()
        return order

    def _payment(self, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise no_such_id()
        return payment

    # ------------------------------------------------------------------ orders

    def create_order(self, request: OrderRequest) -> tuple[dict[str, Any], bool]:
        """``(order, created)``; ``created`` is False when ``unique_receipt`` found one."""
        with self._lock:
            receipt = request.receipt if request.unique_receipt else None
            existing = self._by_receipt.get(receipt) if receipt is not None else None
            if existing is not None:
                return existing.view(), False
            order = Order(
                id=new_id("order"),
                amount=request.amount,
                currency=request.currency,
                receipt=request.receipt,
                notes=request.notes,
                partial_payment=request.partial_payment,
            )
            self._orders[order.id] = order
            if order.receipt is not None:
                self._by_receipt.setdefault(order.receipt, order)
            return order.view(), True

    # ------------------------------------------------------------------ checkout

    def checkout(
        self, order_id: str, outcome: str, method: str, email: str, contact: str
    ) -> tuple[dict[str, Any], list[Emitted]]:
        """Pay an order as Standard Checkout would; raises as :meth:`check_checkout`."""
        with self._lock:
            order = self._payable(order_id, outcome, method)
            payment = Payment(
                id=new_id("pay"),
                order_id=order.id,
                amount=order.amount - order.amount_paid,
                currency=order.currency,
                method=method,
                email=email,
                contact=contact,
                notes=dict(order.notes),
            )
            self._payments[payment.id] = payment
            order.attempts += 1
            order.status = "attempted"
            return payment.view(), self._settle(payment, order, outcome)

    def check_checkout(self, order_id: str, outcome: str | None, method: str) -> None:
        """Raises ``ValueError`` (bad outcome or method), ``LookupError`` (no such order) or
        ``RuntimeError`` (the order is paid: "no further payment requests are permitted")."""
        with self._lock:
            self._payable(order_id, outcome or OUTCOMES[0], method)

    def _payable(self, order_id: str, outcome: str, method: str) -> Order:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {list(OUTCOMES)}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}")
        order = self._orders.get(order_id)
        if order is None:
            raise LookupError(f"no order {order_id!r}")
        if order.status == "paid":
            raise RuntimeError(f"order {order_id} is already paid")
        return order

    def _settle(self, payment: Payment, order: Order, outcome: str) -> list[Emitted]:
        if outcome in ("failed", "failed_then_captured"):
            payment.fail()
            return [_payment_event("payment.failed", payment)]
        payment.authorize()
        emitted = [_payment_event("payment.authorized", payment)]
        if outcome == "captured":
            emitted += self._capture(payment, order)
        return emitted

    def _capture(self, payment: Payment, order: Order) -> list[Emitted]:
        payment.capture()
        order.amount_paid = min(order.amount, order.amount_paid + payment.amount)
        order.status = "paid"
        return [_payment_event("payment.captured", payment), _order_paid(payment, order)]

    def late_capture(self, payment_id: str) -> list[Emitted]:
        """The bank's late success for a failed payment; nothing if it is no longer failed."""
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None or payment.status != "failed":
                return []
            return self._capture(payment, self._orders[payment.order_id])

    # ------------------------------------------------------------------ capture and refund

    def capture(
        self, payment_id: str, request: CaptureRequest
    ) -> tuple[dict[str, Any], list[Emitted]]:
        with self._lock:
            payment = self._payment(payment_id)
            if payment.status in ("captured", "refunded"):
                raise bad_request("This payment has already been captured")
            if payment.status != "authorized":
                raise bad_request(
                    "Only payments which have been authorized and not yet captured can be captured"
                )
            if request.amount != payment.amount:
                raise bad_request("Capture amount must be equal to the amount authorized", "amount")
            if request.currency != payment.currency:
                raise bad_request("Currency should be same as payment currency", "currency")
            emitted = self._capture(payment, self._orders[payment.order_id])
            return payment.view(), emitted

    def refund_payment(
        self, payment_id: str, request: RefundRequest, key: str | None
    ) -> tuple[dict[str, Any], list[Emitted]]:
        """A processed refund; a repeated ``key`` with the same request returns the first."""
        with self._lock:
            payment = self._payment(payment_id)
            if key is not None and key in self._refund_keys:
                return self._replayed_refund(key, payment_id, request), []
            refund = self._new_refund(payment, request)
            payment.refund(refund.amount)
            self._refunds[refund.id] = refund
            if key is not None:
                self._refund_keys[key] = (payment_id, request.fingerprint(), refund.id)
            return refund.view(), [_refund_processed(refund, payment)]

    def _replayed_refund(self, key: str, payment_id: str, request: RefundRequest) -> dict[str, Any]:
        first_payment, fingerprint, refund_id = self._refund_keys[key]
        if (first_payment, fingerprint) != (payment_id, request.fingerprint()):
            raise bad_request(
                "X-Refund-Idempotency was already used for a different refund request",
                "X-Refund-Idempotency",
            )
        return self._refunds[refund_id].view()

    @staticmethod
    def _new_refund(payment: Payment, request: RefundRequest) -> Refund:
        if payment.status == "refunded":
            raise bad_request("The payment has been fully refunded already")
        if payment.status != "captured":
            raise bad_request("Only captured payments can be refunded")
        remaining = payment.amount - payment.amount_refunded
        amount = remaining if request.amount is None else request.amount
        if amount > remaining:
            raise RazorpayError(
                400,
                "The refund amount provided is greater than amount captured and not yet refunded",
                field="amount",
            )
        return Refund(
            id=new_id("rfnd"),
            payment_id=payment.id,
            amount=amount,
            currency=payment.currency,
            notes=request.notes,
            receipt=request.receipt,
            speed_requested=request.speed,
        )
