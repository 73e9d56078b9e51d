"""End-to-end fixtures: the local runner (`python -m local`) as a subprocess, driven over HTTP.

Nothing here imports runtime code: the tests see the runner only as a client would, through
its API, its runner-only routes and the Monoova simulator's admin API.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 30.0
FAST_ARGS = ("--port", "0", "--webhook-delay", "0.2", "--reconcile-every", "1")
_API_LINE = re.compile(r"^Local API:\s+(http://\S+)", re.MULTILINE)
_SIMULATOR_LINE = re.compile(r"^Monoova simulator:\s+(http://\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    @property
    def body(self) -> Any:
        """The JSON body (numbers with a fraction as Decimal), or None when it is not JSON."""
        try:
            return json.loads(self.raw, parse_float=Decimal)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.text[:500]!r})"


def http(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT,
) -> Response:
    """One request with urllib; an HTTP error status is a Response too, not an exception."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, dict(error.headers.items()), error.read())


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float = 0.1,
    what: str | Callable[[], str] = "",
) -> Any:
    """Poll until `predicate()` is truthy and return that value; fail saying what was awaited
    (`what` may be a callable, to describe the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what or repr(predicate)
            pytest.fail(f"timed out after {timeout:g} s waiting for {described}; last: {last!r}")
        time.sleep(interval)


def _json_number(value: Any) -> float:
    """Decimal amounts go out as JSON numbers (2-decimal amounts print exactly as floats)."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class Client:
    """The runner's API, its runner-only routes and the simulator's admin API."""

    base: str
    simulator: str
    _token: str | None = field(default=None, repr=False)

    # runner-only routes -------------------------------------------------------------------
    def new_token(self, ttl: int | None = None) -> str:
        path = "/local/token" + (f"?ttl={ttl}" if ttl is not None else "")
        response = self.request("POST", path)
        assert response.status == 200, response
        token = response.body["token"]
        assert isinstance(token, str) and token.count(".") == 2, response
        return token

    def token(self) -> str:
        """A valid admin token (minted once per client and reused)."""
        if self._token is None:
            self._token = self.new_token()
        return self._token

    # the API ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return http(method, self.base + path, data=data, headers=headers)

    def get(self, path: str, *, token: str | None = None) -> Response:
        return self.request("GET", path, headers={"Authorization": token or self.token()})

    def post_payout(
        self,
        body: Any,
        key: str | None,
        *,
        raw: bytes | None = None,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> Response:
        headers = {"Authorization": token or self.token(), "Content-Type": content_type}
        if key is not None:
            headers["Idempotency-Key"] = key
        data = raw if raw is not None else json.dumps(body, default=_json_number).encode()
        return self.request("POST", "/payouts", data=data, headers=headers)

    def payout(self, transaction_id: str) -> dict[str, Any]:
        response = self.get(f"/payouts/{transaction_id}")
        assert response.status == 200, response
        return response.body

    def balance(self, customer_id: str) -> Decimal:
        response = self.get(f"/customers/{customer_id}")
        assert response.status == 200, response
        return Decimal(response.body["available_balance"])

    def payouts_of(self, customer_id: str) -> list[dict[str, Any]]:
        """Every payout of the customer, following the cursor."""
        items: list[dict[str, Any]] = []
        path = f"/customers/{customer_id}/payouts?limit=100"
        while True:
            response = self.get(path)
            assert response.status == 200, response
            items += response.body["items"]
            cursor = response.body["next_cursor"]
            if not cursor:
                return items
            path = f"/customers/{customer_id}/payouts?limit=100&cursor={cursor}"

    # the simulator's admin API ----------------------------------------------------------------
    def sim(self, method: str, path: str, body: Any = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        return http(method, self.simulator + path, data=data, headers=headers)

    def sim_mode(self, mode: str, count: int | None = None, latency_ms: int | None = None) -> None:
        body: dict[str, Any] = {"mode": mode}
        if count is not None:
            body["count"] = count
        if latency_ms is not None:
            body["latency_ms"] = latency_ms
        response = self.sim("POST", "/_simulator/mode", body)
        assert response.status == 200, response
        assert response.body["mode"] == mode, response

    def executions(self, unique_reference: str) -> list[dict[str, Any]]:
        response = self.sim("GET", f"/_simulator/executions?uniqueReference={unique_reference}")
        assert response.status == 200, response
        return response.body

    # polling --------------------------------------------------------------------------------
    @staticmethod
    def wait_for(
        predicate: Callable[[], Any],
        timeout: float,
        interval: float = 0.1,
        what: str | Callable[[], str] = "",
    ) -> Any:
        return wait_for(predicate, timeout, interval, what)

    def wait_status(self, transaction_id: str, status: str, timeout: float = 15) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def reached() -> dict[str, Any] | None:
            seen.append(self.payout(transaction_id))
            return seen[-1] if seen[-1]["status"] == status else None

        return wait_for(
            reached, timeout, what=lambda: f"{transaction_id} to be {status}; seen {seen[-1:]}"
        )


class RunnerProcess:
    """`python -m local` in a subprocess; its output is collected as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "local", *args]
        self.lines: list[str] = []
        self._listening = threading.Event()
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, tag), daemon=True)
            for stream, tag in ((self.process.stdout, ""), (self.process.stderr, "[stderr] "))
        ]
        for reader in self._readers:
            reader.start()
        self.client = self._wait_until_listening()

    def _read(self, stream: Any, tag: str) -> None:
        for line in stream:
            self.lines.append(tag + line.rstrip("\n"))
            if not tag and line.startswith("Listening on"):
                self._listening.set()

    def output(self, last: int | None = None) -> str:
        lines = list(self.lines)
        return "\n".join(lines[-last:] if last else lines)

    def _wait_until_listening(self) -> Client:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._listening.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                code = self.process.poll()
                self.kill()
                why = f"exited with code {code}" if code is not None else "timed out"
                pytest.fail(
                    f"the runner did not print 'Listening on' within {STARTUP_TIMEOUT:g} s"
                    f" ({why}); it printed:\n{self.output()}"
                )
        banner = "\n".join(line for line in self.lines if not line.startswith("[stderr]"))
        api, simulator = _API_LINE.search(banner), _SIMULATOR_LINE.search(banner)
        if not api or not simulator:
            self.kill()
            pytest.fail(f"no Local API / Monoova simulator URL in the banner:\n{banner}")
        return Client(api.group(1), simulator.group(1))

    def stop(self) -> int:
        """SIGTERM, wait, kill if it does not stop; the exit code (negative: by signal)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        for reader in self._readers:
            reader.join(5)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def runner_process() -> Iterator[RunnerProcess]:
    process = RunnerProcess(*FAST_ARGS)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def runner(runner_process: RunnerProcess) -> Client:
    return runner_process.client


@pytest.fixture
def client(runner: Client) -> Client:
    """The shared runner, with the simulator back in mode ok for this test."""
    runner.sim_mode("ok")
    return runner


@pytest.fixture
def start_runner() -> Iterator[Callable[..., RunnerProcess]]:
    """Start extra runners (each with FAST_ARGS plus the given ones); all stopped afterwards."""
    started: list[RunnerProcess] = []

    def start(*extra: str) -> RunnerProcess:
        process = RunnerProcess(*FAST_ARGS, *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
