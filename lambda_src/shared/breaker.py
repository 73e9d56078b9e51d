"""Circuit-breaker rules (pure: no I/O), shared by every system that guards a provider.

Opens when more than `failure_ratio` of the calls in the last `window_seconds` failed and at
least `min_volume` calls were made; stays open `open_seconds`; then lets one probe through
(half-open): its success closes the circuit, its failure opens it again.

The state lives in DynamoDB (`shared.breaker_store.BreakerStore`); a caller reads a
`Snapshot`, asks `decide` whether to call, and when the answer is `HALF_OPEN` calls only if
its `claim_probe` won.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

PROBE_SECONDS = 60


@dataclass(frozen=True)
class BreakerSettings:
    min_volume: int
    failure_ratio: Decimal
    window_seconds: int
    open_seconds: int


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Snapshot:
    opened_at: float | None
    probe_until: float | None
    ok: int
    failed: int


@dataclass(frozen=True)
class Decision:
    state: State
    retry_after: int = 0


def bucket_minutes(now: float, window_seconds: int) -> list[int]:
    """The minute buckets that cover the window ending now."""
    current = int(now // 60)
    count = max(1, math.ceil(window_seconds / 60))
    return list(range(current - count + 1, current + 1))


def decide(snapshot: Snapshot, now: float, settings: BreakerSettings) -> Decision:
    if snapshot.opened_at is None:
        return Decision(State.CLOSED)
    reopens_at = snapshot.opened_at + settings.open_seconds
    if now < reopens_at:
        return Decision(State.OPEN, max(1, math.ceil(reopens_at - now)))
    if snapshot.probe_until is not None and now < snapshot.probe_until:
        return Decision(State.OPEN, max(1, math.ceil(snapshot.probe_until - now)))
    return Decision(State.HALF_OPEN)


def should_trip(snapshot: Snapshot, ok: int, failed: int, settings: BreakerSettings) -> bool:
    total_failed = snapshot.failed + failed
    total = snapshot.ok + snapshot.failed + ok + failed
    if total < settings.min_volume or total == 0:
        return False
    return Decimal(total_failed) / Decimal(total) > settings.failure_ratio
