"""HTTP client for the Monoova Payments API (v2 financial endpoints).

Retries 5xx, 408, 429, timeouts and connection errors with backoff (1, 2, 4 s by default)
and +-20% jitter, within a time budget. A request that never got a definite answer is
UNKNOWN: the caller must not resend it under a new uniqueReference.

Once any attempt's outcome is unknown, no later answer can make the payout a decline: the
first attempt may have paid, and what Monoova answers a repeated reference is not confirmed,
so the payout goes to the status API. `UniqueReferenceExists` still means Monoova holds it.
401 and 403 are our credentials failing, not Monoova refusing the payment: AUTH_FAILED, a
breaker failure, and the payout stays to be sent again under the same reference.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import urllib3

from shared import jsonutil

EXECUTE_PATH = "/financial/v2/transaction/execute"
STATUS_PATH = "/financial/v2/status/"
ACCEPTED_STATUSES = frozenset({"Ok", "Pending"})
DUPLICATE_STATUS = "UniqueReferenceExists"
# Monoova does not document the answer for an unknown reference; these are the names seen in
# its legacy (Moneytech v1) error list and the simulator's choice. An open question for
# Monoova, to confirm in the sandbox before go-live (docs/providers.md).
NOT_FOUND_STATUSES = frozenset({"TransactionNotFound", "UniqueReferenceNotFound", "NotFound"})
_RETRYABLE_4XX = frozenset({408, 429})
_AUTH_STATUSES = frozenset({401, 403})
# A retry is only worth making with at least this long left to wait for its answer.
_MIN_ATTEMPT_SECONDS = 1.0


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # Monoova already has this uniqueReference
    DECLINED = "declined"  # a definite refusal: nothing was paid
    UNKNOWN = "unknown"  # no definite answer after the last retry
    AUTH_FAILED = "auth_failed"  # our credentials were refused (401/403); nothing was taken


@dataclass(frozen=True)
class CallStats:
    attempts: int
    failed_attempts: int  # what the circuit breaker counts: unknown ones and refused credentials
    elapsed_ms: int
    unknown_attempts: int = 0  # timeouts, connection errors, 5xx, 408, 429
    auth_failed: bool = False  # the last answer was 401/403: our key, not the payment


@dataclass(frozen=True)
class ExecuteResult:
    outcome: Outcome
    stats: CallStats
    transaction_id: int | None = None
    provider_status: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class StatusResult:
    found: bool | None  # None: Monoova gave no definite answer
    stats: CallStats
    transaction_status: str | None = None
    provider_status: str | None = None


@dataclass(frozen=True)
class _Response:
    status: int
    body: dict[str, Any]


_POOL: urllib3.PoolManager | None = None


def _pool() -> urllib3.PoolManager:
    global _POOL  # noqa: PLW0603 - one connection pool per container
    if _POOL is None:
        _POOL = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
    return _POOL


class MonoovaClient:
    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        timeout_seconds: float,
        *,
        backoff: tuple[float, ...] = (1.0, 2.0, 4.0),
        jitter: float = 0.2,
        sleep: Callable[[float], None] | None = None,
        rand: Callable[[], float] | None = None,
        remaining_seconds: Callable[[], float] | None = None,
        budget_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`budget_seconds` bounds one call, retries included: each attempt waits at most
        what is left of it (POST /payouts answers fast even when Monoova hangs)."""
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._backoff = backoff
        self._jitter = jitter
        self._sleep = sleep or _sleep
        self._rand = rand or random.random
        self._remaining = remaining_seconds
        self._budget = budget_seconds
        self._monotonic = monotonic

    def execute(self, body: dict[str, Any]) -> ExecuteResult:
        response, stats = self._call("POST", EXECUTE_PATH, body)
        if response is None:
            return ExecuteResult(Outcome.UNKNOWN, stats)
        status = str(response.body.get("status", ""))
        description = response.body.get("statusDescription")
        txn_id = response.body.get("transactionId")
        txn = int(txn_id) if isinstance(txn_id, int) and txn_id > 0 else None
        provider_status = status or f"HTTP{response.status}"
        if status == DUPLICATE_STATUS:
            return ExecuteResult(Outcome.DUPLICATE, stats, txn, status, description)
        if response.status == 200 and status in ACCEPTED_STATUSES:
            return ExecuteResult(Outcome.ACCEPTED, stats, txn, status, description)
        if stats.unknown_attempts or not _is_refusal(response, status):
            # An earlier attempt may have paid, or a 200 we cannot read: Monoova may hold it.
            return ExecuteResult(Outcome.UNKNOWN, stats, None, provider_status, description)
        if stats.auth_failed:
            return ExecuteResult(Outcome.AUTH_FAILED, stats, None, provider_status, description)
        return ExecuteResult(Outcome.DECLINED, stats, None, provider_status, description)

    def status(self, unique_reference: str) -> StatusResult:
        path = STATUS_PATH + quote(unique_reference, safe="")
        response, stats = self._call("GET", path, None)
        if response is None:
            return StatusResult(None, stats)
        status = str(response.body.get("status", ""))
        if response.status == 404 or status in NOT_FOUND_STATUSES:
            return StatusResult(False, stats, None, status)
        if response.status == 200 and status == "Ok":
            return StatusResult(True, stats, response.body.get("transactionStatus"), status)
        return StatusResult(None, stats, None, status or f"HTTP{response.status}")

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[_Response | None, CallStats]:
        started = self._monotonic()
        deadline = started + self._budget if self._budget is not None else None
        attempts = failed = 0
        payload = jsonutil.dumps_exact(body).encode() if body is not None else None
        headers = self._headers()
        timeout: float | None = self._first_timeout()
        for attempt in range(len(self._backoff) + 1):
            if attempt:
                timeout = self._pause(self._backoff[attempt - 1], deadline)
            if timeout is None:
                break
            attempts += 1
            response = self._attempt(method, path, payload, headers, timeout)
            if response is not None and not _retryable(response.status):
                refused = response.status in _AUTH_STATUSES
                stats = self._stats(attempts, failed + refused, started, failed, refused)
                return response, stats
            failed += 1
        return None, self._stats(attempts, failed, started, failed)

    def _first_timeout(self) -> float:
        return min(self._timeout, self._budget) if self._budget is not None else self._timeout

    def _attempt(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> _Response | None:
        try:
            raw = _pool().request(
                method,
                self._base_url + path,
                body=payload,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(timeout, 3.0), read=timeout),
            )
        except urllib3.exceptions.HTTPError:
            return None  # timeout, refused or reset: the outcome of this attempt is unknown
        try:
            parsed = jsonutil.loads(raw.data) if raw.data else {}
        except jsonutil.InvalidJson:
            parsed = {}
        return _Response(raw.status, parsed if isinstance(parsed, dict) else {})

    def _pause(self, base: float, deadline: float | None) -> float | None:
        """Sleep before the next retry and return its timeout; None when there is no time
        left for one (in the function, or in this call's budget)."""
        delay = base * (1 + self._jitter * (2 * self._rand() - 1))
        if self._remaining is not None and self._remaining() < delay + self._timeout + 1:
            return None
        timeout = self._timeout
        if deadline is not None:
            timeout = min(timeout, deadline - self._monotonic() - delay)
            if timeout < min(self._timeout, _MIN_ATTEMPT_SECONDS):
                return None
        self._sleep(delay)
        return timeout

    def _stats(
        self, attempts: int, failed: int, started: float, unknown: int, auth_failed: bool = False
    ) -> CallStats:
        elapsed_ms = int((self._monotonic() - started) * 1000)
        return CallStats(attempts, failed, elapsed_ms, unknown, auth_failed)

    def _headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self._api_key()}:".encode()).decode("ascii")
        return {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }


def _retryable(status: int) -> bool:
    return status >= 500 or status in _RETRYABLE_4XX


def _is_refusal(response: _Response, status: str) -> bool:
    """A definite "not processed": a 4xx, or a readable envelope with a non-Ok status."""
    if 400 <= response.status < 500:
        return True
    return response.status == 200 and bool(status) and status not in ACCEPTED_STATUSES


def _sleep(seconds: float) -> None:
    """Module-level so tests can make backoff instant."""
    time.sleep(seconds)
