"""payouts.models.status: the forward-only payout state machine."""

from __future__ import annotations

import itertools

import pytest

from payouts.models.status import (
    FINAL,
    OPEN,
    REFUNDABLE,
    WORK_FOR,
    Status,
    Work,
    allowed_from,
    can_move,
)

P, U, C, J, R, M = (
    Status.PENDING,
    Status.UNKNOWN,
    Status.COMPLETED,
    Status.REJECTED,
    Status.RETURNED,
    Status.MANUAL_REVIEW,
)

# (from, to): the complete list of legal moves; every other pair is forbidden.
ALLOWED = {
    (P, U),
    (U, P),
    (P, C),
    (U, C),
    (P, J),
    (U, J),
    (P, R),
    (U, R),
    (C, R),
    # Manual review: reached from the open states only; Monoova's answer can still settle it.
    (P, M),
    (U, M),
    (M, C),
    (M, J),
    (M, R),
}
ALL_PAIRS = list(itertools.product(Status, Status))


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transitions(current: Status, target: Status) -> None:
    assert can_move(current, target)


@pytest.mark.parametrize(("current", "target"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_forbidden_transitions(current: Status, target: Status) -> None:
    assert not can_move(current, target)


def test_allowed_from_matches_can_move_for_every_target() -> None:
    for target in Status:
        assert allowed_from(target) == {s for s in Status if (s, target) in ALLOWED}


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_never_move(final: Status) -> None:
    assert not [t for t in Status if can_move(final, t)]


def test_named_cases() -> None:
    assert can_move(C, R)  # a completed payout can come back
    assert not can_move(J, C)  # a rejection is never overturned
    assert not can_move(R, C)
    assert not can_move(C, J)
    assert can_move(P, U) and can_move(U, P)


def test_no_state_moves_to_itself() -> None:
    assert not [s for s in Status if can_move(s, s)]


def test_state_groups() -> None:
    assert {P, U} == OPEN
    assert {J, R} == FINAL
    assert {J, R} == REFUNDABLE
    assert not OPEN & FINAL
    assert C not in OPEN | FINAL
    assert [s.value for s in Status] == [
        "Pending",
        "UNKNOWN",
        "Completed",
        "Rejected",
        "Returned",
        "ManualReview",
    ]
    assert M not in OPEN  # the reconciler's batches never hold a payout it cannot send


def test_every_state_names_its_follow_up_work() -> None:
    assert set(WORK_FOR) == set(Status)
    assert {s for s, w in WORK_FOR.items() if w is Work.RECONCILE} == OPEN
    assert {s for s, w in WORK_FOR.items() if w is Work.REFUND} == REFUNDABLE
    assert WORK_FOR[C] is Work.RETURN_CHECK
    assert WORK_FOR[M] is None  # a person, not a job, takes it from here
