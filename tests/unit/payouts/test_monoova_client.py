"""payouts.clients.monoova.MonoovaClient against a scripted HTTP layer (no network)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from payouts.clients import monoova
from payouts.clients.monoova import MonoovaClient, Outcome
from payouts.logic.monoova_body import execute_body

from .monoova_fixtures import PAY_ID, REFERENCE, SETTINGS

BASE_URL = "https://api.m-pay.com.au/"
API_KEY = "sk_test_0123456789"


@dataclass
class FakeResponse:
    status: int
    data: bytes


@dataclass
class Call:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    timeout: Any


@dataclass
class FakePool:
    script: list[Any]
    calls: list[Call] = field(default_factory=list)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: Any = None,
    ) -> FakeResponse:
        self.calls.append(Call(method, url, body, dict(headers or {}), timeout))
        if not self.script:
            raise AssertionError("more HTTP calls than scripted")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def reply(status: int, payload: Any) -> FakeResponse:
    return FakeResponse(status, json.dumps(payload).encode())


def ok(txn: int = 1022, status: str = "Ok") -> FakeResponse:
    return reply(200, {"status": status, "statusDescription": "done", "transactionId": txn})


def timeout() -> ReadTimeoutError:
    return ReadTimeoutError(None, BASE_URL, "Read timed out.")  # type: ignore[arg-type]


def refused() -> NewConnectionError:
    return NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]


@pytest.fixture
def sleeps() -> list[float]:
    return []


def install(monkeypatch: pytest.MonkeyPatch, *script: Any) -> FakePool:
    pool = FakePool(list(script))
    monkeypatch.setattr(monoova, "_pool", lambda: pool)
    return pool


def make_client(sleeps: list[float], rand: float = 0.5, **kwargs: Any) -> MonoovaClient:
    return MonoovaClient(
        BASE_URL,
        lambda: API_KEY,
        4.0,
        sleep=sleeps.append,
        rand=lambda: rand,
        **kwargs,
    )


BODY = execute_body(REFERENCE, Decimal("100.10"), PAY_ID, SETTINGS)


# --- backoff and retries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [0.8, 1.6, 3.2]), (0.5, [1.0, 2.0, 4.0]), (1.0, [1.2, 2.4, 4.8])],
)
def test_backoff_is_1_2_4_seconds_with_20_percent_jitter(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], rand: float, expected: list[float]
) -> None:
    install(monkeypatch, *(reply(503, {}) for _ in range(4)))

    make_client(sleeps, rand).execute(BODY)

    assert sleeps == pytest.approx(expected)


def test_at_most_four_attempts_then_unknown(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    pool = install(monkeypatch, *(reply(500, {}) for _ in range(5)))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert result.transaction_id is None
    assert len(pool.calls) == 4
    assert len(pool.script) == 1  # the fifth response was never asked for
    assert (result.stats.attempts, result.stats.failed_attempts) == (4, 4)
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    "failure",
    [
        lambda: reply(500, {}),
        lambda: reply(502, {}),
        lambda: reply(503, {}),
        lambda: reply(504, {}),
        lambda: reply(429, {}),
        timeout,
        refused,
    ],
    ids=["500", "502", "503", "504", "429", "read-timeout", "connection-refused"],
)
def test_transient_failures_are_retried(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], failure: Any
) -> None:
    pool = install(monkeypatch, failure(), failure(), ok(77))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.ACCEPTED
    assert result.transaction_id == 77
    assert len(pool.calls) == 3
    assert (result.stats.attempts, result.stats.failed_attempts) == (3, 2)
    assert sleeps == pytest.approx([1.0, 2.0])


def test_timeouts_until_exhausted_are_unknown(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(monkeypatch, timeout(), refused(), timeout(), timeout())

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert result.stats.failed_attempts == 4


def test_400_is_not_retried(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    pool = install(
        monkeypatch,
        reply(400, {"status": "InvalidTotalAmount", "statusDescription": "bad total"}),
        ok(),
    )

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.DECLINED
    assert result.provider_status == "InvalidTotalAmount"
    assert result.description == "bad total"
    assert result.transaction_id is None
    assert len(pool.calls) == 1
    assert sleeps == []
    assert (result.stats.attempts, result.stats.failed_attempts) == (1, 0)


def test_same_body_bytes_on_every_retry(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    pool = install(monkeypatch, timeout(), reply(503, {}), reply(429, {}), ok())

    make_client(sleeps).execute(BODY)

    bodies = {c.body for c in pool.calls}
    assert len(pool.calls) == 4
    assert len(bodies) == 1
    sent = bodies.pop()
    assert sent is not None
    assert b'"uniqueReference":"' + REFERENCE.encode() + b'"' in sent
    assert b'"totalAmount":100.10' in sent
    assert {c.headers["Authorization"] for c in pool.calls} == {
        pool.calls[0].headers["Authorization"]
    }


def test_no_retry_when_the_function_is_out_of_time(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    pool = install(monkeypatch, timeout(), ok())

    # A retry needs delay (1.0) + timeout (4.0) + 1 s of margin = 6 s.
    result = make_client(sleeps, remaining_seconds=lambda: 5.9).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert len(pool.calls) == 1
    assert sleeps == []
    assert (result.stats.attempts, result.stats.failed_attempts) == (1, 1)


def test_retries_stop_when_time_runs_low(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    pool = install(monkeypatch, timeout(), timeout(), ok())
    remaining = iter([6.0, 6.9])  # enough for the 1 s retry, not for the 2 s one (needs 7)

    result = make_client(sleeps, remaining_seconds=lambda: next(remaining)).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert len(pool.calls) == 2
    assert sleeps == pytest.approx([1.0])


# --- outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Ok", "Pending"])
def test_ok_and_pending_are_accepted(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], status: str
) -> None:
    install(monkeypatch, ok(1022, status))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.ACCEPTED
    assert result.transaction_id == 1022
    assert result.provider_status == status
    assert result.stats.attempts == 1


def test_accepted_with_zero_transaction_id_has_none(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(monkeypatch, ok(0))

    assert make_client(sleeps).execute(BODY).transaction_id is None


@pytest.mark.parametrize("http_status", [400, 200])
def test_unique_reference_exists_is_a_duplicate(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], http_status: int
) -> None:
    pool = install(
        monkeypatch,
        reply(http_status, {"status": "UniqueReferenceExists", "transactionId": 555}),
    )

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.DUPLICATE
    assert result.transaction_id == 555
    assert result.provider_status == "UniqueReferenceExists"
    assert len(pool.calls) == 1


@pytest.mark.parametrize(
    ("response", "provider_status"),
    [
        (reply(200, {"status": "MAccountInvalidToTransact"}), "MAccountInvalidToTransact"),
        (reply(400, {"status": "InvalidAmountsDontMatch"}), "InvalidAmountsDontMatch"),
        (reply(404, {}), "HTTP404"),
        (reply(400, ["not", "an", "object"]), "HTTP400"),
    ],
)
def test_other_answers_are_declined(
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    response: FakeResponse,
    provider_status: str,
) -> None:
    install(monkeypatch, response)

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.DECLINED
    assert result.provider_status == provider_status
    assert result.transaction_id is None


@pytest.mark.parametrize(
    "unknown",
    [
        timeout,
        refused,
        lambda: reply(500, {}),
        lambda: reply(503, {}),
        lambda: reply(408, {}),
        lambda: reply(429, {}),
    ],
    ids=["timeout", "refused", "500", "503", "408", "429"],
)
@pytest.mark.parametrize(
    "later",
    [
        lambda: reply(400, {"status": "InvalidAmountsDontMatch"}),
        lambda: reply(400, {"status": "MAccountInvalidToTransact"}),
        lambda: reply(404, {}),
        lambda: reply(200, {"status": "Error"}),
    ],
    ids=["400", "400-maccount", "404", "200-not-ok"],
)
def test_a_refusal_after_an_unknown_attempt_is_unknown_not_declined(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], unknown: Any, later: Any
) -> None:
    # The first attempt may have paid; Monoova's answer to the repeated reference is not
    # a confirmed "nothing was paid", so the payout must go to the status API.
    install(monkeypatch, unknown(), later())

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert result.transaction_id is None
    assert (result.stats.unknown_attempts, result.stats.attempts) == (1, 2)


def test_unique_reference_exists_after_a_timeout_is_still_accepted(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(
        monkeypatch, timeout(), reply(400, {"status": "UniqueReferenceExists", "transactionId": 9})
    )

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.DUPLICATE
    assert result.transaction_id == 9


@pytest.mark.parametrize("http_status", [401, 403])
def test_refused_credentials_are_an_auth_failure_not_a_decline(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], http_status: int
) -> None:
    pool = install(monkeypatch, reply(http_status, {"status": "Unauthorized"}), ok())

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.AUTH_FAILED
    assert result.stats.auth_failed
    assert len(pool.calls) == 1  # not retried: the key will not fix itself in seconds
    # A failure for the breaker, but not an unknown outcome: nothing reached processing.
    assert (result.stats.failed_attempts, result.stats.unknown_attempts) == (1, 0)


def test_refused_credentials_after_an_unknown_attempt_stay_unknown(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(monkeypatch, timeout(), reply(401, {"status": "Unauthorized"}))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert result.stats.auth_failed
    assert result.stats.failed_attempts == 2


def test_status_with_refused_credentials_is_no_answer(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(monkeypatch, reply(401, {"status": "Unauthorized"}))

    result = make_client(sleeps).status(REFERENCE)

    assert result.found is None
    assert result.stats.auth_failed
    assert result.stats.failed_attempts == 1


@pytest.mark.parametrize("data", [b"", b"<html>upstream</html>"], ids=["empty", "html"])
def test_unreadable_200_is_not_a_decline(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], data: bytes
) -> None:
    install(monkeypatch, *(FakeResponse(200, data) for _ in range(4)))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("http_status", [501, 507])
def test_any_5xx_is_retried_and_never_declined(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], http_status: int
) -> None:
    pool = install(monkeypatch, *(reply(http_status, {}) for _ in range(4)))

    result = make_client(sleeps).execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert len(pool.calls) == 4


# --- request shape --------------------------------------------------------------------------


def test_execute_request_shape(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    pool = install(monkeypatch, ok())

    make_client(sleeps).execute(BODY)

    call = pool.calls[0]
    assert call.method == "POST"
    assert call.url == "https://api.m-pay.com.au/financial/v2/transaction/execute"
    assert (
        call.headers["Authorization"]
        == "Basic " + base64.b64encode(b"sk_test_0123456789:").decode()
    )
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Accept"] == "application/json"
    assert isinstance(call.timeout, urllib3.Timeout)
    assert call.timeout.connect_timeout == 3.0
    assert call.timeout.read_timeout == 4.0


def test_basic_auth_is_api_key_with_empty_password() -> None:
    headers = MonoovaClient(BASE_URL, lambda: "abc", 1.0)._headers()

    token = headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token) == b"abc:"


# --- status() -------------------------------------------------------------------------------


def test_status_found(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    pool = install(monkeypatch, reply(200, {"status": "Ok", "transactionStatus": "Complete"}))

    result = make_client(sleeps).status("po/1 2")

    assert result.found is True
    assert result.transaction_status == "Complete"
    assert result.provider_status == "Ok"
    assert pool.calls[0].method == "GET"
    assert pool.calls[0].url == "https://api.m-pay.com.au/financial/v2/status/po%2F1%202"
    assert pool.calls[0].body is None


@pytest.mark.parametrize(
    "response",
    [
        reply(404, {}),
        FakeResponse(404, b"Not Found"),
        reply(400, {"status": "TransactionNotFound"}),
        reply(200, {"status": "UniqueReferenceNotFound"}),
    ],
)
def test_status_not_found(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], response: FakeResponse
) -> None:
    pool = install(monkeypatch, response)

    result = make_client(sleeps).status(REFERENCE)

    assert result.found is False
    assert result.transaction_status is None
    assert len(pool.calls) == 1


def test_status_unknown_after_exhausted_retries(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    install(monkeypatch, timeout(), reply(503, {}), refused(), reply(500, {}))

    result = make_client(sleeps).status(REFERENCE)

    assert result.found is None
    assert result.stats.attempts == 4


@pytest.mark.parametrize(
    ("response", "provider_status"),
    [(reply(200, {"status": "Error"}), "Error"), (reply(401, {}), "HTTP401")],
)
def test_status_without_a_definite_answer_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    response: FakeResponse,
    provider_status: str,
) -> None:
    install(monkeypatch, response)

    result = make_client(sleeps).status(REFERENCE)

    assert result.found is None
    assert result.provider_status == provider_status


# --- the create path's time budget ----------------------------------------------------------


class FakeClock:
    """Monotonic time that moves only when an attempt waits for its answer, or a pause sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def budgeted(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, budget: float, *script: Any
) -> tuple[MonoovaClient, FakePool]:
    pool = install(monkeypatch, *script)
    original = pool.request

    def waiting(*args: Any, **kwargs: Any) -> FakeResponse:
        try:
            return original(*args, **kwargs)
        except ReadTimeoutError:
            clock.now += kwargs["timeout"].read_timeout  # waited the whole read timeout
            raise

    monkeypatch.setattr(pool, "request", waiting)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    client = MonoovaClient(
        BASE_URL,
        lambda: API_KEY,
        4.0,
        backoff=(0.5,),
        sleep=sleep,
        rand=lambda: 0.5,
        budget_seconds=budget,
        monotonic=clock,
    )
    return client, pool


def test_a_hanging_monoova_costs_the_create_at_most_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    client, pool = budgeted(monkeypatch, clock, 6.0, timeout(), timeout())

    result = client.execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert [c.timeout.read_timeout for c in pool.calls] == [4.0, 1.5]  # 4 + 0.5 + 1.5 = 6
    assert clock.now - 100.0 == pytest.approx(6.0)
    assert result.stats.elapsed_ms == 6000


def test_no_retry_when_the_budget_leaves_less_than_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    client, pool = budgeted(monkeypatch, clock, 5.0, timeout(), ok())

    result = client.execute(BODY)

    assert result.outcome is Outcome.UNKNOWN
    assert len(pool.calls) == 1  # 4 s spent, 0.5 s pause: 0.5 s would be left for an answer


def test_a_fast_failure_is_retried_once_within_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    client, pool = budgeted(monkeypatch, clock, 6.0, reply(503, {}), ok(88))

    result = client.execute(BODY)

    assert (result.outcome, result.transaction_id) == (Outcome.ACCEPTED, 88)
    assert [c.timeout.read_timeout for c in pool.calls] == [4.0, 4.0]
