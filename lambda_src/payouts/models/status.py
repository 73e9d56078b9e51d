"""The payout state machine: forward-only, every transition a conditional write.

Each state also names the follow-up work it needs (`Work`), found through the sparse
`due-work-index`: open payouts wait for the reconciler, completed ones for the return check
within the NPP return window, rejected and returned ones for their credit.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "Pending"  # debited; sent to Monoova or about to be
    UNKNOWN = "UNKNOWN"  # sent, outcome unknown (timeout/5xx): never resent under a new reference
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    RETURNED = "Returned"  # a completed payout that came back
    # Debited, unknown to Monoova, and it cannot be sent again as first sent (its destination
    # snapshot is missing or does not open): a person decides. Still debited; webhooks and
    # the status API can still settle it.
    MANUAL_REVIEW = "ManualReview"


class Work(StrEnum):
    RECONCILE = "reconcile"  # ask Monoova's status API; send again if it has no record
    RETURN_CHECK = "return_check"  # completed: ask again until the return window closes
    REFUND = "refund"  # rejected/returned and not yet credited


OPEN = frozenset({Status.PENDING, Status.UNKNOWN})
FINAL = frozenset({Status.REJECTED, Status.RETURNED})
REFUNDABLE = frozenset({Status.REJECTED, Status.RETURNED})

# target -> the states it may be reached from. UNKNOWN and Pending move between each other
# only as the reconciler learns what Monoova holds; a final state never moves.
_ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.UNKNOWN}),
    Status.UNKNOWN: frozenset({Status.PENDING}),
    Status.MANUAL_REVIEW: OPEN,
    Status.COMPLETED: OPEN | {Status.MANUAL_REVIEW},
    Status.REJECTED: OPEN | {Status.MANUAL_REVIEW},
    # A return may overtake its own success webhook: allow it from the open states too.
    Status.RETURNED: OPEN | {Status.COMPLETED, Status.MANUAL_REVIEW},
}

WORK_FOR: dict[Status, Work | None] = {
    Status.PENDING: Work.RECONCILE,
    Status.UNKNOWN: Work.RECONCILE,
    Status.COMPLETED: Work.RETURN_CHECK,
    Status.REJECTED: Work.REFUND,
    Status.RETURNED: Work.REFUND,
    Status.MANUAL_REVIEW: None,
}


def allowed_from(target: Status) -> frozenset[Status]:
    return _ALLOWED_FROM[target]


def can_move(current: Status, target: Status) -> bool:
    return current in _ALLOWED_FROM[target]
