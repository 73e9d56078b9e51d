"""The runner's utilities on the main port, for payouts: the circuit-breaker reset (so a
failure demo does not lock anyone out for the config's 10 minutes), the root page and the
endpoint list."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Client, http
from tests.e2e.payouts.test_local_runner import (
    BOTH,
    assert_accepted,
    assert_error,
    new_key,
    payout_body,
    post,
)


def _open_the_circuit(runner: Client) -> None:
    runner.sim_mode("error_5xx")
    for amount in ("5.00", "5.01"):  # two creates, two tries each: the dev breaker's volume
        assert_accepted(post(runner, payout_body(BOTH, amount), new_key()))
    runner.sim_mode("ok")


def test_breaker_reset_lets_payouts_through_again_at_once(start_runner: Any) -> None:
    runner = start_runner("--breaker-open", "600").client  # the config's wait, no --fast
    _open_the_circuit(runner)
    held = post(runner, payout_body(BOTH, "6.00"), new_key())
    assert_error(held, 503)
    assert int(held.headers["Retry-After"]) > 60, held.headers  # the mode alone does not help

    reset = runner.request("POST", "/_local/breaker/reset")

    assert reset.status == 200 and reset.raw.endswith(b"\n"), reset
    assert reset.body["breaker"] == "closed" and reset.body["cleared"] >= 1, reset
    assert_accepted(post(runner, payout_body(BOTH, "6.01"), new_key()))
    again = runner.request("POST", "/_local/breaker/reset")
    assert again.status == 200 and again.body["breaker"] == "closed", again


def test_the_root_lists_the_api_docs_and_every_endpoint(client: Client) -> None:
    root = client.request("GET", "/")
    assert root.status == 200 and root.raw.endswith(b"\n"), root
    assert root.body["api"] == "payouts", root
    assert root.body["docs"] == f"{client.base}/docs", root
    assert "POST /payouts" in root.body["routes"], root
    assert root.body["endpoints"]["payouts"] == client.base, root
    assert root.body["endpoints"]["monoova"] == client.simulator, root
    assert "POST /_local/breaker/reset" in root.body["runner"], root
    endpoints = http("GET", f"{client.base}/_local/endpoints")
    assert endpoints.body == root.body["endpoints"], endpoints


def test_runner_answers_end_with_a_newline(client: Client) -> None:
    for method, path in (("GET", "/nope"), ("POST", "/local/token"), ("GET", "/local/health")):
        answer = client.request(method, path)
        assert answer.raw.endswith(b"\n"), (method, path, answer)
