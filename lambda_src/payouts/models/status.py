"""The payout state machine: forward-only, every transition a conditional write."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "Pending"  # debited; sent to Monoova or about to be
    UNKNOWN = "UNKNOWN"  # sent, outcome unknown (timeout/5xx): never resent under a new reference
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    RETURNED = "Returned"  # a completed payout that came back


OPEN = frozenset({Status.PENDING, Status.UNKNOWN})
FINAL = frozenset({Status.REJECTED, Status.RETURNED})
REFUNDABLE = frozenset({Status.REJECTED, Status.RETURNED})

# target -> the states it may be reached from. UNKNOWN and Pending move between each other
# only as the reconciler learns what Monoova holds; a final state never moves.
_ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.UNKNOWN}),
    Status.UNKNOWN: frozenset({Status.PENDING}),
    Status.COMPLETED: OPEN,
    Status.REJECTED: OPEN,
    # A return may overtake its own success webhook: allow it from the open states too.
    Status.RETURNED: OPEN | {Status.COMPLETED},
}


def allowed_from(target: Status) -> frozenset[Status]:
    return _ALLOWED_FROM[target]


def can_move(current: Status, target: Status) -> bool:
    return current in _ALLOWED_FROM[target]
