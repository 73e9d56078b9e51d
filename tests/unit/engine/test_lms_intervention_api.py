"""The internal API's LMS-posting routes through their handler on moto: bad input is a 400 in
the engine's shape and changes nothing, a staff identity is required, only EXCEPTION items
can be acted on (409), each action lands on the audit trail's chain, and the list pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from engine import settings, wiring, wiring_audit, wiring_lms
from engine.dal.ddb.queue import LMS_CANCEL, LMS_RECEIPT, lms_cancel_queue_id, lms_queue_id
from engine.models.audit import AuditRecord
from engine.models.staff import StaffUser
from engine.tables import AUDIT, TRANSACTION_QUEUE, TRANSACTIONS
from local.events import rest_event
from shared import ddb
from tests.support import ApiResponse, invoke

STAFF = {"cognito:username": "ops.seven", "cognito:groups": "[Admin]"}
OPS = StaffUser(
    "3f0c1b9e-0000-4000-8000-000000000007", "ops.seven", "ops@example.com", None, True, "Admin"
)
PAY = "pay_" + "c" * 20


@pytest.fixture
def api(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for spec in (TRANSACTIONS, TRANSACTION_QUEUE, AUDIT):
        dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
        monkeypatch.setenv(spec.env_var, spec.logical_name)
    # authorize() resolves the caller to their users row; here without PostgreSQL.
    users = {OPS.username: OPS}
    monkeypatch.setattr(wiring, "staff", lambda: SimpleNamespace(by_username=users.get))
    settings.reset()
    wiring_lms.reset()
    from engine.handlers.internal import lms

    yield lms.handler
    settings.reset()


def queue(client: Any, status: str = "EXCEPTION", transaction_id: str = PAY) -> None:
    client.put_item(
        TableName=TRANSACTIONS.logical_name,
        Item=ddb.to_item({"transaction_id": transaction_id, "status": "CAPTURED"}),
    )
    client.put_item(
        TableName=TRANSACTION_QUEUE.logical_name,
        Item=ddb.to_item(
            {
                "queue_id": lms_queue_id(transaction_id),
                "queue_type": LMS_RECEIPT,
                "status": status,
                "attempts": 3,
                "transaction_id": transaction_id,
                "created_at": "2027-01-15T08:00:00.000Z",
                "last_error": "LOAN_CLOSED: the loan is closed",
                "payload": {
                    "loan_account_number": "LN0000000004",
                    "branch_code": "BR001",
                    "receipt_number": "BR001/2026-27/000009",
                    "amount": "9500.00",
                },
            }
        ),
    )


def call(
    handler: Any,
    method: str,
    resource: str,
    *,
    transaction_id: str = PAY,
    body: Any = None,
    query: dict[str, str] | None = None,
    claims: dict[str, Any] | None = STAFF,
) -> ApiResponse:
    path = resource.replace("{transaction_id}", transaction_id)
    event = rest_event(
        method,
        path,
        resource=resource,
        path_parameters={"transaction_id": transaction_id} if "{" in resource else None,
        query=query,
        body=json.dumps(body) if body is not None else None,
        claims=claims,
    )
    return invoke(handler, event, "InternalLms")


RETRY = "/api/v1/lms/postings/{transaction_id}/retry"
RESOLVE = "/api/v1/lms/postings/{transaction_id}/resolve"
LIST = "/api/v1/lms/postings"


def reversal(client: Any, status: str = "EXCEPTION", transaction_id: str = PAY) -> None:
    """The receipt's reversal (a cancelled staff collection), its receipt item POSTED."""
    queue(client, "POSTED", transaction_id)
    client.put_item(
        TableName=TRANSACTION_QUEUE.logical_name,
        Item=ddb.to_item(
            {
                "queue_id": lms_cancel_queue_id(transaction_id),
                "queue_type": LMS_CANCEL,
                "status": status,
                "attempts": 24,
                "transaction_id": transaction_id,
                "created_at": "2027-01-16T08:00:00.000Z",
                "last_error": "ATTEMPTS_EXHAUSTED",
                "payload": {
                    "transaction_id": transaction_id,
                    "receipt_number": "BR001/2026-27/000009",
                    "reason": "wrong loan",
                    "cancelled_at": "2027-01-16T08:00:00.000Z",
                },
            }
        ),
    )


def stored_item(client: Any, queue_id: str) -> dict[str, Any]:
    raw = client.get_item(
        TableName=TRANSACTION_QUEUE.logical_name, Key=ddb.to_item({"queue_id": queue_id})
    )
    return ddb.from_item(raw["Item"]) or {}


def stored_transaction(client: Any, transaction_id: str = PAY) -> dict[str, Any]:
    raw = client.get_item(
        TableName=TRANSACTIONS.logical_name, Key=ddb.to_item({"transaction_id": transaction_id})
    )
    return ddb.from_item(raw["Item"]) or {}


def item_status(client: Any, transaction_id: str = PAY) -> str:
    return str(stored_item(client, lms_queue_id(transaction_id))["status"])


def audit_count(client: Any) -> int:
    """Records and chain heads alike: nothing at all is written for a refused action."""
    return int(client.scan(TableName=AUDIT.logical_name, Select="COUNT")["Count"])


def audit_trail(queue_id: str = lms_queue_id(PAY)) -> list[AuditRecord]:
    return wiring_audit.audit_log().page("entity_id", queue_id, 10).records


@pytest.mark.parametrize(
    "case",
    [
        (RETRY, {}, PAY, "reason"),
        (RETRY, {"reason": "no"}, PAY, "reason"),
        (RETRY, {"reason": "line\nbreak"}, PAY, "reason"),
        (RETRY, {"reason": "fine reason", "extra": 1}, PAY, "extra"),
        (RESOLVE, {"reason": "found it", "lms_receipt_id": "R1"}, PAY, "lms_receipt_id"),
        (RETRY, {"reason": "fine reason"}, "pay_BAD", "transaction_id"),
        (RETRY, {"reason": "fine reason", "queue_type": "LMS_REFUND"}, PAY, "queue_type"),
        (RESOLVE, {"reason": "fine reason", "queue_type": "lms_cancel"}, PAY, "queue_type"),
        (RESOLVE, {"reason": "fine reason", "queue_type": None}, PAY, "queue_type"),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(
    api: Any, dynamodb: Any, case: tuple[str, Any, str, str]
) -> None:
    resource, body, transaction_id, field = case
    queue(dynamodb)
    answer = call(api, "POST", resource, body=body, transaction_id=transaction_id)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in answer.body["error"]["details"]]
    assert item_status(dynamodb) == "EXCEPTION" and audit_count(dynamodb) == 0


def test_without_a_staff_identity_nothing_is_done(api: Any, dynamodb: Any) -> None:
    queue(dynamodb)
    answer = call(api, "POST", RETRY, body={"reason": "retry it"}, claims=None)
    assert answer.status == 401 and answer.body["error"]["code"] == "UNAUTHORIZED"
    assert item_status(dynamodb) == "EXCEPTION" and audit_count(dynamodb) == 0


def test_retry_and_resolve_answer_and_record(api: Any, dynamodb: Any) -> None:
    queue(dynamodb)
    answer = call(api, "POST", RETRY, body={"reason": "LMS reopened the loan"})
    assert (answer.status, answer.body["status"]) == (202, "PENDING")
    assert answer.body["queue_type"] == LMS_RECEIPT
    assert item_status(dynamodb) == "PENDING"
    [record] = audit_trail()
    assert (record.action, record.actor_id, record.actor_username) == (
        "LMS_RETRY",
        OPS.user_id,
        "ops.seven",
    )
    assert record.details["queue_type"] == LMS_RECEIPT

    again = call(api, "POST", RESOLVE, body={"reason": "done by hand"})
    assert again.status == 409 and again.body["error"]["code"] == "CONFLICT"
    assert len(audit_trail()) == 1


def test_resolve_with_a_receipt_id(api: Any, dynamodb: Any) -> None:
    queue(dynamodb)
    body = {"reason": "posted by the LMS team", "lms_receipt_id": "LMSR0000000042"}
    answer = call(api, "POST", RESOLVE, body=body)
    assert (answer.status, answer.body["status"]) == (200, "RESOLVED")
    assert item_status(dynamodb) == "RESOLVED"
    marked = stored_transaction(dynamodb)
    assert marked["lms_receipt_id"] == "LMSR0000000042" and "lms_cancelled_at" not in marked


def test_retry_of_a_reversal(api: Any, dynamodb: Any) -> None:
    reversal(dynamodb)
    body = {"reason": "LMS reopened the receipt", "queue_type": LMS_CANCEL}
    answer = call(api, "POST", RETRY, body=body)
    assert answer.status == 202, answer.body
    assert answer.body == {"transaction_id": PAY, "queue_type": LMS_CANCEL, "status": "PENDING"}
    item = stored_item(dynamodb, lms_cancel_queue_id(PAY))
    assert (item["status"], item["attempts"], item["manual_retries"]) == ("PENDING", 0, 1)
    assert item_status(dynamodb) == "POSTED"  # the receipt's own item is untouched
    [record] = audit_trail(lms_cancel_queue_id(PAY))
    assert (record.action, record.actor_id) == ("LMS_RETRY", OPS.user_id)
    assert record.details["queue_type"] == LMS_CANCEL
    assert audit_trail() == []


def test_resolve_of_a_reversal_with_a_receipt_id(api: Any, dynamodb: Any) -> None:
    reversal(dynamodb)
    body = {"reason": "reversed by the LMS team", "lms_receipt_id": "LMSR0000000099"}
    answer = call(api, "POST", RESOLVE, body=body | {"queue_type": LMS_CANCEL})
    assert (answer.status, answer.body["status"]) == (200, "RESOLVED")
    item = stored_item(dynamodb, lms_cancel_queue_id(PAY))
    assert (item["status"], item["lms_receipt_id"]) == ("RESOLVED", "LMSR0000000099")
    marked = stored_transaction(dynamodb)
    assert marked["lms_cancelled_at"] == item["resolved_at"]
    assert "lms_receipt_id" not in marked and "lms_posted_at" not in marked
    [record] = audit_trail(lms_cancel_queue_id(PAY))
    assert record.action == "LMS_RESOLVE" and record.details["queue_type"] == LMS_CANCEL


@pytest.mark.parametrize(
    ("route", "body"),
    [
        (RETRY, {"reason": "try the reversal"}),  # the receipt, by default: POSTED
        (RESOLVE, {"reason": "the receipt", "queue_type": LMS_RECEIPT}),
        (RESOLVE, {"reason": "the receipt", "lms_receipt_id": "LMSR0000000001"}),
    ],
)
def test_acting_on_the_receipt_beside_a_stuck_reversal_is_409(
    api: Any, dynamodb: Any, route: str, body: dict[str, str]
) -> None:
    reversal(dynamodb)
    before = (stored_item(dynamodb, lms_queue_id(PAY)), stored_transaction(dynamodb))
    answer = call(api, "POST", route, body=body)
    assert answer.status == 409 and answer.body["error"]["code"] == "CONFLICT"
    assert (stored_item(dynamodb, lms_queue_id(PAY)), stored_transaction(dynamodb)) == before
    assert stored_item(dynamodb, lms_cancel_queue_id(PAY))["status"] == "EXCEPTION"
    assert audit_count(dynamodb) == 0


@pytest.mark.parametrize("route", [RETRY, RESOLVE])
def test_acting_on_a_reversal_not_in_exception_is_409(api: Any, dynamodb: Any, route: str) -> None:
    """The receipt in EXCEPTION does not let a PENDING reversal be acted on."""
    reversal(dynamodb, "PENDING")
    dynamodb.update_item(
        TableName=TRANSACTION_QUEUE.logical_name,
        Key=ddb.to_item({"queue_id": lms_queue_id(PAY)}),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=ddb.values({":s": "EXCEPTION"}),
    )
    before = stored_item(dynamodb, lms_cancel_queue_id(PAY))
    body = {"reason": "the reversal", "queue_type": LMS_CANCEL, "lms_receipt_id": "LMSR0000000002"}
    if route == RETRY:
        del body["lms_receipt_id"]
    answer = call(api, "POST", route, body=body)
    assert answer.status == 409 and answer.body["error"]["code"] == "CONFLICT"
    assert stored_item(dynamodb, lms_cancel_queue_id(PAY)) == before
    assert item_status(dynamodb) == "EXCEPTION"
    assert "lms_cancelled_at" not in stored_transaction(dynamodb)
    assert audit_count(dynamodb) == 0


def test_the_list_shows_exceptions_by_default_without_pii(api: Any, dynamodb: Any) -> None:
    queue(dynamodb)
    queue(dynamodb, "PENDING", "pay_" + "d" * 20)
    answer = call(api, "GET", LIST)
    assert answer.status == 200 and answer.headers.get("Cache-Control") == "no-store"
    [row] = answer.body["items"]
    assert row["transaction_id"] == PAY and row["status"] == "EXCEPTION"
    assert row["queue_type"] == LMS_RECEIPT
    assert row["last_error"] == "LOAN_CLOSED: the loan is closed"
    assert set(row) >= {"loan_account_number", "receipt_number", "amount", "attempts"}
    assert not {"customer_name", "mobile_number"} & set(row)
    pending = call(api, "GET", LIST, query={"status": "PENDING"})
    assert [r["status"] for r in pending.body["items"]] == ["PENDING"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "LOST"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"loan_account_number": "ln-1"}, "loan_account_number"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_list_parameters_are_400(api: Any, query: dict[str, str], field: str) -> None:
    answer = call(api, "GET", LIST, query=query)
    assert answer.status == 400
    assert [d["field"] for d in answer.body["error"]["details"]] == [field]
