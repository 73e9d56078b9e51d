"""The repayment state machine: only declared moves, forward only."""

from __future__ import annotations

import pytest

from engine.models.status import OPEN, PaymentStatus, allowed_from, can_move, is_past

S = PaymentStatus

DECLARED = {
    (S.CREATED, S.AUTHORIZED),
    (S.CREATED, S.CAPTURED),
    (S.CREATED, S.FAILED),
    (S.CREATED, S.EXPIRED),
    (S.AUTHORIZED, S.CAPTURED),
    (S.AUTHORIZED, S.FAILED),
    (S.AUTHORIZED, S.EXPIRED),
    (S.FAILED, S.CAPTURED),
    (S.EXPIRED, S.CAPTURED),
    (S.CAPTURED, S.REFUNDED),
    (S.CAPTURED, S.CANCELLED),  # a staff collection's wrong receipt, cancelled
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_declared_moves_are_allowed(current: S, target: S) -> None:
    assert can_move(current, target) is ((current, target) in DECLARED)


def test_a_failure_never_overrides_a_capture() -> None:
    assert not can_move(S.CAPTURED, S.FAILED)
    assert is_past(S.CAPTURED, S.FAILED)
    assert not can_move(S.REFUNDED, S.CAPTURED)


def test_a_capture_after_a_failure_or_an_expiry_applies() -> None:
    assert can_move(S.FAILED, S.CAPTURED)
    assert can_move(S.EXPIRED, S.CAPTURED)
    assert not is_past(S.FAILED, S.CAPTURED)


def test_nothing_moves_back_to_created_and_open_states_are_the_unfinished() -> None:
    assert allowed_from(S.CREATED) == frozenset()
    assert {S.CREATED, S.AUTHORIZED} == OPEN
    assert is_past(S.AUTHORIZED, S.AUTHORIZED)
    assert is_past(S.FAILED, S.AUTHORIZED)  # a late "authorized" after a failure is stale


def test_only_a_capture_can_be_cancelled_and_a_cancellation_is_final() -> None:
    assert allowed_from(S.CANCELLED) == frozenset({S.CAPTURED})
    assert not can_move(S.CANCELLED, S.CAPTURED)
    assert not can_move(S.REFUNDED, S.CANCELLED)
    assert is_past(S.CANCELLED, S.CAPTURED)  # a late capture event changes nothing
