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
    # A wrong receipt cancelled by its branch's manager (engine.logic.collections): only staff
    # collections (channel FIELD or BRANCH) take it; a portal payment is refunded instead.
    CANCELLED = "CANCELLED"


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
    S.CANCELLED: frozenset({S.CAPTURED}),
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


class PostingStatus(StrEnum):
    """An outbox item's posting to another system (the LMS receipt posting first).

    Every claim marks the item in doubt before the call goes out, so a poster that dies
    mid-call leaves an item the next claimer resolves (asks the LMS by reference) before it
    posts again: an attempt whose outcome is unknown is never repeated blind.
    """

    PENDING = "PENDING"  # due at retry_timestamp
    IN_FLIGHT = "IN_FLIGHT"  # claimed by a poster until its lease ends (retry_timestamp)
    POSTED = "POSTED"  # the other system has it (final; the item expires by TTL)
    EXCEPTION = "EXCEPTION"  # refused, or out of attempts: waits for a person
    RESOLVED = "RESOLVED"  # a person settled it outside the poster (final)


P = PostingStatus
_POSTING_FROM: dict[PostingStatus, frozenset[PostingStatus]] = {
    P.PENDING: frozenset({P.IN_FLIGHT, P.EXCEPTION}),  # a retry, or a person's "retry now"
    # From IN_FLIGHT too: a lease that ran out is claimed again.
    P.IN_FLIGHT: frozenset({P.PENDING, P.IN_FLIGHT}),
    P.POSTED: frozenset({P.IN_FLIGHT}),
    P.EXCEPTION: frozenset({P.IN_FLIGHT}),
    P.RESOLVED: frozenset({P.EXCEPTION}),
}
# Items the poster may still take (and the RetryIndex holds); the rest have left the index.
POSTING_LIVE = frozenset({P.PENDING, P.IN_FLIGHT})


def posting_allowed_from(target: PostingStatus) -> frozenset[PostingStatus]:
    return _POSTING_FROM[target]


class DcrStatus(StrEnum):
    """A branch's daily collection reconciliation (engine.logic.dcr): the cashier counts the
    day and submits it (the maker), a branch manager who is not the submitter approves or
    rejects it (the checker), and a rejected day is reopened for correction."""

    DRAFT = "DRAFT"  # open: collections land on this date, the count may be submitted
    SUBMITTED = "SUBMITTED"  # counted and waiting for the checker; the day takes no more
    APPROVED = "APPROVED"  # locked for good: late collections go to the next date
    REJECTED = "REJECTED"  # sent back with a reason; accepts collections, may be reopened


D = DcrStatus
_DCR_FROM: dict[DcrStatus, frozenset[DcrStatus]] = {
    D.SUBMITTED: frozenset({D.DRAFT}),
    D.APPROVED: frozenset({D.SUBMITTED}),
    D.REJECTED: frozenset({D.SUBMITTED}),
    # Declared (clarifications: forward-only means no undeclared move): a rejected count is
    # corrected and submitted again, never edited in place.
    D.DRAFT: frozenset({D.REJECTED}),
}
# Days that take no new collection (they move to the next date) and no cancellation.
DCR_CLOSED = frozenset({D.SUBMITTED, D.APPROVED})


def dcr_allowed_from(target: DcrStatus) -> frozenset[DcrStatus]:
    return _DCR_FROM[target]


def dcr_can_move(current: DcrStatus, target: DcrStatus) -> bool:
    return current in _DCR_FROM[target]
