"""The repayment state machine: every move declared here, every move a conditional write.

RazorPay delivers at least once and in no particular order, and a failed UPI payment can be
captured minutes later, so a payment only moves along the edges below: a failure never
overrides a capture, a capture after a failure (or after we expired the order) still applies,
because the money was taken. A partial refund raises `refunded_amount` and stays CAPTURED;
only a full refund moves to REFUNDED.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    CREATED = "CREATED"  # our record and (once attached) a RazorPay order; nothing paid yet
    AUTHORIZED = "AUTHORIZED"  # the bank approved; RazorPay holds it until it is captured
    CAPTURED = "CAPTURED"  # the money is ours: receipt issued, LMS posting queued
    FAILED = "FAILED"  # the attempt failed; a late capture may still follow
    EXPIRED = "EXPIRED"  # no payment within the order's lifetime
    REFUNDED = "REFUNDED"  # refunded in full


S = PaymentStatus

# target -> the states it may be reached from.
_ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.AUTHORIZED: frozenset({S.CREATED}),
    # EXPIRED -> CAPTURED: a customer who paid an order we had given up on has still paid;
    # refusing the capture would keep their money without a receipt.
    S.CAPTURED: frozenset({S.CREATED, S.AUTHORIZED, S.FAILED, S.EXPIRED}),
    S.FAILED: frozenset({S.CREATED, S.AUTHORIZED}),
    S.EXPIRED: frozenset({S.CREATED, S.AUTHORIZED}),
    S.REFUNDED: frozenset({S.CAPTURED}),
    S.CREATED: frozenset(),
}

# Payments the sweeper asks RazorPay about: nothing final has been heard for them yet.
OPEN = frozenset({S.CREATED, S.AUTHORIZED})
# What payment_success_rate counts as an outcome (100 for a capture, 0 otherwise).
OUTCOMES = frozenset({S.CAPTURED, S.FAILED, S.EXPIRED})


def allowed_from(target: PaymentStatus) -> frozenset[PaymentStatus]:
    return _ALLOWED_FROM[target]


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    return current in _ALLOWED_FROM[target]


def is_past(current: PaymentStatus, target: PaymentStatus) -> bool:
    """`current` already says at least what `target` would (a stale or repeated event)."""
    if current is target:
        return True
    return not can_move(current, target)
