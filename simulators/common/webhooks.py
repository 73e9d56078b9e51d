"""Webhook delivery as providers do it: signed bodies POSTed in the background, retried, recorded.

A simulator builds each :class:`Outgoing` (URL, exact body bytes, headers with its signature,
and ``info`` fields copied into every delivery record), then either

* :meth:`WebhookSender.deliver` sends one now, in the caller's thread, and returns the first
  attempt's record (retries follow in the background), or
* :meth:`WebhookSender.send` sends a batch in the background after ``delay`` seconds, one after
  the other, each waiting for the previous answer, with :class:`Faults` applied: ``drop`` (lose
  them all), ``copies`` (each delivered that many times at once, as an at-least-once provider
  does) and ``reverse`` (deliver the batch newest first).

An answer the :class:`RetryPolicy` does not accept is retried after each of its ``delays``, with
the same body and headers, until one is accepted. Every attempt is recorded (bounded) with its
status code or error. ``reset`` starts a new generation: records of older deliveries are no
longer kept, and with ``abandon_on_reset`` their pending attempts are not sent either.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.common.log import DEFAULT_LOG_LIMIT, BoundedLog

__all__ = [
    "DELIVERY_TIMEOUT_SECONDS",
    "Faults",
    "Outgoing",
    "RetryPolicy",
    "WebhookSender",
    "is_2xx",
    "post_webhook",
]

DELIVERY_TIMEOUT_SECONDS = 5.0
# Never route webhooks to localhost through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Post = Callable[[str, bytes, dict[str, str]], tuple[int | None, str | None]]


def post_webhook(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST one delivery attempt; returns ``(HTTP status or None, error text or None)``."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except (urllib.error.URLError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def is_2xx(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


@dataclass(frozen=True)
class RetryPolicy:
    """Seconds to wait before each retry; ``accept`` says which answers need none."""

    delays: tuple[float, ...] = ()
    accept: Callable[[int | None], bool] = is_2xx

    @classmethod
    def backoff(cls, first: float, retries: int, factor: float = 2.0) -> RetryPolicy:
        """``retries`` retries, the first after ``first`` seconds, each wait ``factor`` longer."""
        return cls(tuple(first * factor**index for index in range(retries)))


@dataclass(frozen=True)
class Faults:
    drop: bool = False
    copies: int = 1
    reverse: bool = False


@dataclass(frozen=True)
class Outgoing:
    url: str
    body: bytes
    headers: Mapping[str, str]
    info: Mapping[str, Any] = field(default_factory=dict)


class WebhookSender:
    """Sends :class:`Outgoing` webhooks and records each attempt; stops when ``stopped`` is set."""

    def __init__(
        self,
        policy: RetryPolicy,
        stopped: threading.Event,
        *,
        limit: int = DEFAULT_LOG_LIMIT,
        abandon_on_reset: bool = False,
        post: Post = post_webhook,
        name: str = "webhook",
    ) -> None:
        self.policy = policy
        self._stopped = stopped
        self._log = BoundedLog(limit)
        self._abandon_on_reset = abandon_on_reset
        self._post = post
        self._name = name
        self._lock = threading.Lock()
        self._generation = 0

    def records(self) -> list[dict[str, Any]]:
        """Every delivery attempt of the current generation, oldest first."""
        return self._log.entries()

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._log.clear()

    def deliver(self, item: Outgoing) -> dict[str, Any]:
        """Send ``item`` now; returns the first attempt's record."""
        return self._first_attempt(item, self._current())

    def send(
        self, items: Sequence[Outgoing], *, delay: float = 0.0, faults: Faults | None = None
    ) -> None:
        """Send ``items`` in order, in the background, ``delay`` seconds from now."""
        args = (list(items), delay, faults or Faults(), self._current())
        self._spawn(self._run_batch, args, "batch")

    def record_unsent(self, item: Outgoing, error: str) -> dict[str, Any]:
        """Record an attempt that was never sent (a simulator bug, said loudly)."""
        return self._record(item, 1, None, error, self._current())

    def _current(self) -> int:
        with self._lock:
            return self._generation

    def _live(self, generation: int) -> bool:
        return not self._stopped.is_set() and (
            not self._abandon_on_reset or generation == self._current()
        )

    def _spawn(self, target: Callable[..., None], args: tuple[Any, ...], what: str) -> None:
        name = f"{self._name}-{what}"
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    def _run_batch(
        self, items: list[Outgoing], delay: float, faults: Faults, generation: int
    ) -> None:
        if self._stopped.wait(delay) or faults.drop:
            return
        for item in reversed(items) if faults.reverse else items:
            if not self._live(generation):
                return
            copies = [
                threading.Thread(target=self._first_attempt, args=(item, generation), daemon=True)
                for _ in range(faults.copies)
            ]
            for copy in copies:
                copy.start()
            for copy in copies:
                copy.join()

    def _first_attempt(self, item: Outgoing, generation: int) -> dict[str, Any]:
        record = self._attempt(item, 1, generation)
        if not self.policy.accept(record["status_code"]) and self.policy.delays:
            self._spawn(self._retry, (item, generation, self.policy), "retry")
        return record

    def _retry(self, item: Outgoing, generation: int, policy: RetryPolicy) -> None:
        for attempt, delay in enumerate(policy.delays, start=2):
            if self._stopped.wait(delay) or not self._live(generation):
                return
            if policy.accept(self._attempt(item, attempt, generation)["status_code"]):
                return

    def _attempt(self, item: Outgoing, attempt: int, generation: int) -> dict[str, Any]:
        status_code, error = self._post(item.url, item.body, dict(item.headers))
        return self._record(item, attempt, status_code, error, generation)

    def _record(
        self,
        item: Outgoing,
        attempt: int,
        status_code: int | None,
        error: str | None,
        generation: int,
    ) -> dict[str, Any]:
        record = {
            "url": item.url,
            **item.info,
            "body": item.body.decode("utf-8"),
            "attempt": attempt,
            "status_code": status_code,
            "error": error,
            "sent_at": datetime.now(UTC).isoformat(),
        }
        with self._lock:
            if generation == self._generation:
                self._log.append(record)
        return dict(record)
