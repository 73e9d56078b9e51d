"""Manual intervention on LMS postings, on moto: only EXCEPTION items can be acted on, each
action is written with its audit record (on the head office's hash chain) or not at all, and
the list pages by status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.dal.ddb.audit import AuditLog
from engine.dal.ddb.intervention import Action, Actor, InterventionStore, NotActionable
from engine.dal.ddb.posting import PostingStore
from engine.dal.ddb.queue import LMS_RECEIPT, lms_queue_id
from engine.models.status import PostingStatus
from engine.tables import AUDIT, TRANSACTION_QUEUE, TRANSACTIONS
from shared import ddb, ddb_writes

P = PostingStatus
NOW = 1_800_000_000
AT = "2027-01-15T08:00:00.000Z"
NO_WAIT = ddb_writes.Retry(attempts=2, base_seconds=0)
STAFF = Actor("staff-sub-1", "finance@example.com", "finance.one")


@pytest.fixture
def stores(dynamodb: Any) -> Iterator[tuple[InterventionStore, PostingStore, Any]]:
    for spec in (TRANSACTIONS, TRANSACTION_QUEUE, AUDIT):
        dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
    interventions = InterventionStore(
        dynamodb,
        TRANSACTION_QUEUE.logical_name,
        TRANSACTIONS.logical_name,
        AuditLog(dynamodb, AUDIT.logical_name, retry=NO_WAIT),
    )
    postings = PostingStore(
        dynamodb, TRANSACTION_QUEUE.logical_name, TRANSACTIONS.logical_name, NO_WAIT
    )
    yield interventions, postings, dynamodb


def txn(n: int) -> str:
    return f"pay_{'b' * 19}{chr(ord('a') + n)}"


def put_item(client: Any, n: int, status: PostingStatus, loan: str = "LN0000000001") -> str:
    client.put_item(
        TableName=TRANSACTIONS.logical_name,
        Item=ddb.to_item({"transaction_id": txn(n), "status": "CAPTURED", "version": 3}),
    )
    item: dict[str, Any] = {
        "queue_id": lms_queue_id(txn(n)),
        "queue_type": LMS_RECEIPT,
        "status": status.value,
        "attempts": 24,
        "in_doubt": True,
        "transaction_id": txn(n),
        "created_at": f"2027-01-1{n}T08:00:00.000Z",
        "last_error": "ATTEMPTS_EXHAUSTED",
        "payload": {"loan_account_number": loan, "receipt_number": f"BR001/2026-27/{n:06d}"},
    }
    if status in (P.PENDING, P.IN_FLIGHT):
        item["retry_timestamp"] = NOW
    client.put_item(TableName=TRANSACTION_QUEUE.logical_name, Item=ddb.to_item(item))
    return txn(n)


def action(transaction_id: str, reason: str = "LMS fixed the loan") -> Action:
    return Action(transaction_id, STAFF, reason, AT, NOW)


def audit_records(client: Any, transaction_id: str) -> list[dict[str, Any]]:
    found = client.query(
        TableName=AUDIT.logical_name,
        KeyConditionExpression="entity_id = :e",
        ExpressionAttributeValues=ddb.values({":e": lms_queue_id(transaction_id)}),
    )["Items"]
    return [ddb.from_item(i) or {} for i in found]


def test_retry_now_makes_an_exception_due_at_once_keeping_its_doubt(stores: Any) -> None:
    interventions, postings, client = stores
    transaction_id = put_item(client, 1, P.EXCEPTION)
    interventions.retry_now(action(transaction_id))

    item = postings.get(lms_queue_id(transaction_id))
    assert item is not None
    assert (item.status, item.attempts, item.in_doubt, item.retry_timestamp) == (
        P.PENDING,
        0,
        True,
        NOW,
    )
    assert [i.queue_id for i in postings.due(NOW, 10)] == [lms_queue_id(transaction_id)]
    [record] = audit_records(client, transaction_id)
    assert record["action"] == "LMS_RETRY" and record["actor_id"] == "staff-sub-1"
    assert record["actor_username"] == "finance.one" and "actor_email" not in record
    details = record["details"]
    assert (details["status_before"], details["status_after"]) == ("EXCEPTION", "PENDING")
    assert details["reason"] == "LMS fixed the loan"
    # The head office's chain of the action's IST date, begun by this record.
    assert (record["chain_id"], record["seq"]) == ("2027-01-15#HO", 1)


def test_resolve_with_the_lms_receipt_marks_the_transaction_posted(stores: Any) -> None:
    interventions, postings, client = stores
    transaction_id = put_item(client, 2, P.EXCEPTION)
    interventions.resolve(action(transaction_id, "found at the LMS"), "LMSR0000004242")

    item = postings.get(lms_queue_id(transaction_id))
    assert item is not None and item.status is P.RESOLVED
    assert item.resolution == "found at the LMS" and item.lms_receipt_id == "LMSR0000004242"
    stored = client.get_item(
        TableName=TRANSACTIONS.logical_name, Key=ddb.to_item({"transaction_id": transaction_id})
    )["Item"]
    marked = ddb.from_item(stored) or {}
    assert (marked["lms_receipt_id"], marked["version"]) == ("LMSR0000004242", 4)
    [record] = audit_records(client, transaction_id)
    assert record["action"] == "LMS_RESOLVE"
    assert record["details"]["lms_receipt_id"] == "LMSR0000004242"


@pytest.mark.parametrize("status", [P.PENDING, P.IN_FLIGHT, P.POSTED, P.RESOLVED])
def test_only_an_exception_can_be_acted_on_and_nothing_is_recorded_otherwise(
    stores: Any, status: PostingStatus
) -> None:
    interventions, postings, client = stores
    transaction_id = put_item(client, 3, status)
    before = postings.get(lms_queue_id(transaction_id))

    for act in (interventions.retry_now, interventions.resolve):
        with pytest.raises(NotActionable):
            act(action(transaction_id))

    assert postings.get(lms_queue_id(transaction_id)) == before
    assert audit_records(client, transaction_id) == []


def test_an_unknown_transaction_is_not_actionable(stores: Any) -> None:
    interventions, _, client = stores
    with pytest.raises(NotActionable):
        interventions.retry_now(action(txn(9)))
    assert audit_records(client, txn(9)) == []


def test_the_list_pages_by_status_oldest_first_with_a_loan_filter(stores: Any) -> None:
    interventions, _, client = stores
    ids = [put_item(client, n, P.EXCEPTION) for n in (1, 2, 3)]
    put_item(client, 4, P.EXCEPTION, loan="LN0000000002")
    put_item(client, 5, P.PENDING)

    first = interventions.in_status(P.EXCEPTION, 2)
    assert [i.transaction_id for i in first.items] == ids[:2] and first.cursor
    second = interventions.in_status(P.EXCEPTION, 2, first.cursor)
    assert [i.transaction_id for i in second.items] == [ids[2], txn(4)]

    other = interventions.in_status(P.EXCEPTION, 10, loan_account_number="LN0000000002")
    assert [i.transaction_id for i in other.items] == [txn(4)]
    assert [i.transaction_id for i in interventions.in_status(P.PENDING, 10).items] == [txn(5)]
