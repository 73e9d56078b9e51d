"""The Monoova simulator's ``GET /_simulator/received``, the log name every simulator shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.monoova import MonoovaSimulator
from tests.sim_http import basic, call

API_KEY = "received-key"
STATUS = "/financial/v2/status/"


@pytest.fixture
def sim() -> Iterator[MonoovaSimulator]:
    with MonoovaSimulator(api_key=API_KEY, webhook_delay=30) as simulator:
        yield simulator


def test_received_is_the_requests_log_under_the_shared_name(sim: MonoovaSimulator) -> None:
    assert call(sim.base_url, "GET", STATUS + "R-1", auth=basic(API_KEY, ""))[0] == 404
    assert call(sim.base_url, "GET", STATUS + "R-2", auth=basic("wrong", ""))[0] == 401
    code, received = call(sim.base_url, "GET", "/_simulator/received")
    assert code == 200
    assert [(r["path"], r["response_status"]) for r in received] == [
        (STATUS + "R-1", 404),
        (STATUS + "R-2", 401),
    ]
    assert received == call(sim.base_url, "GET", "/_simulator/requests")[1]
    assert received == sim.requests_log()
    assert "authorization" not in repr(received).lower()
    call(sim.base_url, "POST", "/_simulator/reset")
    assert call(sim.base_url, "GET", "/_simulator/received") == (200, [])
