"""The payment sweeper: settles what no webhook or notification settled.

Payments left CREATED or AUTHORIZED for more than a few minutes (the customer closed the
browser, a webhook was lost), and FAILED ones still within the order's lifetime (a late
capture whose webhook was lost), are looked up at RazorPay (`GET /v1/orders/{id}/payments`)
and moved to what RazorPay says, through the same settlement as every other path:

* a captured attempt: captured here, receipt and LMS posting included;
* an authorized attempt: captured at RazorPay, then here. Whatever the auto-capture setting:
  RazorPay auto-captures within minutes, and an authorization it did not capture (a late
  one) would otherwise go back to the customer after three days, unpaid;
* only failed attempts: FAILED;
* nothing paid once the order is older than ORDER_EXPIRY_MINUTES: EXPIRED. A capture that
  still arrives later applies (EXPIRED -> CAPTURED): the customer paid.

A payment whose order was never recorded (the create's order call failed) is looked up by its
receipt (our payment id): found, it is attached and settled; not found and old, it expires.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.clients.razorpay import GatewayPayment, RazorpayClient, RazorpayError
from engine.dal.ddb.payments import PaymentStore, StaleVersion
from engine.logic.settlement import Settlement, capture_at, failure_facts
from engine.models.payment import CURRENCY, Payment
from engine.models.status import PaymentStatus
from shared import clock
from shared.store_errors import StoreError

logger = logging.getLogger(__name__)
S = PaymentStatus
EPOCH = "2000-01-01T00:00:00.000Z"  # before any payment: the index's lower bound
# Seconds to keep in hand per payment (RazorPay calls of up to 12 s each, then the writes):
# the sweep stops starting new ones before the function runs out of time.
_ITEM_SECONDS = 30.0


@dataclass
class Sweeper:
    payments: PaymentStore
    settlement: Settlement
    razorpay: RazorpayClient
    after: timedelta
    expiry: timedelta
    limit: int = 200
    now: Callable[[], datetime] = clock.now
    counts: Counter[str] = field(default_factory=Counter)

    def run(self, remaining_seconds: Callable[[], float]) -> dict[str, int]:
        for payment in self._due():
            if remaining_seconds() < _ITEM_SECONDS:
                self.counts["deferred"] += 1
                continue
            self.counts["examined"] += 1
            try:
                after = self.resolve(payment)
            except (RazorpayError, StoreError) as exc:
                self.counts["errors"] += 1
                logger.warning(
                    "payment not swept",
                    extra={"payment_id": payment.transaction_id, "error": type(exc).__name__},
                )
                continue
            if after.version != payment.version:
                self.counts[after.status.value.lower()] += 1
        return dict(self.counts)

    def _due(self) -> list[Payment]:
        moment = self.now()
        settled_before = clock.iso(moment - self.after)
        lifetime_start = clock.iso(moment - self.expiry)
        due: list[Payment] = []
        for status in (S.CREATED, S.AUTHORIZED):
            due += self.payments.in_status(status, EPOCH, settled_before, self.limit)
        due += self.payments.in_status(S.FAILED, lifetime_start, settled_before, self.limit)
        return due

    def resolve(self, payment: Payment) -> Payment:
        """The payment as RazorPay's record of its order leaves it."""
        if payment.razorpay_order_id is None:
            found = self._recover_order(payment)
            if found is None:
                return self._expire_if_old(payment)
            payment = found
        assert payment.razorpay_order_id is not None
        attempts = self.razorpay.order_payments(payment.razorpay_order_id)
        chosen = _live_attempt(attempts)
        if chosen is not None:
            if chosen.amount != payment.amount or chosen.currency != CURRENCY:
                logger.error(
                    "RazorPay's amount differs", extra={"payment_id": payment.transaction_id}
                )
                return payment
            return self.settlement.apply(
                payment, chosen, capture_authorized=capture_at(self.razorpay)
            )
        if self._is_old(payment):
            return self._expire_if_old(payment)
        failed = [a for a in attempts if a.status in ("failed", "refunded")]
        if failed and payment.status is S.CREATED:
            return self.settlement.move(payment, S.FAILED, failure_facts(failed[0]))
        return payment

    def _recover_order(self, payment: Payment) -> Payment | None:
        order = self.razorpay.order_by_receipt(payment.transaction_id)
        if order is None or order.amount != payment.amount:
            return None
        try:
            return self.payments.attach_order(payment, order.id, clock.iso(self.now()))
        except StaleVersion as stale:
            return stale.payment  # attached meanwhile (a retried create): settle that

    def _is_old(self, payment: Payment) -> bool:
        return clock.parse_iso(payment.created_date) <= self.now() - self.expiry

    def _expire_if_old(self, payment: Payment) -> Payment:
        if payment.status not in (S.CREATED, S.AUTHORIZED) or not self._is_old(payment):
            return payment
        return self.settlement.move(payment, S.EXPIRED, {"failure_reason": "order expired unpaid"})


def _live_attempt(attempts: list[GatewayPayment]) -> GatewayPayment | None:
    """The attempt that decides the payment: a captured one, else an authorized one."""
    captured = [a for a in attempts if a.captured]
    authorized = [a for a in attempts if a.status == "authorized"]
    chosen = captured or authorized
    return chosen[0] if chosen else None
