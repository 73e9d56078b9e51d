"""shared.breaker: minute buckets, open/half-open decisions and the trip rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.breaker import (
    BreakerSettings,
    Decision,
    Snapshot,
    State,
    bucket_minutes,
    decide,
    should_trip,
)

SETTINGS = BreakerSettings(
    min_volume=10, failure_ratio=Decimal("0.5"), window_seconds=300, open_seconds=600
)
OPENED = 10_000.0


def snap(
    opened_at: float | None = None, probe_until: float | None = None, ok: int = 0, failed: int = 0
) -> Snapshot:
    return Snapshot(opened_at=opened_at, probe_until=probe_until, ok=ok, failed=failed)


# --- bucket_minutes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "window", "expected"),
    [
        (600.0, 300, [6, 7, 8, 9, 10]),
        (659.999, 300, [6, 7, 8, 9, 10]),
        (660.0, 300, [7, 8, 9, 10, 11]),
        (600.0, 60, [10]),
        (600.0, 30, [10]),  # less than a minute still reads the current bucket
        (600.0, 0, [10]),
        (600.0, 301, [5, 6, 7, 8, 9, 10]),  # a partial minute rounds up
        (59.0, 120, [-1, 0]),
    ],
)
def test_bucket_minutes(now: float, window: int, expected: list[int]) -> None:
    assert bucket_minutes(now, window) == expected


# --- decide ---------------------------------------------------------------------------------


def test_closed_when_never_opened() -> None:
    decision = decide(snap(ok=0, failed=100), OPENED, SETTINGS)

    assert decision == Decision(State.CLOSED, 0)


@pytest.mark.parametrize(
    ("elapsed", "retry_after"),
    [
        (0.0, 600),
        (0.5, 600),  # 599.5 s left rounds up
        (1.0, 599),
        (599.0, 1),
        (599.9, 1),  # never less than 1 while open
    ],
)
def test_open_until_open_seconds_pass(elapsed: float, retry_after: int) -> None:
    decision = decide(snap(opened_at=OPENED), OPENED + elapsed, SETTINGS)

    assert decision == Decision(State.OPEN, retry_after)


@pytest.mark.parametrize("elapsed", [600.0, 600.1, 5000.0])
def test_half_open_after_open_seconds(elapsed: float) -> None:
    assert decide(snap(opened_at=OPENED), OPENED + elapsed, SETTINGS) == Decision(State.HALF_OPEN)


@pytest.mark.parametrize(
    ("now_offset", "retry_after"), [(610.0, 50), (659.2, 1), (600.0, 60), (630.5, 30)]
)
def test_probe_in_progress_keeps_others_out(now_offset: float, retry_after: int) -> None:
    probe_until = OPENED + 660
    decision = decide(
        snap(opened_at=OPENED, probe_until=probe_until), OPENED + now_offset, SETTINGS
    )

    assert decision == Decision(State.OPEN, retry_after)


def test_expired_probe_lets_the_next_probe_through() -> None:
    snapshot = snap(opened_at=OPENED, probe_until=OPENED + 660)

    assert decide(snapshot, OPENED + 660, SETTINGS).state is State.HALF_OPEN
    assert decide(snapshot, OPENED + 700, SETTINGS).state is State.HALF_OPEN


def test_reopened_circuit_waits_again_even_with_an_old_probe() -> None:
    # A failed probe re-opens the circuit: opened_at moves to now, the old probe mark stays.
    snapshot = snap(opened_at=OPENED + 700, probe_until=OPENED + 660)

    assert decide(snapshot, OPENED + 710, SETTINGS) == Decision(State.OPEN, 590)


# --- should_trip ----------------------------------------------------------------------------


def test_exactly_half_failed_does_not_trip() -> None:
    assert not should_trip(snap(ok=5, failed=4), 0, 1, SETTINGS)
    assert not should_trip(snap(), 5, 5, SETTINGS)


def test_more_than_half_failed_trips() -> None:
    assert should_trip(snap(ok=5, failed=5), 0, 1, SETTINGS)  # 6 of 11
    assert should_trip(snap(), 4, 6, SETTINGS)


def test_the_new_call_counts_towards_the_volume() -> None:
    # 9 calls in the window are below min_volume; the 10th (failed) makes 6/10 > 50%.
    assert not should_trip(snap(ok=4, failed=5), 0, 0, SETTINGS)
    assert should_trip(snap(ok=4, failed=5), 0, 1, SETTINGS)


@pytest.mark.parametrize(("ok", "failed"), [(0, 9), (0, 1), (1, 8)])
def test_below_min_volume_never_trips(ok: int, failed: int) -> None:
    assert not should_trip(snap(), ok, failed, SETTINGS)


def test_no_calls_never_trips_even_with_zero_min_volume() -> None:
    settings = BreakerSettings(0, Decimal("0.5"), 300, 600)

    assert not should_trip(snap(), 0, 0, settings)
    assert should_trip(snap(), 0, 1, settings)


def test_ratio_is_configurable() -> None:
    strict = BreakerSettings(10, Decimal("0.2"), 300, 600)

    assert should_trip(snap(ok=8, failed=2), 0, 1, strict)  # 3 of 11 > 20%
    assert not should_trip(snap(ok=8, failed=1), 0, 1, strict)  # 2 of 10 == 20%
