"""simulators.common.http and .admin over real HTTP, through a minimal simulator built on them."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from simulators.common.admin import AdminRoutes
from simulators.common.http import ADMIN_PREFIX, HttpSimulator, Reply, Request
from simulators.common.log import BoundedLog
from simulators.common.modes import ModeState
from tests.sim_http import call


class EchoSimulator(HttpSimulator):
    """Answers ``/echo`` with what it was sent; ``/hold``, ``/drop`` and ``/crash`` misbehave."""

    thread_name = "echo-simulator"
    server_version = "EchoSimulator/1.0"

    def __init__(self, hold: float = 0.2) -> None:
        super().__init__()
        self.hold = hold
        self.modes = ModeState(("ok", "slow", "broken"), options={"times": 5})
        self.log = BoundedLog(limit=10)
        self.admin = AdminRoutes()
        self.admin.add_standard(
            mode=self.modes.snapshot,
            set_mode=self.modes.set,
            reset=self.log.clear,
            received=self.log.entries,
            mode_options=("times",),
        )
        self.admin.add("GET", "boom", self._boom)
        self.urls: list[str | None] = []
        self.admin.add_webhook_url(self.urls.append)

    @staticmethod
    def _boom(request: Request, _body: dict[str, Any]) -> tuple[int, Any]:
        kind = request.query_value("kind")
        errors = {"lookup": LookupError("no such thing"), "state": RuntimeError("not now")}
        raise errors.get(kind or "", ValueError("bad input"))

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        request = Request.parse(method, path, headers, raw)
        if request.route.startswith(ADMIN_PREFIX):
            return self.admin.dispatch(request)
        self.log.append(
            {"path": request.path, "headers": request.headers, "body": request.logged_body()}
        )
        if request.route == "/crash":
            raise KeyError("simulated bug")
        if request.route == "/hold":
            return Reply(200, {"held": True}, hold=self.hold)
        if request.route == "/drop":
            return Reply(200, {"never": "sent"}, hold=0.05, drop=True)
        payload = {
            "method": method,
            "query": request.query,
            "raw": raw.decode(),
            "authorization": request.authorization,
            "trace": request.header("x-trace-id"),
        }
        return Reply(201, payload, headers={"X-Echo": "yes"})


@pytest.fixture
def sim() -> Iterator[EchoSimulator]:
    with EchoSimulator() as simulator:
        yield simulator


def test_lifecycle_binds_localhost_on_a_free_port_with_a_large_backlog() -> None:
    simulator = EchoSimulator()
    assert simulator.base_url is None
    base_url = simulator.start()
    try:
        assert base_url == simulator.base_url
        assert base_url.startswith("http://127.0.0.1:")
        assert simulator.port > 0
        assert simulator._server is not None
        assert simulator._server.request_queue_size >= 128
        with pytest.raises(RuntimeError, match="already started"):
            simulator.start()
    finally:
        simulator.stop()
    with pytest.raises(urllib.error.URLError):
        call(base_url, "GET", "/echo", timeout=1)


def test_request_parsing_and_reply_headers(sim: EchoSimulator) -> None:
    code, payload = call(
        sim.base_url,
        "POST",
        "/echo?a=1&a=2&b=x",
        raw=b'{"amount": 1.10}',
        auth="Basic c2VjcmV0Og==",
        headers={"X-Trace-Id": "t-1"},
    )
    assert code == 201
    assert payload["query"] == {"a": ["1", "2"], "b": ["x"]}
    assert payload["raw"] == '{"amount": 1.10}'
    assert payload["authorization"] == "Basic c2VjcmV0Og=="
    assert payload["trace"] == "t-1"
    [logged] = sim.log.entries()
    assert all(name.lower() != "authorization" for name in logged["headers"])
    assert "c2VjcmV0Og" not in repr(logged)


def test_the_log_shows_bodies_as_json_else_as_text(sim: EchoSimulator) -> None:
    call(sim.base_url, "POST", "/echo", raw=b'{"amount": 10.10}')
    call(sim.base_url, "POST", "/echo", raw=b"not json")
    call(sim.base_url, "POST", "/echo", raw=b"\xffbad")
    call(sim.base_url, "GET", "/echo")
    bodies = [entry["body"] for entry in sim.log.entries()]
    assert bodies == [{"amount": Decimal("10.10")}, "not json", "\ufffdbad", None]


def test_a_simulator_bug_is_a_500_and_the_server_keeps_serving(sim: EchoSimulator) -> None:
    code, payload = call(sim.base_url, "GET", "/crash")
    assert code == 500
    assert "simulated bug" in payload["error"]
    assert call(sim.base_url, "GET", "/echo")[0] == 201


def test_bad_content_length_is_a_400(sim: EchoSimulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    connection.putrequest("POST", "/echo")
    connection.putheader("Content-Length", "many")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400
    assert b"invalid Content-Length" in response.read()
    connection.close()


def test_hold_delays_the_answer_and_stop_cuts_it_short() -> None:
    simulator = EchoSimulator(hold=0.3)
    simulator.start()
    started = time.monotonic()
    assert call(simulator.base_url, "GET", "/hold")[0] == 200
    assert time.monotonic() - started >= 0.3
    simulator.hold = 30
    results: list[Any] = []

    def held() -> None:
        try:
            results.append(call(simulator.base_url, "GET", "/hold", timeout=10))
        except Exception as exc:
            results.append(exc)

    thread = threading.Thread(target=held)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    simulator.stop()
    thread.join(timeout=10)
    assert time.monotonic() - started < 5
    assert results  # answered (or cut) well before the 30 s hold


def test_drop_closes_the_connection_without_an_answer(sim: EchoSimulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    connection.request("GET", "/drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()
    connection.close()
    assert [entry["path"] for entry in sim.log.entries()] == ["/drop"]


def test_many_concurrent_held_requests_are_all_answered(sim: EchoSimulator) -> None:
    barrier = threading.Barrier(60)

    def held(_: int) -> int:
        barrier.wait()
        return call(sim.base_url, "GET", "/hold", timeout=10)[0]

    with ThreadPoolExecutor(max_workers=60) as pool:
        codes = list(pool.map(held, range(60)))
    assert codes == [200] * 60


def test_server_writes_nothing_to_stderr(
    sim: EchoSimulator, capfd: pytest.CaptureFixture[str]
) -> None:
    call(sim.base_url, "GET", "/echo")
    call(sim.base_url, "GET", "/crash")
    call(sim.base_url, "GET", "/_simulator/nope")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


# --------------------------------------------------------------------------- admin routes


def test_standard_admin_routes(sim: EchoSimulator) -> None:
    base = sim.base_url
    assert call(base, "GET", "/_simulator/mode") == (
        200,
        {"mode": "ok", "count": None, "latency_ms": 0, "times": 5},
    )
    code, mode = call(
        base, "POST", "/_simulator/mode", {"mode": "slow", "count": 2, "latency_ms": 50}
    )
    assert (code, mode) == (200, {"mode": "slow", "count": 2, "latency_ms": 50, "times": 5})
    code, mode = call(base, "POST", "/_simulator/mode", {"mode": "broken", "times": 3})
    assert mode["times"] == 3
    call(base, "GET", "/echo?n=1")
    code, received = call(base, "GET", "/_simulator/received")
    assert code == 200
    assert [entry["path"] for entry in received] == ["/echo?n=1"]
    assert call(base, "POST", "/_simulator/reset") == (200, {"reset": True})
    assert call(base, "GET", "/_simulator/received") == (200, [])
    assert call(base, "POST", "/_simulator/webhook-url", {"url": "http://x/y"}) == (
        200,
        {"url": "http://x/y"},
    )
    assert call(base, "POST", "/_simulator/webhook-url", {"url": None})[0] == 200
    assert sim.urls == ["http://x/y", None]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_simulator/mode", {"mode": "explode"}, 400),
        ("/_simulator/mode", {"mode": "slow", "count": 0}, 400),
        ("/_simulator/mode", {"mode": "slow", "count": True}, 400),
        ("/_simulator/mode", {"mode": "slow", "latency_ms": -1}, 400),
        ("/_simulator/mode", {"mode": "slow", "latency_ms": Decimal("1.5")}, 400),
        ("/_simulator/mode", {"mode": "slow", "times": 0}, 400),
        ("/_simulator/mode", [1, 2], 400),
        ("/_simulator/webhook-url", {"url": 7}, 400),
        ("/_simulator/unknown", {}, 404),
    ],
)
def test_admin_errors_are_clear_4xx(sim: EchoSimulator, path: str, body: Any, status: int) -> None:
    code, payload = call(sim.base_url, "POST", path, body)
    assert code == status
    assert isinstance(payload["error"], str) and payload["error"]
    assert sim.modes.snapshot()["mode"] == "ok"


def test_admin_maps_exceptions_to_status_codes(sim: EchoSimulator) -> None:
    assert call(sim.base_url, "GET", "/_simulator/boom?kind=lookup") == (
        404,
        {"error": "no such thing"},
    )
    assert call(sim.base_url, "GET", "/_simulator/boom?kind=state") == (409, {"error": "not now"})
    assert call(sim.base_url, "GET", "/_simulator/boom") == (400, {"error": "bad input"})
    code, _ = call(sim.base_url, "POST", "/_simulator/mode", raw=b"{not json")
    assert code == 400
    assert call(sim.base_url, "GET", "/_simulator/reset")[0] == 404  # wrong method


def test_admin_route_names_are_declared_once() -> None:
    admin = AdminRoutes()
    admin.add("GET", "thing", lambda _request, _body: (200, None))
    with pytest.raises(ValueError, match="already declared"):
        admin.add("GET", "/thing/", lambda _request, _body: (200, None))
