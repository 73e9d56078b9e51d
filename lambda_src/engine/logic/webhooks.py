"""Applying RazorPay's webhooks: payment.authorized, payment.captured, payment.failed,
order.paid and refund.processed, each moving the payment forward only.

RazorPay delivers at least once, in any order, and may send payment.failed before a late
payment.captured; the state machine makes a stale or repeated event change nothing, and the
event's `x-razorpay-event-id` is claimed in the same transaction as the move, so even two
copies racing each other apply once. Which of our payments an event is about comes from the
order: its receipt is our payment id (order.paid carries the order; otherwise the payment's
notes, else RazorPay's order is fetched), and the event must match what we stored (order id,
amount, currency) or it is not applied.

A webhook never captures an authorized payment at RazorPay (that call would not fit the few
seconds RazorPay waits for an answer): the checkout notification does, or the sweeper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.clients.razorpay import GatewayPayment, RazorpayClient, RazorpayError, Refused
from engine.dal.ddb.idempotency import Claim, webhook_claim
from engine.dal.ddb.payments import PaymentStore
from engine.logic.settlement import Settlement
from engine.models.payment import CURRENCY, PAYMENT_ID_PATTERN, Payment
from engine.models.status import PaymentStatus, is_past
from shared import clock, jsonutil

PAYMENT_EVENTS = frozenset({"payment.authorized", "payment.captured", "payment.failed"})
HANDLED = PAYMENT_EVENTS | {"order.paid", "refund.processed"}


class InvalidEvent(ValueError):
    """Authenticated, but not a readable RazorPay event (dead-lettered)."""


class Unappliable(Exception):
    """A readable event that cannot be applied as it stands (dead-lettered for a person or a
    later replay): not our payment, not matching it, or a refund of a payment not captured."""


class Result(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # nothing to do: the payment is already there (or past), or a duplicate
    IGNORED = "ignored"  # an event this service does not subscribe to


@dataclass(frozen=True)
class Event:
    event_id: str | None
    name: str
    payment: GatewayPayment | None
    order_receipt: str | None
    notes: dict[str, Any]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entity(payload: dict[str, Any], name: str) -> dict[str, Any] | None:
    holder = payload.get(name)
    entity = holder.get("entity") if isinstance(holder, dict) else None
    return entity if isinstance(entity, dict) else None


def parse(raw_body: bytes, event_id: str | None) -> Event:
    try:
        body = jsonutil.loads(raw_body)
    except jsonutil.InvalidJson as exc:
        raise InvalidEvent("the body is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise InvalidEvent("the body is not a RazorPay event")
    name = body["event"]
    payload = _object(body.get("payload"))
    payment = _entity(payload, "payment")
    if name in HANDLED and payment is None:
        raise InvalidEvent(f"{name} carries no payment entity")
    try:
        gateway = GatewayPayment.parse(payment) if payment is not None else None
    except RazorpayError as exc:
        raise InvalidEvent(f"{name}'s payment entity is incomplete: {exc}") from exc
    order = _entity(payload, "order") or {}
    notes = _object(payment.get("notes")) if payment else {}
    receipt = order.get("receipt")
    return Event(event_id, name, gateway, receipt if isinstance(receipt, str) else None, notes)


@dataclass
class WebhookProcessor:
    payments: PaymentStore
    settlement: Settlement
    razorpay: RazorpayClient

    def apply(self, event: Event) -> Result:
        if event.name not in HANDLED or event.payment is None:
            return Result.IGNORED
        gateway = event.payment
        payment = self._our_payment(event, gateway)
        claims: tuple[Claim, ...] = ()
        if event.event_id:
            claims = (webhook_claim(event.event_id, payment.transaction_id, int(clock.epoch())),)
        if event.name == "refund.processed":
            after = self._refund(payment, gateway, claims)
        else:
            after = self.settlement.apply(payment, gateway, claims=claims)
        return Result.APPLIED if after.version != payment.version else Result.STALE

    def _our_payment(self, event: Event, gateway: GatewayPayment) -> Payment:
        payment_id = self._payment_id(event, gateway)
        payment = self.payments.get(payment_id)
        if payment is None:
            raise Unappliable("no such payment")
        if payment.razorpay_order_id is None or payment.razorpay_order_id != gateway.order_id:
            raise Unappliable("the event's order is not the payment's")
        if gateway.amount != payment.amount or gateway.currency != CURRENCY:
            raise Unappliable("the event's amount is not the payment's")
        return payment

    def _payment_id(self, event: Event, gateway: GatewayPayment) -> str:
        candidate = event.order_receipt or event.notes.get("payment_id")
        if not isinstance(candidate, str) and gateway.order_id:
            # Notes on a payment are whatever checkout sent; the order is ours. This read of
            # RazorPay is the one transient failure a webhook can have besides our tables.
            try:
                candidate = self.razorpay.order(gateway.order_id).receipt
            except Refused as exc:
                raise Unappliable("RazorPay does not know the event's order") from exc
        if not isinstance(candidate, str) or not re.fullmatch(PAYMENT_ID_PATTERN, candidate):
            raise Unappliable("the event names none of our payments")
        return candidate

    def _refund(
        self, payment: Payment, gateway: GatewayPayment, claims: tuple[Claim, ...]
    ) -> Payment:
        if not gateway.captured:
            raise Unappliable("a refund of a payment RazorPay never captured")
        # A lost capture webhook: the money was captured, so the receipt is issued first.
        captured = self.settlement.capture(payment, gateway)
        if not is_past(captured.status, PaymentStatus.CAPTURED):
            raise Unappliable("the payment could not be captured before its refund")
        return self.settlement.refund(captured, gateway.amount_refunded, claims)
