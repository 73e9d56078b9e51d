"""GET a session's loan and its payment history: its own loan only, 401 without a live session,
404 for any other loan with nothing leaked, bad input 400."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from engine.handlers.portal import loans
from engine.models.payment import Payment, new_payment_id
from engine.models.portal import LOAN_RESPONSE
from engine.models.status import PaymentStatus
from shared import clock, ddb
from tests.engine_pg import ACTIVE, CLOSED, OVERDUE, SeededLoan
from tests.integration.engine.portal_support import Answer, Portal

LOAN_PATH = "/api/v1/customer/loans/{loan_account_number}"
HISTORY_PATH = "/api/v1/customer/loans/{loan_account_number}/payments"


def get_loan(portal: Portal, number: str, token: str | None) -> Answer:
    headers = {} if token is None else {"X-Session-Token": token}
    return portal.call(
        loans,
        "GET",
        f"/api/v1/customer/loans/{number}",
        resource=LOAN_PATH,
        path_parameters={"loan_account_number": number},
        headers=headers,
    )


def history(portal: Portal, number: str, token: str, **query: str) -> Answer:
    return portal.call(
        loans,
        "GET",
        f"/api/v1/customer/loans/{number}/payments",
        resource=HISTORY_PATH,
        path_parameters={"loan_account_number": number},
        headers={"X-Session-Token": token},
        query=query or None,
    )


def without_trace(answer: Answer) -> dict[str, Any]:
    error = answer.error
    return {k: v for k, v in error.items() if k not in ("traceId", "timestamp")}


def test_the_sessions_loan_masked_with_decimal_strings(engine_portal: Portal) -> None:
    token = engine_portal.session_for(OVERDUE)

    answer = get_loan(engine_portal, OVERDUE.loan_account_number, token)

    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.body == {
        "loan_account_number": "LN0000000002",
        "customer_name": "L****** N********",
        "loan_type": "LAP",
        "outstanding": "480000.50",
        "emi": "21000.00",
        "next_due_date": "2026-11-20",
        "overdue_amount": "42000.00",
        "status": "NPA",
    }
    jsonschema.Draft4Validator(LOAN_RESPONSE).validate(answer.body)
    assert OVERDUE.customer_name not in answer.raw


def test_a_closed_loan_still_shows(engine_portal: Portal) -> None:
    token = engine_portal.session_for(CLOSED)

    answer = get_loan(engine_portal, CLOSED.loan_account_number, token)

    assert (answer.status, answer.body["status"], answer.body["outstanding"]) == (
        200,
        "CLOSED",
        "0.00",
    )


def test_another_loan_is_404_exactly_like_a_loan_that_does_not_exist(
    engine_portal: Portal,
) -> None:
    token = engine_portal.session_for(ACTIVE)

    other = get_loan(engine_portal, OVERDUE.loan_account_number, token)
    missing = get_loan(engine_portal, "LN9999999999", token)
    other_history = history(engine_portal, OVERDUE.loan_account_number, token)

    assert other.status == missing.status == other_history.status == 404
    assert without_trace(other) == without_trace(missing) == without_trace(other_history)
    assert without_trace(other)["code"] == "NOT_FOUND"
    for answer in (other, other_history):
        assert OVERDUE.customer_name.split()[0] not in answer.raw
        assert "480000" not in answer.raw


@pytest.mark.parametrize("token", [None, "", "not-a-token", "A" * 43])
def test_no_or_unknown_session_is_401(engine_portal: Portal, token: str | None) -> None:
    answer = get_loan(engine_portal, ACTIVE.loan_account_number, token)

    assert answer.status == 401
    assert answer.error["code"] == "UNAUTHORIZED"


def test_an_expired_session_is_401(engine_portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    token = engine_portal.session_for(ACTIVE)
    assert get_loan(engine_portal, ACTIVE.loan_account_number, token).status == 200
    later = clock.epoch() + 900
    monkeypatch.setattr(clock, "epoch", lambda: later)

    answer = get_loan(engine_portal, ACTIVE.loan_account_number, token)

    assert answer.status == 401


@pytest.mark.parametrize("number", ["ln0000000001", "LN-1", "A" * 21, "LN0000000001%0A"])
def test_a_malformed_account_number_is_400(engine_portal: Portal, number: str) -> None:
    token = engine_portal.session_for(ACTIVE)

    answer = get_loan(engine_portal, number, token)

    assert answer.status == 400
    assert answer.error["details"][0]["field"] == "loan_account_number"


def put_payment(portal: Portal, loan: SeededLoan, minute: int, status: PaymentStatus) -> Payment:
    at = f"2026-12-03T06:{minute:02d}:00.000Z"
    payment = Payment(
        transaction_id=new_payment_id(),
        loan_account_number=loan.loan_account_number,
        branch_code=loan.branch_code,
        customer_id="c-1",
        amount=Decimal("1000.00") + minute,
        status=status,
        created_date=at,
        updated_at=at,
        idempotency_key_hash="h",
        razorpay_order_id=f"order_{minute:014d}",
    )
    portal.dynamodb.put_item(
        TableName=portal.env["TRANSACTIONS_TABLE"], Item=ddb.to_item(payment.to_item())
    )
    return payment


def test_history_newest_first_in_pages_with_an_opaque_cursor(engine_portal: Portal) -> None:
    token = engine_portal.session_for(ACTIVE)
    made = [put_payment(engine_portal, ACTIVE, m, PaymentStatus.CAPTURED) for m in range(5)]
    put_payment(engine_portal, OVERDUE, 30, PaymentStatus.CAPTURED)  # another loan's

    first = history(engine_portal, ACTIVE.loan_account_number, token, limit="2")
    cursor = first.body["next_cursor"]
    second = history(engine_portal, ACTIVE.loan_account_number, token, limit="2", cursor=cursor)
    third = history(
        engine_portal, ACTIVE.loan_account_number, token, cursor=second.body["next_cursor"]
    )

    ids = [i["payment_id"] for a in (first, second, third) for i in a.body["items"]]
    assert ids == [p.transaction_id for p in reversed(made)]
    assert third.body["next_cursor"] is None
    assert first.body["items"][0]["amount"] == "1004.00"
    assert ACTIVE.loan_account_number not in json.dumps(cursor)  # opaque, not a plain key


def test_a_loan_without_payments_has_an_empty_history(engine_portal: Portal) -> None:
    token = engine_portal.session_for(CLOSED)

    answer = history(engine_portal, CLOSED.loan_account_number, token)

    assert (answer.status, answer.body) == (200, {"items": [], "next_cursor": None})


def test_a_cursor_from_another_loan_or_forged_is_400(engine_portal: Portal) -> None:
    other = engine_portal.session_for(OVERDUE)
    for m in range(3):
        put_payment(engine_portal, OVERDUE, m, PaymentStatus.CREATED)
    foreign = history(engine_portal, OVERDUE.loan_account_number, other, limit="1")
    token = engine_portal.session_for(ACTIVE)

    for cursor in (foreign.body["next_cursor"], "garbage", "e30"):
        answer = history(engine_portal, ACTIVE.loan_account_number, token, cursor=cursor)
        assert answer.status == 400, cursor
        assert answer.error["details"] == [{"field": "cursor", "issue": "not valid"}]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", "\u0665"])
def test_a_bad_limit_is_400(engine_portal: Portal, limit: str) -> None:
    token = engine_portal.session_for(ACTIVE)

    answer = history(engine_portal, ACTIVE.loan_account_number, token, limit=limit)

    assert answer.status == 400
    assert answer.error["details"][0]["field"] == "limit"


def test_each_answer_publishes_its_response_time(
    engine_portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    token = engine_portal.session_for(ACTIVE)
    capsys.readouterr()

    get_loan(engine_portal, ACTIVE.loan_account_number, token)
    get_loan(engine_portal, OVERDUE.loan_account_number, token)

    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
    ]
    timed = [d for d in documents if "api_response_time" in d]
    assert [d.get("status_code") for d in timed] == ["200", None, "404", None]
    assert timed[0]["endpoint"] == LOAN_PATH and timed[0]["method"] == "GET"
    assert [d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in timed] == [
        [["endpoint", "method", "status_code"]],
        [[]],
    ] * 2
