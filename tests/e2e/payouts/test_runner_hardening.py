"""The local runner under the conditions that broke it: cancelled transactions, a burst of
connections, methods API Gateway does not serve, and a random mix of payouts whose ledger
must balance to the cent. Driven over HTTP only, as a client would."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Client, Response, RunnerProcess, wait_for
from tests.e2e.payouts.test_local_runner import (
    BANK,
    BOTH,
    PAYID,
    SEED_BALANCES,
    SETTLE,
    assert_accepted,
    assert_error,
    new_key,
    payout_body,
    post,
    wait_balance,
)

REFUNDABLE = {"Rejected", "Returned"}
FINAL = {"Completed"} | REFUNDABLE


def test_a_refund_still_comes_after_a_cancelled_transaction(client: Client) -> None:
    # A replayed webhook for a completed payout is a cancelled TransactWriteItems: moto then
    # swaps the table's stream shard, and the stream consumer used to stop for good.
    done = assert_accepted(post(client, payout_body(PAYID, "2.22"), new_key()))["transaction_id"]
    client.wait_status(done, "Completed", SETTLE)
    replay = client.sim("POST", "/_simulator/webhooks", {"uniqueReference": done})
    assert replay.status == 200 and replay.body["status_code"] == 200, replay
    assert client.payout(done)["status"] == "Completed"  # the replay changed nothing
    before = client.balance(BANK)
    client.sim_mode("reject", count=1)

    rejected = assert_accepted(post(client, payout_body(BANK, "3.33", "BankAccount"), new_key()))
    client.wait_status(rejected["transaction_id"], "Rejected", SETTLE)

    wait_balance(client, BANK, before)  # credited back by the table stream
    assert client.payout(rejected["transaction_id"])["refunded_at"]


def _health_over_a_fresh_connection(host: str, port: int, barrier: threading.Barrier) -> str:
    barrier.wait(10)
    try:
        # A connection the listen backlog has no room for is dropped and retried by the
        # kernel after a second at the earliest: a sub-second connect tells the two apart.
        with socket.create_connection((host, port), timeout=0.9) as connection:
            connection.settimeout(30)
            connection.sendall(
                b"GET /local/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
    except OSError as exc:
        return type(exc).__name__
    return answer.split(b" ", 2)[1].decode() if answer else "empty"


def test_a_burst_of_100_connections_is_answered_in_full(client: Client) -> None:
    host, port = client.base.removeprefix("http://").rsplit(":", 1)
    barrier = threading.Barrier(100)
    results: list[str] = []

    def one() -> None:
        results.append(_health_over_a_fresh_connection(host, int(port), barrier))

    threads = [threading.Thread(target=one) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert Counter(results) == {"200": 100}


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FROB"])
def test_methods_api_gateway_does_not_serve_get_its_answer_in_the_error_shape(
    client: Client, method: str
) -> None:
    for path in ("/payouts", f"/customers/{PAYID}", "/nope"):
        response = client.request(method, path, headers={"Authorization": client.token()})
        body = assert_error(response, 403)
        assert body["message"] == "Missing Authentication Token"


def test_head_gets_the_status_and_headers_without_a_body(client: Client) -> None:
    response = client.request("HEAD", "/payouts")
    assert response.status == 403
    assert response.raw == b""
    assert (response.header("Content-Type") or "").startswith("application/json")


# The ledger under a random mix ------------------------------------------------------------

KINDS = {
    # kind: weight
    "ok": 6,
    "reject": 2,
    "return": 2,
    "decline": 1,
    "error_5xx": 1,
    "timeout": 1,
    "key_replay": 1,
    "webhook_replay": 1,
}
CUSTOMERS = {PAYID: ("PayId",), BANK: ("BankAccount",), BOTH: ("PayId", "BankAccount")}
MIX_SIZE = 60


@dataclass
class Made:
    transaction_id: str
    customer_id: str
    amount: Decimal
    kind: str
    replays: list[Response] = field(default_factory=list)


def _mix(rng: random.Random) -> list[str]:
    kinds = [kind for kind, weight in KINDS.items() for _ in range(weight)]
    rest = [rng.choice(kinds) for _ in range(MIX_SIZE - 5)]
    # Five good ones first: the dev breaker (>50% of at least 3 calls failing) stays closed.
    return ["ok"] * 5 + rest


def _create(runner: Client, body: dict[str, Any], key: str) -> Response:
    """POST, waiting out an open circuit (nothing is debited while it answers 503)."""
    for _ in range(10):
        response = post(runner, body, key)
        if response.status != 503:
            return response
        time.sleep(min(5, int(response.header("Retry-After") or 1)))
    return response


def _make(runner: Client, rng: random.Random, index: int, kind: str) -> Made:
    customer = rng.choice(sorted(CUSTOMERS))
    method = rng.choice(CUSTOMERS[customer])
    # Distinct amounts (0.07 apart): a credit made to the wrong payout would show.
    amount = Decimal(7 * (index + 1)) / 100
    body = payout_body(customer, str(amount), method)
    key = new_key()
    mode = {"reject": 1, "return": 1, "decline": 1, "error_5xx": 2, "timeout": 1}.get(kind)
    if mode:
        runner.sim_mode(kind, count=mode)
    response = _create(runner, body, key)
    made = Made(assert_accepted(response)["transaction_id"], customer, amount, kind)
    if kind == "key_replay":
        made.replays = [post(runner, body, key) for _ in range(2)]
        assert all(r.status == 202 and r.body == response.body for r in made.replays)
    runner.sim_mode("ok")
    if kind == "webhook_replay":
        runner.wait_status(made.transaction_id, "Completed", SETTLE)
        replay = runner.sim(
            "POST", "/_simulator/webhooks", {"uniqueReference": made.transaction_id}
        )
        assert replay.status == 200, replay
    return made


def _settled(runner: Client, made: list[Made]) -> dict[str, dict[str, Any]] | None:
    views = {m.transaction_id: runner.payout(m.transaction_id) for m in made}
    for m in made:
        view = views[m.transaction_id]
        if view["status"] not in FINAL:
            return None
        if view["status"] in REFUNDABLE and not view.get("refunded_at"):
            return None
        executions = runner.executions(m.transaction_id)
        if view["status"] == "Completed" and executions and executions[0]["outcome"] == "return":
            return None  # its return is still on the way
    return views


def test_a_random_mix_of_payouts_balances_to_the_cent(start_runner: Any) -> None:
    process: RunnerProcess = start_runner("--monoova-timeout", "1", "--breaker-open", "5")
    runner = process.client
    rng = random.Random(20261110)
    plan = _mix(rng)

    made = [_make(runner, rng, i, kind) for i, kind in enumerate(plan)]
    views = wait_for(
        lambda: _settled(runner, made),
        90,
        interval=0.5,
        what="every payout final, every rejected or returned one credited",
    )

    for customer, seed in SEED_BALANCES.items():
        kept = sum(
            (
                m.amount
                for m in made
                if m.customer_id == customer and views[m.transaction_id]["status"] not in REFUNDABLE
            ),
            Decimal(0),
        )
        assert seed - runner.balance(customer) == kept, customer
        # One payout per create, replays included.
        assert len(runner.payouts_of(customer)) == sum(1 for m in made if m.customer_id == customer)
    for m in made:
        view = views[m.transaction_id]
        executions = runner.executions(m.transaction_id)
        assert len(executions) <= 1, (m, executions)  # one execute per reference, ever
        if view["status"] in ("Completed", "Returned"):
            assert len(executions) == 1, (m, view)
        if view["status"] in REFUNDABLE:
            assert view["refunded_at"], view  # credited, and (the ledger says) exactly once
    statuses = Counter(views[m.transaction_id]["status"] for m in made)
    # The mix reached every path it is meant to test.
    assert statuses["Completed"] and statuses["Rejected"] and statuses["Returned"], statuses
    assert set(plan) == set(KINDS), Counter(plan)
    assert process.process.poll() is None, process.output(40)  # the runner is still up
