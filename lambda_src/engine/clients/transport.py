"""JSON over HTTP for the engine's provider clients: one urllib3 pool per container, attempts
within a time budget per call, jittered backoff between them.

A client decides what its provider's answers mean; this module only says what came back:

* an `Answer` (status, the body as a JSON object, the headers): the last attempt's, when the
  client's `retry` predicate asked for no further attempt or the attempts ran out;
* `NoAnswer`: no readable answer to the last attempt (a timeout, a refused or dropped
  connection, a 2xx whose body is not a JSON object), or no time left in the budget for one.
  `sent` says whether that request may have reached the provider, which is what a client
  needs to know after a write.

A 4xx or 5xx whose body is unreadable is an `Answer` with an empty body: its status is
definite even when the text is not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from shared import jsonutil

__all__ = ["Answer", "JsonTransport", "NoAnswer", "Result"]

# The most a connection may take to open, whatever the attempt's read timeout.
CONNECT_TIMEOUT_MAX = 2.0
# A retry is only worth making with at least this long (or the attempt timeout) left for it.
MIN_ATTEMPT_SECONDS = 1.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class NoAnswer:
    sent: bool  # False: the request cannot have reached the provider
    reason: str


Result = Answer | NoAnswer

_POOL: urllib3.PoolManager | None = None


def _pool() -> urllib3.PoolManager:
    global _POOL  # noqa: PLW0603 - one connection pool per container, kept warm
    if _POOL is None:
        # One pool per provider host (RazorPay, the LMS, ...), a few connections each.
        _POOL = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False)
    return _POOL


class JsonTransport:
    """Requests to one base URL; `calls` counts the HTTP attempts made (for per-call counts)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        budget_seconds: float,
        backoff: tuple[float, ...],
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._budget = budget_seconds
        self._backoff = backoff
        self._sleep = sleep
        self._monotonic = monotonic
        self._rand = rand
        self.calls = 0

    def deadline(self) -> float:
        """When a call starting now must be over (several sends may share one)."""
        return self._monotonic() + self._budget

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str],
        retry: Callable[[Result], bool],
        deadline: float | None = None,
    ) -> Result:
        """Up to one attempt plus one per backoff step, while `retry(result)` asks for
        another and the budget (or `deadline`) leaves time for it; the last result."""
        deadline = self.deadline() if deadline is None else deadline
        result: Result = NoAnswer(sent=False, reason="no time left in the call's budget")
        for attempt in range(len(self._backoff) + 1):
            timeout = self._timeout_before(attempt, deadline)
            if timeout is None:
                break
            result = self.attempt(method, path, body, headers, timeout)
            if not retry(result):
                break
        return result

    def _timeout_before(self, attempt: int, deadline: float) -> float | None:
        """Wait out the backoff before a retry; the attempt's timeout, or None if no time is
        left for one within this call's budget."""
        if attempt:
            delay = self._backoff[attempt - 1] * (0.75 + self._rand() / 2)
            if deadline - self._monotonic() - delay < min(self._timeout, MIN_ATTEMPT_SECONDS):
                return None
            self._sleep(delay)
        left = deadline - self._monotonic()
        return min(self._timeout, left) if left > 0 else None

    def attempt(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Result:
        """One HTTP request, never retried by urllib3."""
        self.calls += 1
        try:
            raw = _pool().request(
                method,
                self._base_url + path,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=min(timeout, CONNECT_TIMEOUT_MAX), read=timeout),
            )
        except urllib3.exceptions.ConnectTimeoutError:  # NewConnectionError included
            return NoAnswer(sent=False, reason="no connection")
        except urllib3.exceptions.HTTPError:
            # A read timeout, a reset or a dropped connection: this attempt's outcome is unknown.
            return NoAnswer(sent=True, reason="no answer")
        answered = {name.lower(): value for name, value in raw.headers.items()}
        try:
            parsed = jsonutil.loads(raw.data) if raw.data else {}
        except jsonutil.InvalidJson:
            parsed = None
        if isinstance(parsed, dict):
            return Answer(raw.status, parsed, answered)
        if raw.status < 400:
            return NoAnswer(sent=True, reason=f"an unreadable {raw.status} answer")
        return Answer(raw.status, {}, answered)
