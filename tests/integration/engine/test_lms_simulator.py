"""The LMS simulator over real HTTP: tokens, receipts (idempotent on reference), refusals,
cancellation, loans and their paging, every mode and every admin route (docs/lms-api.yml)."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from simulators.lms import LmsSimulator, demo_loans
from tests.integration.engine.lms_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    FORM,
    HOLD_SECONDS,
    SEED_LOANS,
    WATERMARK,
    FakeClock,
    admin,
    api,
    new_token,
    outstanding,
    receipt_body,
    ref,
    running_simulator,
    sent,
    token_form,
)
from tests.sim_http import call, wait_until

RECEIPTS = "/api/v1/receipts"


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lms_sim(sim_clock: FakeClock) -> Iterator[LmsSimulator]:
    yield from running_simulator(sim_clock)


def error_code(body: Any) -> str:
    return str(body["error"]["code"])


def post(sim: LmsSimulator, token: str, n: int, **fields: Any) -> tuple[int, Any]:
    return api(sim, "POST", RECEIPTS, {**receipt_body(n), **fields}, token=token)


def page_of(sim: LmsSimulator, token: str, query: str) -> tuple[int, Any]:
    return api(sim, "GET", f"/api/v1/loans?{query}", token=token)


# --------------------------------------------------------------------------- tokens


def test_a_token_is_issued_for_the_client_credentials_as_a_form(lms_sim: LmsSimulator) -> None:
    code, body = call(lms_sim.base_url, "POST", "/oauth/token", raw=token_form(), headers=FORM)
    assert code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert len(body["access_token"]) >= 16
    assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=body["access_token"])[0] == 200
    (logged,) = sent(lms_sim, "POST", "/oauth/token")
    assert logged["body"] == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": "<redacted>",
    }
    assert CLIENT_SECRET not in repr(lms_sim.received())
    assert body["access_token"] not in repr(lms_sim.received())


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (token_form(secret="wrong"), FORM, 401, "INVALID_CLIENT"),
        (token_form(client_id="someone-else"), FORM, 401, "INVALID_CLIENT"),
        (token_form(grant_type="password"), FORM, 400, "UNSUPPORTED_GRANT_TYPE"),
        (b"grant_type=client_credentials", FORM, 400, "VALIDATION_FAILED"),
        (b'{"grant_type": "client_credentials"}', {}, 400, "VALIDATION_FAILED"),
    ],
)
def test_a_bad_token_request_is_refused(
    lms_sim: LmsSimulator, raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    answer = call(lms_sim.base_url, "POST", "/oauth/token", raw=raw, headers=headers)
    assert (answer[0], error_code(answer[1])) == (status, code)
    assert lms_sim.tokens_issued == 0


@pytest.mark.parametrize(
    "auth", [None, "Bearer not-a-token-we-issued", f"Basic {CLIENT_SECRET}", "Bearer "]
)
def test_every_api_route_needs_a_token_we_issued(lms_sim: LmsSimulator, auth: str | None) -> None:
    routes = [
        ("POST", RECEIPTS, receipt_body(1)),
        ("GET", f"{RECEIPTS}?reference={ref(1)}", None),
        ("POST", f"{RECEIPTS}/LMSR0000000001/cancellation", {"reason": "x"}),
        ("GET", "/api/v1/loans/LN0000000001", None),
        ("GET", f"/api/v1/loans?changed_since={WATERMARK}", None),
    ]
    for method, path, body in routes:
        code, answer = call(lms_sim.base_url, method, path, body, auth=auth)
        assert (code, error_code(answer)) == (401, "INVALID_TOKEN"), path
    assert lms_sim.receipts() == []


def test_a_token_expires_after_its_lifetime(lms_sim: LmsSimulator, sim_clock: FakeClock) -> None:
    token = new_token(lms_sim)
    sim_clock.advance(3599)
    assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)[0] == 200
    sim_clock.advance(1)
    code, body = api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)
    assert (code, error_code(body)) == (401, "INVALID_TOKEN")


def test_expire_tokens_ends_every_token_issued_so_far(lms_sim: LmsSimulator) -> None:
    old = [new_token(lms_sim), new_token(lms_sim)]
    assert admin(lms_sim, "POST", "expire-tokens") == (200, {"expired": 2})
    for token in old:
        assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)[0] == 401
    assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=new_token(lms_sim))[0] == 200


# --------------------------------------------------------------------------- receipts


def test_a_reference_posted_twice_makes_one_receipt_and_reduces_the_loan_once(
    lms_sim: LmsSimulator,
) -> None:
    token = new_token(lms_sim)
    before = lms_sim.loan("LN0000000001")
    assert before is not None
    first = post(lms_sim, token, 1)
    again = post(lms_sim, token, 1)
    assert (first[0], again[0]) == (201, 200)
    assert first[1] == again[1]
    receipt = first[1]
    assert receipt["receipt_id"].startswith("LMSR") and len(receipt["receipt_id"]) == 14
    assert (receipt["amount"], receipt["status"], receipt["cancelled_at"]) == (
        "2500.00",
        "POSTED",
        None,
    )
    assert len(lms_sim.receipts()) == 1
    after = lms_sim.loan("LN0000000001")
    assert after is not None
    assert Decimal(after["outstanding_amount"]) == Decimal("1847500.00")
    assert after["recent_receipt_references"] == [ref(1)]
    assert after["updated_at"] > before["updated_at"]
    post(lms_sim, token, 2)
    newest = lms_sim.loan("LN0000000001")
    assert newest is not None and newest["recent_receipt_references"] == [ref(2), ref(1)]


def test_concurrent_posts_of_one_reference_make_one_receipt(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: post(lms_sim, token, 7)[0], range(20)))
    assert sorted(codes) == [200] * 19 + [201]
    assert len(lms_sim.receipts()) == 1
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1847500.00")


@pytest.mark.parametrize(
    "change",
    [{"amount": "2500.01"}, {"loan_account_number": "LN0000000002"}, {"purpose": "LEGAL_FEE"}],
)
def test_a_reference_reused_for_another_loan_amount_or_purpose_is_a_conflict(
    lms_sim: LmsSimulator, change: dict[str, str]
) -> None:
    token = new_token(lms_sim)
    assert post(lms_sim, token, 1)[0] == 201
    code, body = post(lms_sim, token, 1, **change)
    assert (code, error_code(body)) == (409, "REFERENCE_CONFLICT")
    assert len(lms_sim.receipts()) == 1
    assert outstanding(lms_sim, "LN0000000002") == Decimal("612345.50")


@pytest.mark.parametrize(
    ("loan", "code"), [("LN0000000099", "LOAN_NOT_FOUND"), ("LN0000000004", "LOAN_CLOSED")]
)
def test_a_loan_that_takes_no_receipt_is_refused_every_time(
    lms_sim: LmsSimulator, loan: str, code: str
) -> None:
    token = new_token(lms_sim)
    for _ in range(2):
        answer = post(lms_sim, token, 1, loan_account_number=loan)
        assert (answer[0], error_code(answer[1])) == (422, code)
    assert lms_sim.receipts() == []


def test_a_planted_refusal_refuses_only_the_posts_it_matches(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    assert admin(lms_sim, "POST", "refuse", {"reference": ref(1), "code": "LOAN_CLOSED"})[0] == 200
    code, body = post(lms_sim, token, 1)
    assert (code, error_code(body)) == (422, "LOAN_CLOSED")
    assert post(lms_sim, token, 2)[0] == 201
    lms_sim.refuse("LOAN_NOT_FOUND", loan_account_number="LN0000000005")
    assert post(lms_sim, token, 3, loan_account_number="LN0000000005")[0] == 422
    assert post(lms_sim, token, 4, loan_account_number="LN0000000002")[0] == 201
    lms_sim.refuse("LOAN_CLOSED", loan_account_number="LN0000000002")
    repeat = post(lms_sim, token, 4, loan_account_number="LN0000000002")
    assert repeat[0] == 200  # posted before the refusal: its receipt is answered
    assert [r["reference"] for r in lms_sim.receipts()] == [ref(2), ref(4)]
    assert admin(lms_sim, "POST", "refuse", {"code": "SOMETHING"})[0] == 400
    admin(lms_sim, "POST", "reset")
    assert post(lms_sim, token, 1)[0] == 201  # a reset forgets the refusals


def test_an_amount_beyond_the_outstanding_is_held_as_an_advance(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    lms_sim.upsert_loans([{"loan_account_number": "LN0000000005", "outstanding_amount": "100.00"}])
    code, receipt = post(lms_sim, token, 1, loan_account_number="LN0000000005", amount="150.25")
    assert code == 201
    loan = lms_sim.loan("LN0000000005")
    assert loan is not None
    assert (loan["outstanding_amount"], loan["advance_amount"]) == ("0.00", "50.25")
    path = f"{RECEIPTS}/{receipt['receipt_id']}/cancellation"
    assert api(lms_sim, "POST", path, {"reason": "refund"}, token=token)[0] == 200
    loan = lms_sim.loan("LN0000000005")
    assert loan is not None
    assert (loan["outstanding_amount"], loan["advance_amount"]) == ("100.00", "0.00")


@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("2500.00")},  # a JSON number
        {"amount": "2500.005"},
        {"amount": "0.00"},
        {"amount": "-1.00"},
        {"currency": "USD"},
        {"reference": "BR001-2026-27-000001"},
        {"loan_account_number": "ln1"},
        {"received_at": "2026-12-03 10:15:00"},
        {"received_at": "2026-12-03T10:15:00"},  # no zone
        {"channel": "ATM"},
        {"payment_mode": "upi"},
        {"branch_code": ""},
        {"external_reference": "x" * 65},
        {"unexpected": 1},
        {"channel": "field"},
        {"payment_mode": "DD"},
        {"purpose": "PENALTY"},
        {"purpose": None},
        {"instrument_number": "004512"},  # on a UPI payment
        {"payment_mode": "CHEQUE", "instrument_number": "12"},
        {"payment_mode": "DEMAND_DRAFT", "instrument_number": "0045-12"},
    ],
)
def test_a_body_that_breaks_the_contract_is_validation_failed(
    lms_sim: LmsSimulator, change: dict[str, Any]
) -> None:
    token = new_token(lms_sim)
    code, body = post(lms_sim, token, 1, **change)
    assert (code, error_code(body)) == (400, "VALIDATION_FAILED")
    assert lms_sim.receipts() == []


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"", b'{"reference": "BR001/2026-27/000001"}'])
def test_a_body_that_is_not_a_receipt_is_validation_failed(
    lms_sim: LmsSimulator, raw: bytes
) -> None:
    code, body = api(lms_sim, "POST", RECEIPTS, token=new_token(lms_sim), raw=raw)
    assert (code, error_code(body)) == (400, "VALIDATION_FAILED")


def test_a_field_officers_cash_instalment_is_applied_to_the_loan(lms_sim: LmsSimulator) -> None:
    staff = {"channel": "FIELD", "payment_mode": "CASH", "purpose": "EMI"}
    code, receipt = post(lms_sim, new_token(lms_sim), 1, external_reference=None, **staff)
    assert code == 201
    assert {key: receipt[key] for key in staff} == staff
    loan = lms_sim.loan("LN0000000001")
    assert loan is not None and loan["recent_receipt_references"] == [ref(1)]
    assert Decimal(loan["outstanding_amount"]) == Decimal("1847500.00")


@pytest.mark.parametrize("purpose", ["LEGAL_FEE", "OTHER_FEE", "CHALLAN"])
def test_a_fee_or_challan_is_recorded_and_leaves_the_loan_as_it_was(
    lms_sim: LmsSimulator, purpose: str
) -> None:
    token = new_token(lms_sim)
    before = lms_sim.loan("LN0000000001")
    fee = {"channel": "BRANCH", "payment_mode": "CHEQUE", "instrument_number": "004512"}
    code, receipt = post(lms_sim, token, 1, amount="1500.00", purpose=purpose, **fee)
    assert (code, receipt["purpose"], receipt["status"]) == (201, purpose, "POSTED")
    assert lms_sim.loan("LN0000000001") == before  # outstanding, updated_at, references
    assert api(lms_sim, "GET", f"{RECEIPTS}?reference={ref(1)}", token=token) == (200, receipt)
    assert lms_sim.receipts()[0]["instrument_number"] == "004512"

    path = f"{RECEIPTS}/{receipt['receipt_id']}/cancellation"
    code, cancelled = api(lms_sim, "POST", path, {"reason": "cheque bounced"}, token=token)
    assert (code, cancelled["status"]) == (200, "CANCELLED")
    assert lms_sim.loan("LN0000000001") == before
    assert post(lms_sim, token, 2)[0] == 201  # an instalment after it is applied as ever
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1847500.00")


def test_a_fee_on_a_closed_loan_is_refused_as_any_receipt_is(lms_sim: LmsSimulator) -> None:
    code, body = post(
        lms_sim, new_token(lms_sim), 1, loan_account_number="LN0000000004", purpose="LEGAL_FEE"
    )
    assert (code, error_code(body)) == (422, "LOAN_CLOSED")


def test_a_receipt_is_found_by_reference(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    _, receipt = post(lms_sim, token, 1)
    found = api(lms_sim, "GET", f"{RECEIPTS}?reference={ref(1)}", token=token)
    assert found == (200, receipt)
    code, body = api(lms_sim, "GET", f"{RECEIPTS}?reference={ref(2)}", token=token)
    assert (code, error_code(body)) == (404, "RECEIPT_NOT_FOUND")
    for query in ("", "?reference=nonsense"):
        code, body = api(lms_sim, "GET", f"{RECEIPTS}{query}", token=token)
        assert (code, error_code(body)) == (400, "VALIDATION_FAILED")


def test_a_cancellation_restores_the_balance_once(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    _, receipt = post(lms_sim, token, 1, amount="1000.00")
    post(lms_sim, token, 2, amount="10.00")
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1848990.00")
    path = f"{RECEIPTS}/{receipt['receipt_id']}/cancellation"
    first = api(lms_sim, "POST", path, {"reason": "cheque bounced"}, token=token)
    again = api(lms_sim, "POST", path, {"reason": "cheque bounced"}, token=token)
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert first[1]["status"] == "CANCELLED" and first[1]["cancelled_at"]
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1849990.00")
    loan = lms_sim.loan("LN0000000001")
    assert loan is not None and loan["recent_receipt_references"] == [ref(2)]
    found = api(lms_sim, "GET", f"{RECEIPTS}?reference={ref(1)}", token=token)
    assert found[1]["status"] == "CANCELLED"
    assert post(lms_sim, token, 1, amount="1000.00")[0] == 200  # the reference stays used
    assert lms_sim.receipts()[0]["cancel_reason"] == "cheque bounced"


@pytest.mark.parametrize(
    ("receipt_id", "body", "status", "code"),
    [
        ("LMSR0000000099", {"reason": "x"}, 404, "RECEIPT_NOT_FOUND"),
        ("nonsense", {"reason": "x"}, 404, "RECEIPT_NOT_FOUND"),
        ("LMSR0000000001", {"reason": ""}, 400, "VALIDATION_FAILED"),
        ("LMSR0000000001", {"reason": "x" * 201}, 400, "VALIDATION_FAILED"),
        ("LMSR0000000001", {"reason": "x", "more": 1}, 400, "VALIDATION_FAILED"),
    ],
)
def test_a_bad_cancellation_is_refused(
    lms_sim: LmsSimulator, receipt_id: str, body: Any, status: int, code: str
) -> None:
    token = new_token(lms_sim)
    post(lms_sim, token, 1)
    answer = api(lms_sim, "POST", f"{RECEIPTS}/{receipt_id}/cancellation", body, token=token)
    assert (answer[0], error_code(answer[1])) == (status, code)
    assert lms_sim.receipts()[0]["status"] == "POSTED"


# --------------------------------------------------------------------------- loans


def test_a_loan_is_answered_in_the_contract_shape(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    code, loan = api(lms_sim, "GET", "/api/v1/loans/LN0000000002", token=token)
    assert code == 200
    assert {k: loan[k] for k in SEED_LOANS[1]} == SEED_LOANS[1]
    assert loan["recent_receipt_references"] == [] and loan["advance_amount"] == "0.00"
    assert loan["updated_at"].endswith("Z")
    for number in ("LN0000000099", "not-a-loan"):
        code, body = api(lms_sim, "GET", f"/api/v1/loans/{number}", token=token)
        assert (code, error_code(body)) == (404, "LOAN_NOT_FOUND")


def test_loans_are_paged_by_change_and_a_loan_changed_meanwhile_comes_again(
    lms_sim: LmsSimulator,
) -> None:
    token = new_token(lms_sim)
    seen: list[str] = []
    code, page = page_of(lms_sim, token, f"changed_since={WATERMARK}&limit=2")
    assert code == 200 and len(page["items"]) == 2
    seen += [loan["loan_account_number"] for loan in page["items"]]
    post(lms_sim, token, 1, loan_account_number="LN0000000001")  # changes a loan already read
    while page["next_cursor"] is not None:
        query = f"changed_since={WATERMARK}&limit=2&cursor={page['next_cursor']}"
        code, page = page_of(lms_sim, token, query)
        assert code == 200 and len(page["items"]) <= 2
        seen += [loan["loan_account_number"] for loan in page["items"]]
    assert seen == [f"LN000000000{n}" for n in (1, 2, 3, 4, 5, 1)]
    changed = next(
        loan for loan in lms_sim.loans() if loan["loan_account_number"] == "LN0000000001"
    )
    code, page = page_of(lms_sim, token, f"changed_since={changed['updated_at']}")
    assert code == 200 and [loan["loan_account_number"] for loan in page["items"]] == [
        "LN0000000001"
    ]
    assert page["next_cursor"] is None


def test_a_whole_set_on_one_page_has_no_cursor(lms_sim: LmsSimulator) -> None:
    code, page = page_of(lms_sim, new_token(lms_sim), f"changed_since={WATERMARK}&limit=5")
    assert code == 200 and len(page["items"]) == 5 and page["next_cursor"] is None
    code, page = page_of(lms_sim, new_token(lms_sim), "changed_since=2999-01-01T00:00:00Z")
    assert (code, page) == (200, {"items": [], "next_cursor": None})


def test_a_bad_page_query_is_validation_failed(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    _, page = page_of(lms_sim, token, f"changed_since={WATERMARK}&limit=1")
    cursor = page["next_cursor"]
    for query in (
        "",
        "changed_since=yesterday",
        f"changed_since={WATERMARK}&limit=0",
        f"changed_since={WATERMARK}&limit=501",
        f"changed_since={WATERMARK}&limit=ten",
        f"changed_since={WATERMARK}&cursor=garbage",
        f"changed_since=2001-01-01T00:00:00Z&cursor={cursor}",  # made for another watermark
        f"changed_since={WATERMARK}&page=2",
    ):
        code, body = page_of(lms_sim, token, query)
        assert (code, error_code(body)) == (400, "VALIDATION_FAILED"), query


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize("mode", ["down", "error_503"])
def test_down_and_error_503_answer_unavailable_and_do_nothing(
    lms_sim: LmsSimulator, mode: str
) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode(mode, count=2)
    for answer in (
        post(lms_sim, token, 1),
        call(lms_sim.base_url, "POST", "/oauth/token", raw=token_form(), headers=FORM),
    ):
        assert (answer[0], error_code(answer[1])) == (503, "UNAVAILABLE")
    assert lms_sim.receipts() == [] and lms_sim.tokens_issued == 1
    assert post(lms_sim, token, 1)[0] == 201  # the count is spent


def test_down_lasts_until_the_mode_changes(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    assert admin(lms_sim, "POST", "mode", {"mode": "down"})[0] == 200
    codes = [api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)[0] for _ in range(5)]
    assert codes == [503] * 5
    admin(lms_sim, "POST", "mode", {"mode": "ok"})
    assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)[0] == 200


def test_error_500_answers_500_and_does_nothing(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode("error_500", count=1)
    code, body = post(lms_sim, token, 1)
    assert (code, error_code(body)) == (500, "INTERNAL_ERROR")
    assert lms_sim.receipts() == [] and outstanding(lms_sim, "LN0000000001") == Decimal(
        "1850000.00"
    )
    assert post(lms_sim, token, 1)[0] == 201


def _post_without_answer(sim: LmsSimulator, token: str, timeout: float) -> type[Exception]:
    """Post receipt 1 and return the kind of failure the caller saw (no answer came)."""
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)) as failed:
        post_with_timeout(sim, token, timeout)
    return failed.type


def post_with_timeout(sim: LmsSimulator, token: str, timeout: float) -> tuple[int, Any]:
    return api(sim, "POST", RECEIPTS, receipt_body(1), token=token, timeout=timeout)


def test_timeout_applies_the_post_then_holds_and_drops_the_connection(
    lms_sim: LmsSimulator,
) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode("timeout", count=1)
    failure = _post_without_answer(lms_sim, token, timeout=HOLD_SECONDS / 3)
    assert issubclass(failure, socket.timeout | TimeoutError | urllib.error.URLError)
    wait_until(lambda: sent(lms_sim, "POST", RECEIPTS))  # logged once handled
    assert [r["reference"] for r in lms_sim.receipts()] == [ref(1)]  # done all the same
    (logged,) = sent(lms_sim, "POST", RECEIPTS)
    assert logged["dropped"] is True and logged["held_seconds"] == HOLD_SECONDS
    assert logged["response_status"] == 201


def test_timeout_drops_the_connection_once_the_hold_is_over(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode("timeout", count=1)
    started = time.monotonic()
    failure = _post_without_answer(lms_sim, token, timeout=10.0)
    assert issubclass(failure, http.client.RemoteDisconnected | ConnectionError)
    assert time.monotonic() - started >= HOLD_SECONDS * 0.9
    assert len(lms_sim.receipts()) == 1


def test_lost_answer_applies_the_post_and_closes_at_once(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode("lost_answer", count=1)
    failure = _post_without_answer(lms_sim, token, timeout=10.0)
    assert issubclass(failure, http.client.RemoteDisconnected | ConnectionError)
    assert len(lms_sim.receipts()) == 1
    (logged,) = sent(lms_sim, "POST", RECEIPTS)
    assert (logged["dropped"], logged["held_seconds"]) == (True, 0.0)
    assert post(lms_sim, token, 1)[0] == 200  # the count is spent; the repeat finds it


def test_slow_delays_the_answer(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    admin(lms_sim, "POST", "mode", {"mode": "slow", "latency_ms": 250, "count": 1})
    started = time.monotonic()
    assert post(lms_sim, token, 1)[0] == 201
    assert time.monotonic() - started >= 0.2
    (logged,) = sent(lms_sim, "POST", RECEIPTS)
    assert logged["held_seconds"] == 0.25
    assert lms_sim.mode()["mode"] == "ok"


def test_maintenance_lasts_its_window_whatever_the_count(
    lms_sim: LmsSimulator, sim_clock: FakeClock
) -> None:
    token = new_token(lms_sim)
    code, mode = admin(lms_sim, "POST", "mode", {"mode": "maintenance", "seconds": 30, "count": 1})
    assert code == 200 and (mode["mode"], mode["seconds"]) == ("maintenance", 30)
    for _ in range(3):
        code, body = post(lms_sim, token, 1)
        assert (code, error_code(body)) == (503, "MAINTENANCE")
    sim_clock.advance(20)
    answer = call(lms_sim.base_url, "POST", "/oauth/token", raw=token_form(), headers=FORM)
    assert (answer[0], error_code(answer[1])) == (503, "MAINTENANCE")
    refused = [r for r in lms_sim.received() if r["error_code"] == "MAINTENANCE"]
    assert len(refused) == 4 and lms_sim.receipts() == []
    sim_clock.advance(10)
    assert post(lms_sim, token, 1)[0] == 201
    assert lms_sim.mode()["mode"] == "ok"


def test_maintenance_says_when_to_come_back(lms_sim: LmsSimulator, sim_clock: FakeClock) -> None:
    import urllib.request

    token = new_token(lms_sim)
    lms_sim.set_mode("maintenance", seconds=30)
    sim_clock.advance(12.5)
    request = urllib.request.Request(
        f"{lms_sim.base_url}/api/v1/loans/LN0000000001",
        headers={"Authorization": f"Bearer {token}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=5)
    assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "18"
    refused.value.close()


def test_duplicate_reference_applies_a_first_post_and_answers_it_as_a_repeat(
    lms_sim: LmsSimulator,
) -> None:
    token = new_token(lms_sim)
    lms_sim.set_mode("duplicate_reference", count=1)
    assert api(lms_sim, "GET", "/api/v1/loans/LN0000000001", token=token)[0] == 200  # not counted
    code, receipt = post(lms_sim, token, 1)
    assert code == 200 and receipt["reference"] == ref(1)
    assert len(lms_sim.receipts()) == 1
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1847500.00")
    assert post(lms_sim, token, 2)[0] == 201


def test_a_mode_it_does_not_know_is_refused(lms_sim: LmsSimulator) -> None:
    assert admin(lms_sim, "POST", "mode", {"mode": "broken"})[0] == 400
    assert admin(lms_sim, "POST", "mode", {"mode": "error_500", "count": 0})[0] == 400
    assert admin(lms_sim, "GET", "mode")[1]["mode"] == "ok"


# --------------------------------------------------------------------------- admin


def test_loans_are_upserted_with_a_new_updated_at(lms_sim: LmsSimulator) -> None:
    before = {loan["loan_account_number"]: loan for loan in admin(lms_sim, "GET", "loans")[1]}
    assert len(before) == 5
    code, changed = admin(
        lms_sim,
        "POST",
        "loans",
        {
            "loans": [
                {"loan_account_number": "LN0000000002", "status": "NPA", "days_past_due": 95},
                {"loan_account_number": "LN0000000009", "outstanding_amount": "5000.00"},
            ]
        },
    )
    assert code == 200
    old, new = changed
    assert (old["status"], old["days_past_due"], old["outstanding_amount"]) == (
        "NPA",
        95,
        "612345.50",
    )
    assert old["updated_at"] > before["LN0000000002"]["updated_at"]
    assert new["status"] == "ACTIVE" and new["emi_amount"] == "0.00"
    assert len(admin(lms_sim, "GET", "loans")[1]) == 6
    bad: dict[str, Any]
    for bad in (
        {"loans": [{"loan_account_number": "LN0000000001", "status": "HAPPY"}]},
        {"loans": [{"loan_account_number": "LN0000000001", "outstanding_amount": 1.555}]},
        {"loans": [{"loan_account_number": "LN0000000001", "outstanding_amount": "1.5"}]},
        {"loans": [{"loan_account_number": "LN0000000001", "outstanding_amount": "-1.00"}]},
        {"loans": [{"loan_account_number": "LN0000000001", "colour": "red"}]},
        {"loans": [{"outstanding_amount": "1.00"}]},
        {"loans": []},
    ):
        assert admin(lms_sim, "POST", "loans", bad)[0] == 400, bad
    assert lms_sim.loan("LN0000000001") == before["LN0000000001"]


def test_receipts_show_what_was_posted(lms_sim: LmsSimulator) -> None:
    post(lms_sim, new_token(lms_sim), 1)
    code, (receipt,) = admin(lms_sim, "GET", "receipts")
    assert code == 200
    assert (receipt["channel"], receipt["payment_mode"], receipt["branch_code"]) == (
        "PORTAL",
        "UPI",
        "BR001",
    )
    assert receipt["external_reference"] == "pay_aaaaaaaaaaaaaaaaaaaa"
    assert (receipt["purpose"], receipt["instrument_number"]) == ("EMI", None)  # the defaults


def test_received_logs_api_requests_without_authorization(lms_sim: LmsSimulator) -> None:
    token = new_token(lms_sim)
    post(lms_sim, token, 1)
    admin(lms_sim, "GET", "receipts")
    code, log = admin(lms_sim, "GET", "received")
    assert code == 200
    assert [(r["method"], r["route"], r["response_status"]) for r in log] == [
        ("POST", "/oauth/token", 200),
        ("POST", RECEIPTS, 201),
    ]
    assert log[1]["body"] == receipt_body(1)
    assert all("authorization" not in {h.lower() for h in r["headers"]} for r in log)
    assert token not in repr(log)


def test_reset_restores_the_seeded_loans_and_forgets_the_rest(lms_sim: LmsSimulator) -> None:
    seeded = lms_sim.loans()
    token = new_token(lms_sim)
    post(lms_sim, token, 1)
    lms_sim.upsert_loans([{"loan_account_number": "LN0000000009"}])
    lms_sim.set_mode("down")
    assert admin(lms_sim, "POST", "reset") == (200, {"reset": True})
    assert lms_sim.loans() == seeded
    assert lms_sim.receipts() == [] and lms_sim.received() == []
    assert lms_sim.mode()["mode"] == "ok"
    code, receipt = post(lms_sim, token, 1)  # tokens outlive a reset
    assert code == 201 and receipt["receipt_id"] == "LMSR0000000001"


def test_an_unknown_admin_route_is_404(lms_sim: LmsSimulator) -> None:
    assert admin(lms_sim, "GET", "nothing-here")[0] == 404


def test_the_demo_loans_are_the_seed_sql_loans() -> None:
    loans = {loan["loan_account_number"]: loan for loan in demo_loans()}
    assert sorted(loans) == [f"LN000000000{n}" for n in range(1, 6)]
    assert loans["LN0000000002"]["outstanding_amount"] == "612345.50"
    assert loans["LN0000000004"]["status"] == "CLOSED"
    with LmsSimulator(CLIENT_ID, CLIENT_SECRET, loans=demo_loans()) as sim:
        assert len(sim.loans()) == 5
