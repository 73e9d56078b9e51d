"""The behaviour switch every simulator has: a mode, for the next ``count`` requests, with latency.

``set(mode, count=None, latency_ms=0, **options)`` chooses how following requests behave;
``consume(applies)`` is called once per request a mode could affect and answers the mode to act
on. A mode that does not apply to that kind of request (a webhook-only mode on a status call) is
neither acted on nor counted. With ``count`` the mode lasts for that many requests it applies to,
then reverts to the default. Options are provider-specific positive integers (RazorPay's
``times`` for duplicate deliveries) with defaults, reported by :meth:`ModeState.snapshot`.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Active", "ModeState"]


@dataclass(frozen=True)
class Active:
    """What one request acts on: the mode and latency as they were when it arrived."""

    mode: str
    latency_ms: int = 0
    options: Mapping[str, int] = field(default_factory=dict)


def _positive_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None")
    return value


class ModeState:
    """Thread-safe mode, remaining count, latency and options."""

    def __init__(
        self,
        modes: Sequence[str],
        *,
        default: str = "ok",
        options: Mapping[str, int] | None = None,
        latency_outlives_count: bool = True,
        slow_ms: int | None = None,
    ) -> None:
        if default not in modes:
            raise ValueError(f"default mode {default!r} is not one of {list(modes)}")
        self.modes = tuple(modes)
        self.default = default
        self.option_defaults = dict(options or {})
        # Monoova's documented latency lasts until the next set_mode, even past a count.
        self._latency_outlives_count = latency_outlives_count
        # Where set, mode "slow" without a latency_ms takes this one.
        self._slow_ms = slow_ms
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._mode = self.default
            self._remaining: int | None = None
            self._latency_ms = 0
            self._options = dict(self.option_defaults)

    def set(self, mode: str, count: int | None = None, latency_ms: int = 0, **options: Any) -> None:
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}; expected one of {list(self.modes)}")
        count = _positive_or_none("count", count)
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        if mode == "slow" and not latency_ms and self._slow_ms:
            latency_ms = self._slow_ms
        chosen = dict(self.option_defaults)
        for name, value in options.items():
            if name not in chosen:
                raise ValueError(f"unknown mode option {name!r}")
            checked = _positive_or_none(name, value)
            if checked is not None:
                chosen[name] = checked
        with self._lock:
            self._mode, self._remaining, self._latency_ms = mode, count, latency_ms
            self._options = chosen

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._mode,
                "count": self._remaining,
                "latency_ms": self._latency_ms,
                **self._options,
            }

    @property
    def latency_ms(self) -> int:
        with self._lock:
            return self._latency_ms

    def consume(self, applies: Container[str]) -> Active:
        """The mode for one request of a kind that ``applies`` lists the modes of."""
        with self._lock:
            if self._mode not in applies:
                return Active(self.default, self._latency_ms, dict(self._options))
            active = Active(self._mode, self._latency_ms, dict(self._options))
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._revert()
            return active

    def _revert(self) -> None:
        self._mode, self._remaining = self.default, None
        self._options = dict(self.option_defaults)
        if not self._latency_outlives_count:
            self._latency_ms = 0
