"""The local runner end to end: `python -m local` in a subprocess, driven over HTTP only.

Every test resets the simulator to mode ok (the `client` fixture), uses fresh Idempotency-Keys
and measures balances as deltas, so no test depends on what another one did to the shared runner.
"""

from __future__ import annotations

import base64
import http.client
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Client, Response, RunnerProcess, wait_for

PAYID = "cust-demo-payid"  # 1000.00, PayId
BANK = "cust-demo-bank"  # 500.00, BankAccount
BOTH = "cust-demo-both"  # 2500.00, PayId and BankAccount
SEED_BALANCES = {PAYID: Decimal("1000.00"), BANK: Decimal("500.00"), BOTH: Decimal("2500.00")}
ERROR_KEYS = {"error", "message", "timestamp"}
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TRANSACTION_ID = re.compile(r"^po_[0-9a-f]{32}$")
SETTLE = 15.0  # seconds allowed for a webhook, the stream consumer or the reconciler to act


def new_key() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def payout_body(customer_id: str, amount: str, method: str = "PayId") -> dict[str, Any]:
    return {"customer_id": customer_id, "amount": Decimal(amount), "payout_method": method}


def post(client: Client, body: dict[str, Any], key: str) -> Response:
    return client.post_payout(body, key)


def assert_error(response: Response, status: int, error: str | None = None) -> dict[str, Any]:
    assert response.status == status, response
    assert (response.header("Content-Type") or "").startswith("application/json"), response
    body = response.body
    assert isinstance(body, dict), response
    assert set(body) == ERROR_KEYS, response
    assert isinstance(body["message"], str) and body["message"], response
    assert ISO_TIMESTAMP.match(body["timestamp"]), response
    if error is not None:
        assert body["error"] == error, response
    return body


def assert_accepted(response: Response) -> dict[str, Any]:
    assert response.status == 202, response
    body = response.body
    assert set(body) == {"transaction_id", "status", "message", "created_at"}, response
    assert TRANSACTION_ID.match(body["transaction_id"]), response
    assert body["status"] == "Pending", response
    assert isinstance(body["message"], str) and body["message"], response
    assert ISO_TIMESTAMP.match(body["created_at"]), response
    return body


def assert_payout_view(view: dict[str, Any], transaction_id: str, body: dict[str, Any]) -> None:
    assert view["transaction_id"] == transaction_id
    assert view["customer_id"] == body["customer_id"]
    assert view["amount"] == f"{Decimal(body['amount']):.2f}"
    assert view["currency"] == "AUD"
    assert view["payout_method"] == body["payout_method"]
    assert ISO_TIMESTAMP.match(view["created_at"]) and ISO_TIMESTAMP.match(view["updated_at"])


def wait_balance(client: Client, customer_id: str, expected: Decimal) -> Decimal:
    seen: list[Decimal] = []

    def reached() -> bool:
        seen.append(client.balance(customer_id))
        return seen[-1] == expected

    wait_for(reached, SETTLE, what=lambda: f"{customer_id} balance {expected}; seen {seen[-1:]}")
    return seen[-1]


# 1 ---------------------------------------------------------------------------------------------
def test_payout_is_accepted_then_completed_by_webhook_and_debited_once(client: Client) -> None:
    before = client.balance(PAYID)
    body = payout_body(PAYID, "12.34")

    accepted = assert_accepted(post(client, body, new_key()))
    transaction_id = accepted["transaction_id"]

    assert client.balance(PAYID) == before - Decimal("12.34")  # debited with the 202
    completed = client.wait_status(transaction_id, "Completed", SETTLE)
    assert_payout_view(completed, transaction_id, body)
    assert completed["created_at"] == accepted["created_at"]
    assert isinstance(completed["monoova_transaction_id"], int)
    assert ISO_TIMESTAMP.match(completed["finalised_at"])
    assert "refunded_at" not in completed
    assert client.balance(PAYID) == before - Decimal("12.34")  # and only once
    assert len(client.executions(transaction_id)) == 1


# 2 ---------------------------------------------------------------------------------------------
def test_rejected_payout_is_credited_back(client: Client) -> None:
    before = client.balance(BANK)
    body = payout_body(BANK, "21.50", "BankAccount")
    client.sim_mode("reject", count=1)

    transaction_id = assert_accepted(post(client, body, new_key()))["transaction_id"]
    assert client.balance(BANK) == before - Decimal("21.50")

    rejected = client.wait_status(transaction_id, "Rejected", SETTLE)
    assert_payout_view(rejected, transaction_id, body)
    wait_balance(client, BANK, before)
    refunded = client.payout(transaction_id)
    assert refunded["status"] == "Rejected"
    assert ISO_TIMESTAMP.match(refunded["refunded_at"]), refunded
    assert client.balance(BANK) == before  # credited exactly once


# 3 ---------------------------------------------------------------------------------------------
def test_returned_payout_after_completion_is_credited_back(client: Client) -> None:
    before = client.balance(BOTH)
    body = payout_body(BOTH, "33.33")
    client.sim_mode("return", count=1)

    transaction_id = assert_accepted(post(client, body, new_key()))["transaction_id"]
    assert client.balance(BOTH) == before - Decimal("33.33")

    returned = client.wait_status(transaction_id, "Returned", SETTLE)
    assert_payout_view(returned, transaction_id, body)
    assert ISO_TIMESTAMP.match(returned["finalised_at"])
    [execution] = client.executions(transaction_id)
    assert execution["transaction_status"] == "Dishonoured"  # the simulator completed it first
    wait_balance(client, BOTH, before)
    assert ISO_TIMESTAMP.match(client.payout(transaction_id)["refunded_at"])
    assert client.balance(BOTH) == before


# 4 ---------------------------------------------------------------------------------------------
def test_payout_made_while_monoova_is_down_is_finished_by_the_reconciler(client: Client) -> None:
    # The dev config's circuit breaker (min volume 3, > 50% failures) could open on this
    # payout's failed attempts unless the window holds enough successful calls; make sure
    # it does, so this test is about the reconciler (the circuit test below shows what
    # happens without them).
    for _ in range(5):
        assert_accepted(post(client, payout_body(BOTH, "0.02"), new_key()))
    before = client.balance(BOTH)
    body = payout_body(BOTH, "44.44", "BankAccount")
    client.sim_mode("error_5xx")

    transaction_id = assert_accepted(post(client, body, new_key()))["transaction_id"]

    unknown = client.payout(transaction_id)
    assert unknown["status"] == "UNKNOWN", unknown
    assert_payout_view(unknown, transaction_id, body)
    assert client.balance(BOTH) == before - Decimal("44.44")  # stays debited
    assert client.executions(transaction_id) == []  # Monoova never took it

    client.sim_mode("ok")
    completed = client.wait_status(transaction_id, "Completed", 20)
    assert_payout_view(completed, transaction_id, body)
    [execution] = client.executions(transaction_id)  # re-executed once, same reference
    assert execution["unique_reference"] == transaction_id
    assert execution["body"]["uniqueReference"] == transaction_id
    assert execution["body"]["totalAmount"] == Decimal("44.44")
    assert client.balance(BOTH) == before - Decimal("44.44")


def test_after_monoova_failures_the_circuit_holds_payouts_back_without_debiting(
    start_runner: Any,
) -> None:
    fresh = start_runner("--breaker-open", "30").client
    fresh.sim_mode("error_5xx")
    # Each create tries Monoova twice (bounded): two of them make the dev config's minimum
    # volume of 3 calls, all failed.
    for amount in ("5.00", "5.01"):
        stranded = assert_accepted(post(fresh, payout_body(BOTH, amount), new_key()))
        assert fresh.payout(stranded["transaction_id"])["status"] == "UNKNOWN"
    fresh.sim_mode("ok")
    before = fresh.balance(BOTH)

    held = post(fresh, payout_body(BOTH, "6.00"), new_key())

    assert held.status == 503, held
    assert_error(held, 503)
    assert 1 <= int(held.headers["Retry-After"]) <= 30
    assert fresh.balance(BOTH) == before


# amount bounds ---------------------------------------------------------------------------------
def test_the_maximum_amount_is_accepted(client: Client) -> None:
    before = client.balance(BOTH)
    body = payout_body(BOTH, "1000.00", "BankAccount")
    transaction_id = assert_accepted(post(client, body, new_key()))["transaction_id"]
    assert client.balance(BOTH) == before - Decimal("1000.00")
    assert_payout_view(
        client.wait_status(transaction_id, "Completed", SETTLE), transaction_id, body
    )


def test_the_minimum_amount_is_accepted(client: Client) -> None:
    before = client.balance(BOTH)
    body = payout_body(BOTH, "0.01")
    response = post(client, body, new_key())
    transaction_id = assert_accepted(response)["transaction_id"]
    assert client.balance(BOTH) == before - Decimal("0.01")
    assert_payout_view(
        client.wait_status(transaction_id, "Completed", SETTLE), transaction_id, body
    )


# 5 ---------------------------------------------------------------------------------------------
def test_same_key_and_body_replays_the_first_answer_and_debits_once(client: Client) -> None:
    before = client.balance(PAYID)
    listed_before = len(client.payouts_of(PAYID))
    body, key = payout_body(PAYID, "5.55"), new_key()

    first = post(client, body, key)
    second = post(client, body, key)

    assert_accepted(first)
    assert second.status == 202
    assert second.body == first.body
    transaction_id = first.body["transaction_id"]
    listed = client.payouts_of(PAYID)
    assert len(listed) == listed_before + 1
    assert [p["transaction_id"] for p in listed].count(transaction_id) == 1
    assert client.balance(PAYID) == before - Decimal("5.55")
    client.wait_status(transaction_id, "Completed", SETTLE)
    assert len(client.executions(transaction_id)) == 1


def test_same_key_with_a_different_body_is_a_conflict(client: Client) -> None:
    key = new_key()
    first = assert_accepted(post(client, payout_body(PAYID, "6.66"), key))
    before = client.balance(PAYID)
    listed_before = len(client.payouts_of(PAYID))

    conflict = post(client, payout_body(PAYID, "6.67"), key)

    body = assert_error(conflict, 409)
    assert "Idempotency-Key" in body["message"], body
    assert client.balance(PAYID) == before
    assert len(client.payouts_of(PAYID)) == listed_before
    assert post(client, payout_body(PAYID, "6.66"), key).body == first  # the original stands


def test_concurrent_duplicates_make_one_payout_and_one_debit(client: Client) -> None:
    before = client.balance(PAYID)
    listed_before = len(client.payouts_of(PAYID))
    body, key = payout_body(PAYID, "7.77"), new_key()
    start = threading.Barrier(10)

    def one(_: int) -> Response:
        start.wait(10)
        return post(client, body, key)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(one, range(10)))

    assert [r.status for r in responses] == [202] * 10, responses
    ids = {r.body["transaction_id"] for r in responses}
    assert len(ids) == 1, responses
    assert all(r.body == responses[0].body for r in responses)
    [transaction_id] = ids
    assert client.balance(PAYID) == before - Decimal("7.77")
    assert len(client.payouts_of(PAYID)) == listed_before + 1
    client.wait_status(transaction_id, "Completed", SETTLE)
    assert len(client.executions(transaction_id)) == 1
    assert client.balance(PAYID) == before - Decimal("7.77")


# 6 ---------------------------------------------------------------------------------------------
def _flip_signature_byte(token: str) -> str:
    header, claims, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{claims}." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_admin_routes_reject_missing_forged_and_expired_tokens(client: Client) -> None:
    path = f"/customers/{PAYID}"
    assert client.get(path).status == 200  # the control: a good token works

    missing = client.request("GET", path)
    assert assert_error(missing, 401, "Unauthorized")["message"] == "Unauthorized"

    forged = client.get(path, token=_flip_signature_byte(client.token()))
    assert assert_error(forged, 401, "Unauthorized")["message"] == "Unauthorized"

    expired = client.get(path, token=client.new_token(ttl=-10))
    assert "expired" in assert_error(expired, 401, "Unauthorized")["message"].lower()

    garbage = client.get(path, token="not-a-jwt")
    assert_error(garbage, 401, "Unauthorized")


def test_post_payouts_with_a_bad_token_creates_nothing(client: Client) -> None:
    before = client.balance(PAYID)
    listed_before = len(client.payouts_of(PAYID))
    raw = b'{"customer_id": "cust-demo-payid", "amount": 1.00, "payout_method": "PayId"}'

    for token in (_flip_signature_byte(client.token()), client.new_token(ttl=-10)):
        response = client.post_payout(None, new_key(), raw=raw, token=token)
        assert_error(response, 401, "Unauthorized")
    no_token = client.request(
        "POST",
        "/payouts",
        data=raw,
        headers={"Content-Type": "application/json", "Idempotency-Key": new_key()},
    )
    assert_error(no_token, 401, "Unauthorized")
    assert client.balance(PAYID) == before
    assert len(client.payouts_of(PAYID)) == listed_before


def test_webhook_route_without_monoova_auth_is_401(client: Client) -> None:
    payload = (
        b'{"SourceBSB": "802-985", "Status": "Payment Successful", "Uniqueid": "po_'
        + b"0" * 32
        + b'"}'
    )
    for headers in (
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "Authorization": "Basic bm90OnRoZS10b2tlbg=="},
        {"Content-Type": "application/json", "Authorization": client.token()},
    ):
        response = client.request("POST", "/webhooks/monoova", data=payload, headers=headers)
        assert_error(response, 401, "Unauthorized")


# 7 ---------------------------------------------------------------------------------------------
_CUSTOMER = b'"customer_id": "cust-demo-bank"'
_VALID = _CUSTOMER + b', "payout_method": "BankAccount"'
INVALID_BODIES = {
    "not JSON": b'{"amount": 10, ' + _VALID,
    "amount as string": b'{"amount": "10.00", ' + _VALID + b"}",
    "amount 0": b'{"amount": 0, ' + _VALID + b"}",
    "amount 1000.01": b'{"amount": 1000.01, ' + _VALID + b"}",
    "amount with 3 decimals": b'{"amount": 10.005, ' + _VALID + b"}",
    "unknown field": b'{"amount": 10, "note": "hi", ' + _VALID + b"}",
    "missing field": b'{"amount": 10, ' + _CUSTOMER + b"}",
    "payout_method Cash": b'{"amount": 10, ' + _CUSTOMER + b', "payout_method": "Cash"}',
    "body an array": b'[{"amount": 10, ' + _VALID + b"}]",
    "amount NaN": b'{"amount": NaN, ' + _VALID + b"}",
    "empty body": b"",
    # What Python's parser cannot read: the gateway answers 400, it must not crash (500).
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "amount of 5,000 digits": b'{"amount": ' + b"1" * 5_000 + b", " + _VALID + b"}",
}


@pytest.mark.parametrize("raw", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_body_is_400_and_creates_nothing(client: Client, raw: bytes) -> None:
    before = client.balance(BANK)
    listed_before = len(client.payouts_of(BANK))

    response = client.post_payout(None, new_key(), raw=raw)

    assert_error(response, 400, "ValidationError")
    assert client.balance(BANK) == before
    assert len(client.payouts_of(BANK)) == listed_before


@pytest.mark.parametrize("key", [None, "", "short", "x" * 129, "has space"])
def test_missing_or_malformed_idempotency_key_is_400_and_creates_nothing(
    client: Client, key: str | None
) -> None:
    before = client.balance(BANK)
    listed_before = len(client.payouts_of(BANK))
    raw = b'{"amount": 10, ' + _VALID + b"}"

    response = client.post_payout(None, key, raw=raw)

    body = assert_error(response, 400, "ValidationError")
    assert "Idempotency-Key" in body["message"], body
    assert client.balance(BANK) == before
    assert len(client.payouts_of(BANK)) == listed_before


# 8 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nope"), ("DELETE", "/payouts"), ("GET", "/payouts"), ("PUT", "/customers/x")],
)
def test_unknown_route_is_403_missing_authentication_token(
    client: Client, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": client.token()}):
        response = client.request(method, path, headers=headers)
        body = assert_error(response, 403)
        assert body["message"] == "Missing Authentication Token", body


def test_openapi_document_and_docs_page(client: Client) -> None:
    document = client.request("GET", "/openapi.json")
    assert document.status == 200, document
    assert (document.header("Content-Type") or "").startswith("application/json")
    spec = document.body
    assert str(spec["openapi"]).startswith("3."), spec.get("openapi")
    assert "post" in spec["paths"]["/payouts"]
    for path in ("/payouts/{transaction_id}", "/customers/{customer_id}", "/webhooks/monoova"):
        assert path in spec["paths"], sorted(spec["paths"])
    assert any(server["url"] == client.base for server in spec.get("servers", [])), spec

    docs = client.request("GET", "/docs")
    assert docs.status == 200, docs
    assert (docs.header("Content-Type") or "").startswith("text/html")
    assert "<html" in docs.text.lower()

    health = client.request("GET", "/local/health")
    assert (health.status, health.body) == (200, {"status": "ok"})


# 9 ---------------------------------------------------------------------------------------------
def _create_and_complete(client: Client, amount: str) -> str:
    transaction_id = assert_accepted(post(client, payout_body(PAYID, amount), new_key()))[
        "transaction_id"
    ]
    client.wait_status(transaction_id, "Completed", SETTLE)
    return transaction_id


def test_state_survives_a_restart_with_data_dir(start_runner: Any, tmp_path: Path) -> None:
    first = start_runner("--data-dir", str(tmp_path))
    transaction_id = _create_and_complete(first.client, "8.88")
    token = first.client.token()
    port = first.client.base.rsplit(":", 1)[1]
    assert first.client.balance(PAYID) == SEED_BALANCES[PAYID] - Decimal("8.88")

    assert first.stop() == 0, first.output(40)
    assert "state saved to" in first.output(), first.output(20)

    # Same port, as `make local` restarts: the issuer URL (and so the token's iss) is unchanged.
    second = start_runner("--data-dir", str(tmp_path), "--port", port, "--simulator-port", "0")
    assert "restored from" in second.output()
    again = second.client
    payout = again.get(f"/payouts/{transaction_id}", token=token)
    assert payout.status == 200, payout
    assert payout.body["status"] == "Completed"
    assert payout.body["amount"] == "8.88"
    customer = again.get(f"/customers/{PAYID}", token=token)
    assert customer.status == 200, customer
    assert customer.body["available_balance"] == str(SEED_BALANCES[PAYID] - Decimal("8.88"))
    listed = again.get(f"/customers/{PAYID}/payouts", token=token)
    assert [p["transaction_id"] for p in listed.body["items"]] == [transaction_id]
    # ... and it still works: a new payout goes through end to end.
    _create_and_complete(again, "1.12")
    assert again.balance(PAYID) == SEED_BALANCES[PAYID] - Decimal("10.00")
    assert second.stop() == 0, second.output(40)


def test_token_survives_a_restart_on_another_port(start_runner: Any, tmp_path: Path) -> None:
    first = start_runner("--data-dir", str(tmp_path))
    token = first.client.token()
    assert first.client.get(f"/customers/{PAYID}", token=token).status == 200
    assert first.stop() == 0, first.output(40)

    second = start_runner("--data-dir", str(tmp_path))
    if second.client.base == first.client.base:
        pytest.skip("the OS handed out the same port again")
    response = second.client.get(f"/customers/{PAYID}", token=token)
    assert response.status == 200, response


def test_runner_without_data_dir_starts_clean(start_runner: Any, client: Client) -> None:
    # The shared runner has moved balances by now; a new one without --data-dir has not.
    assert_accepted(post(client, payout_body(PAYID, "0.02"), new_key()))
    fresh: RunnerProcess = start_runner()
    assert "fresh" in fresh.output()
    for customer_id, seed in SEED_BALANCES.items():
        assert fresh.client.balance(customer_id) == seed
        assert fresh.client.payouts_of(customer_id) == []


# Runner robustness ---------------------------------------------------------------------------
def _answer(client: Client, method: str, path: str, **kwargs: Any) -> Response:
    try:
        return client.request(method, path, **kwargs)
    except (http.client.RemoteDisconnected, ConnectionError) as exc:
        raise AssertionError(
            f"{method} {path}: the runner closed the connection without answering: {exc!r}"
        ) from exc


def test_token_route_with_a_non_integer_ttl_answers_400(client: Client) -> None:
    response = _answer(client, "POST", "/local/token?ttl=abc")
    assert response.status == 400, response
    assert_error(response, 400)


def test_webhook_with_a_non_utf8_body_gets_an_answer(client: Client) -> None:
    response = _answer(
        client,
        "POST",
        "/webhooks/monoova",
        data=b"\xff\xfe{",
        headers={"Content-Type": "application/json"},
    )
    assert response.status in (400, 401), response  # it has no Monoova auth either
    assert_error(response, response.status)
