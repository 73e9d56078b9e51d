"""Staff collections through their handler, end to end: real PostgreSQL (the ledger, the
caller's users row), moto DynamoDB (Transactions, TransactionQueue, Counters, the Audit hash
chain through engine.dal.ddb.audit), the Transactions stream pumped into the sync, and the
repair job completing a collection DynamoDB never got."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from moto import mock_aws

from engine import settings, wiring
from engine.dal.ddb.counters import loan_counter_id
from engine.dal.ddb.queue import lms_cancel_queue_id, lms_queue_id
from engine.dal.pg.roles import sync_roles
from engine.handlers.consumers import transactions_stream
from engine.handlers.internal import collections as handler
from engine.handlers.jobs import transactions_repair
from engine.logic import receipts
from engine.tables import AUDIT, COUNTERS, TRANSACTION_QUEUE, TRANSACTIONS
from local.events import LambdaContext, rest_event
from local.streams import StreamPump
from shared import clock, ddb
from tests.engine_pg import ACTIVE, EngineDb
from tests.support import ApiResponse, invoke
from tests.transactions_support import balances, payment_row

REGION = "ap-south-1"
TABLES = (TRANSACTIONS, TRANSACTION_QUEUE, COUNTERS, AUDIT)
STAFF = {
    "cashier.br001": ("BR001", "BranchCashier"),
    "officer.br001": ("BR001", "FieldOfficer"),
    "manager.br001": ("BR001", "BranchManager"),
    "manager.br002": ("BR002", "BranchManager"),
}
COLLECTIONS = "/api/v1/collections"
ONE = "/api/v1/collections/{collection_id}"
CANCEL = "/api/v1/collections/{collection_id}/cancel"
COLLECTED_AT = clock.iso(clock.now() - timedelta(minutes=10))


@dataclass
class Api:
    dynamodb: Any
    pump: StreamPump
    admin: psycopg.Connection[Any]

    def call(
        self,
        user: str,
        method: str,
        resource: str,
        *,
        body: Any = None,
        key: str | None = None,
        collection_id: str | None = None,
        query: dict[str, str] | None = None,
    ) -> ApiResponse:
        path = resource.replace("{collection_id}", collection_id or "")
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters={"collection_id": collection_id} if collection_id else None,
            headers={"Idempotency-Key": key} if key else None,
            query=query,
            body=None if body is None else json.dumps(body),
            claims={"cognito:username": user, "cognito:groups": f"[{STAFF[user][1]}]"},
        )
        return invoke(handler.handler, event, "InternalCollections")

    def item(self, spec: Any, key: dict[str, str]) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=spec.logical_name, Key=ddb.to_item(key))
        return ddb.from_item(found.get("Item"))

    def audit(self, entity_id: str) -> list[dict[str, Any]]:
        found = self.dynamodb.query(
            TableName=AUDIT.logical_name,
            KeyConditionExpression="entity_id = :e",
            ExpressionAttributeValues=ddb.values({":e": entity_id}),
        )
        return [ddb.from_item(i) or {} for i in found["Items"]]

    def sync(self) -> int:
        context = LambdaContext(function_name="TransactionsSync")
        return self.pump.drain(lambda event: transactions_stream.handler(event, context))


@pytest.fixture
def api(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": engine_db.app_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for spec in TABLES:
        monkeypatch.setenv(spec.env_var, spec.logical_name)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AUDIT_ANCHOR_BUCKET", raising=False)
    with mock_aws(), engine_db.admin() as admin:
        wiring.reset()
        transactions_stream.syncer.cache_clear()
        transactions_repair.repairer.cache_clear()
        transactions_repair.dead_letters.cache_clear()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in TABLES:
            dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        pump = StreamPump(dynamodb, streams, TRANSACTIONS.logical_name, batch_size=100)
        with admin.cursor() as cur:
            sync_roles(cur)
        for username, (branch, role) in STAFF.items():
            admin.execute(
                "INSERT INTO users (username, email, branch_code, role_id)"
                " SELECT %s, %s, %s, role_id FROM roles WHERE role_name = %s",
                (username, f"{username}@staff.example.com", branch, role),
            )
        yield Api(dynamodb, pump, admin)
        transactions_repair.repairer.cache_clear()
        transactions_stream.syncer.cache_clear()
        wiring.reset()
        settings.reset()


def collection(amount: str = "2500.00", **changes: Any) -> dict[str, Any]:
    return {
        "loan_account_number": ACTIVE.loan_account_number,
        "amount": amount,
        "mode": "CASH",
        "purpose": "EMI",
        "collected_at": COLLECTED_AT,
        **changes,
    }


def test_a_field_collection_is_receipted_queued_for_the_lms_audited_and_synced(api: Api) -> None:
    answer = api.call("officer.br001", "POST", COLLECTIONS, body=collection(), key="app-0001")

    assert answer.status == 201, answer.body
    body = answer.body
    year = receipts.financial_year(clock.now())
    assert body["receipt_number"] == f"BR001/{year}/000001"
    assert (body["channel"], body["status"], body["amount"]) == ("FIELD", "CAPTURED", "2500.00")
    assert body["recorded"] is True
    assert answer.headers["Cache-Control"] == "no-store"
    transaction_id = body["transaction_id"]
    item = api.item(TRANSACTIONS, {"transaction_id": transaction_id})
    assert item is not None
    assert (item["status"], item["channel"], item["purpose"]) == ("CAPTURED", "FIELD", "EMI")
    assert item["payment_method"] == "cash"
    posting = api.item(TRANSACTION_QUEUE, {"queue_id": lms_queue_id(transaction_id)})
    assert posting is not None
    assert posting["payload"]["receipt_number"] == body["receipt_number"]
    assert posting["payload"]["purpose"] == "EMI"
    counter = api.item(COUNTERS, {"counter_id": loan_counter_id(ACTIVE.loan_account_number)})
    assert counter is not None
    assert counter["captured"] == Decimal("2500.00")
    (record,) = api.audit(body["collection_id"])
    assert record["action"] == "COLLECTION_CREATED"
    assert record["details"]["amount"] == "2500.00"

    again = api.call("officer.br001", "POST", COLLECTIONS, body=collection(), key="app-0001")
    assert (again.status, again.body["collection_id"]) == (201, body["collection_id"])
    other = api.call("officer.br001", "POST", COLLECTIONS, body=collection("1.00"), key="app-0001")
    assert other.status == 409
    assert other.body["error"]["code"] == "CONFLICT"

    assert api.sync() >= 1
    row = payment_row(api.admin, transaction_id)
    assert row is not None
    assert (row["status"], row["balance_applied"]) == ("CAPTURED", "2500.00")
    assert balances(api.admin, ACTIVE.loan_account_number) == ("247500.00", "0.00")


def test_a_cheque_posts_with_its_number_for_the_lms(api: Api) -> None:
    day = clock.now().astimezone(receipts.IST).date().isoformat()
    cheque = collection(
        "900.00",
        mode="CHEQUE",
        instrument={"number": "004512", "bank_name": "State Bank", "instrument_date": day},
    )
    answer = api.call("cashier.br001", "POST", COLLECTIONS, body=cheque, key="desk-cheque")
    assert answer.status == 201, answer.body
    posting = api.item(TRANSACTION_QUEUE, {"queue_id": lms_queue_id(answer.body["transaction_id"])})
    assert posting is not None
    assert posting["payload"]["instrument_number"] == "004512"
    assert posting["payload"]["payment_method"] == "cheque"


def test_a_fee_is_synced_without_touching_the_outstanding(api: Api) -> None:
    fee = collection(
        "1500.00", purpose="LEGAL_FEE", payer={"name": "Suresh", "mobile": "9123456789"}
    )
    answer = api.call("cashier.br001", "POST", COLLECTIONS, body=fee, key="desk-0001")
    assert answer.status == 201, answer.body
    assert answer.body["channel"] == "BRANCH"
    assert answer.body["payer"] == {"type": "THIRD_PARTY", "name": "Suresh"}
    assert "9123456789" not in json.dumps(answer.body)
    counter = api.item(COUNTERS, {"counter_id": loan_counter_id(ACTIVE.loan_account_number)})
    assert counter is None  # a fee is not payable against the outstanding
    api.sync()
    assert balances(api.admin, ACTIVE.loan_account_number) == ("250000.00", "0.00")


def test_a_cancellation_reverses_the_receipt_at_the_lms_and_in_the_loan(api: Api) -> None:
    taken = api.call("cashier.br001", "POST", COLLECTIONS, body=collection(), key="desk-0002").body
    api.sync()
    collection_id = taken["collection_id"]
    stranger = api.call(
        "manager.br002", "POST", CANCEL, body={"reason": "wrong"}, collection_id=collection_id
    )
    assert stranger.status == 403
    cashier = api.call(
        "cashier.br001", "POST", CANCEL, body={"reason": "wrong"}, collection_id=collection_id
    )
    assert cashier.status == 403  # collections:cancel is a branch manager's

    cancelled = api.call(
        "manager.br001", "POST", CANCEL, body={"reason": "wrong loan"}, collection_id=collection_id
    )

    assert cancelled.status == 200, cancelled.body
    assert (cancelled.body["status"], cancelled.body["cancellation_reason"]) == (
        "CANCELLED",
        "wrong loan",
    )
    transaction_id = taken["transaction_id"]
    item = api.item(TRANSACTIONS, {"transaction_id": transaction_id})
    assert item is not None
    assert (item["status"], item["version"]) == ("CANCELLED", 2)
    reversal = api.item(TRANSACTION_QUEUE, {"queue_id": lms_cancel_queue_id(transaction_id)})
    assert reversal is not None
    assert reversal["payload"]["receipt_number"] == taken["receipt_number"]
    counter = api.item(COUNTERS, {"counter_id": loan_counter_id(ACTIVE.loan_account_number)})
    assert counter is not None
    assert counter["captured"] == 0
    assert [r["action"] for r in api.audit(collection_id)] == [
        "COLLECTION_CREATED",
        "COLLECTION_CANCELLED",
    ]
    again = api.call(
        "manager.br001", "POST", CANCEL, body={"reason": "wrong loan"}, collection_id=collection_id
    )
    assert again.status == 200
    assert len(api.audit(collection_id)) == 2

    api.sync()
    assert payment_row(api.admin, transaction_id)["status"] == "CANCELLED"  # type: ignore[index]
    assert balances(api.admin, ACTIVE.loan_account_number) == ("250000.00", "0.00")


def test_dynamodb_failing_after_the_commit_is_503_and_completed_later(api: Api) -> None:
    api.dynamodb.delete_table(TableName=TRANSACTION_QUEUE.logical_name)
    lost = api.call("cashier.br001", "POST", COLLECTIONS, body=collection(), key="desk-0003")
    assert lost.status == 503, lost.body
    assert lost.body["error"]["code"] == "SERVICE_UNAVAILABLE"
    retried_later = api.call(
        "cashier.br001", "POST", COLLECTIONS, body=collection("10.00"), key="desk-0004"
    )
    assert retried_later.status == 503
    api.dynamodb.create_table(
        **TRANSACTION_QUEUE.create_table_kwargs(TRANSACTION_QUEUE.logical_name)
    )

    again = api.call("cashier.br001", "POST", COLLECTIONS, body=collection(), key="desk-0003")
    assert (again.status, again.body["recorded"]) == (201, True)

    # The other one's app never came back: the hourly job completes it once it has settled.
    api.admin.execute(
        "UPDATE collections SET created_at = now() - interval '1 hour' WHERE recorded_at IS NULL"
    )
    summary = transactions_repair.handler(
        {}, LambdaContext(function_name="TransactionsRepair", timeout_seconds=300)
    )
    assert summary["collections_completed"] == 1
    listed = api.call("manager.br001", "GET", COLLECTIONS, query={"limit": "10"})
    assert listed.status == 200
    assert {c["recorded"] for c in listed.body["items"]} == {True}
    assert len(listed.body["items"]) == 2
    for found in listed.body["items"]:
        assert api.item(TRANSACTIONS, {"transaction_id": found["transaction_id"]}) is not None
        assert len(api.audit(found["collection_id"])) == 1


def test_reads_within_reach_and_bad_input_in_the_engine_shape(api: Api) -> None:
    mine = api.call("officer.br001", "POST", COLLECTIONS, body=collection("10.00"), key="app-0010")
    api.call("cashier.br001", "POST", COLLECTIONS, body=collection("20.00"), key="desk-0010")
    listed = api.call("officer.br001", "GET", COLLECTIONS)
    assert [c["collection_id"] for c in listed.body["items"]] == [mine.body["collection_id"]]
    theirs = api.call("manager.br002", "GET", ONE, collection_id=mine.body["collection_id"])
    assert theirs.status == 403
    ours = api.call("manager.br001", "GET", ONE, collection_id=mine.body["collection_id"])
    assert (ours.status, ours.body["amount"]) == (200, "10.00")
    assert api.call("manager.br001", "GET", ONE, collection_id="nope").status == 404

    no_key = api.call("officer.br001", "POST", COLLECTIONS, body=collection())
    assert (no_key.status, no_key.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    bad = api.call("officer.br001", "POST", COLLECTIONS, body=collection("1.001"), key="app-0011")
    assert bad.status == 400
    assert bad.body["error"]["details"][0]["field"] == "amount"
    assert set(bad.body["error"]) == {"code", "message", "details", "timestamp", "traceId"}
    filtered = api.call("manager.br001", "GET", COLLECTIONS, query={"status": "LOST"})
    assert filtered.status == 400
    manager_cannot_collect = api.call(
        "manager.br001", "POST", COLLECTIONS, body=collection(), key="mgr-00001"
    )
    assert manager_cannot_collect.status == 403
