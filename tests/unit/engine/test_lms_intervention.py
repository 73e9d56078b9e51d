"""Manual intervention on LMS postings, on moto: only EXCEPTION items can be acted on, each
action is written with its audit record (on the head office's hash chain) or not at all, and
the list pages by status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.dal.ddb.audit import AuditLog
from engine.dal.ddb.intervention import Action, Actor, InterventionStore, NotActionable
from engine.dal.ddb.posting import PostingStore
from engine.dal.ddb.queue import (
    LMS_CANCEL,
    LMS_QUEUE_TYPES,
    LMS_RECEIPT,
    lms_cancel_queue_id,
    lms_queue_id,
)
from engine.models import lms_admin
from engine.models.status import PostingStatus
from engine.tables import AUDIT, TRANSACTION_QUEUE, TRANSACTIONS
from shared import ddb, ddb_writes

P = PostingStatus
NOW = 1_800_000_000
AT = "2027-01-15T08:00:00.000Z"
NO_WAIT = ddb_writes.Retry(attempts=2, base_seconds=0)
STAFF = Actor("staff-sub-1", "finance@example.com", "finance.one")
_IDS = (lms_queue_id, lms_cancel_queue_id)


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


def put_reversal(client: Any, n: int, status: PostingStatus) -> str:
    """A cancelled receipt's reversal beside its (POSTED) receipt item, as a cancel queues it."""
    put_item(client, n, P.POSTED)
    item: dict[str, Any] = {
        "queue_id": lms_cancel_queue_id(txn(n)),
        "queue_type": LMS_CANCEL,
        "status": status.value,
        "attempts": 24,
        "in_doubt": False,
        "transaction_id": txn(n),
        "created_at": f"2027-01-1{n}T09:00:00.000Z",
        "last_error": "ATTEMPTS_EXHAUSTED",
        "payload": {
            "transaction_id": txn(n),
            "receipt_number": f"BR001/2026-27/{n:06d}",
            "loan_account_number": "LN0000000001",
        },
    }
    if status in (P.PENDING, P.IN_FLIGHT):
        item["retry_timestamp"] = NOW
    client.put_item(TableName=TRANSACTION_QUEUE.logical_name, Item=ddb.to_item(item))
    return txn(n)


def action(
    transaction_id: str, reason: str = "LMS fixed the loan", queue_type: str = LMS_RECEIPT
) -> Action:
    return Action(transaction_id, STAFF, reason, AT, NOW, queue_type)


def transaction(client: Any, transaction_id: str) -> dict[str, Any]:
    stored = client.get_item(
        TableName=TRANSACTIONS.logical_name, Key=ddb.to_item({"transaction_id": transaction_id})
    )["Item"]
    return ddb.from_item(stored) or {}


def audit_records(
    client: Any, transaction_id: str, queue_id: Callable[[str], str] = lms_queue_id
) -> list[dict[str, Any]]:
    found = client.query(
        TableName=AUDIT.logical_name,
        KeyConditionExpression="entity_id = :e",
        ExpressionAttributeValues=ddb.values({":e": queue_id(transaction_id)}),
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
    assert details["queue_type"] == LMS_RECEIPT
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
    assert marked["lms_posted_at"] == AT and "lms_cancelled_at" not in marked
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


# --------------------------------------------------------------------------- reversals


def test_the_request_shapes_name_every_kind_of_outbox_item() -> None:
    assert lms_admin.QUEUE_TYPES == LMS_QUEUE_TYPES


def test_retry_of_a_reversal_acts_on_it_alone(stores: Any) -> None:
    interventions, postings, client = stores
    transaction_id = put_reversal(client, 6, P.EXCEPTION)
    receipt_before = postings.get(lms_queue_id(transaction_id))
    interventions.retry_now(action(transaction_id, "LMS reopened it", LMS_CANCEL))

    item = postings.get(lms_cancel_queue_id(transaction_id))
    assert item is not None
    assert (item.status, item.attempts, item.retry_timestamp) == (P.PENDING, 0, NOW)
    assert [i.queue_id for i in postings.due(NOW, 10)] == [lms_cancel_queue_id(transaction_id)]
    assert postings.get(lms_queue_id(transaction_id)) == receipt_before
    [record] = audit_records(client, transaction_id, lms_cancel_queue_id)
    assert record["action"] == "LMS_RETRY" and record["details"]["queue_type"] == LMS_CANCEL
    assert audit_records(client, transaction_id) == []


def test_resolve_of_a_reversal_marks_the_transaction_cancelled_at_the_lms(stores: Any) -> None:
    interventions, postings, client = stores
    transaction_id = put_reversal(client, 7, P.EXCEPTION)
    interventions.resolve(action(transaction_id, "reversed by hand", LMS_CANCEL), "LMSR0000000077")

    item = postings.get(lms_cancel_queue_id(transaction_id))
    assert item is not None and item.status is P.RESOLVED
    assert item.lms_receipt_id == "LMSR0000000077" and item.resolution == "reversed by hand"
    marked = transaction(client, transaction_id)
    assert (marked["lms_cancelled_at"], marked["version"]) == (AT, 4)
    # The transaction's receipt id is the receipt's own, not the reversal's.
    assert "lms_receipt_id" not in marked and "lms_posted_at" not in marked
    [record] = audit_records(client, transaction_id, lms_cancel_queue_id)
    assert record["action"] == "LMS_RESOLVE"
    assert record["details"]["queue_type"] == LMS_CANCEL
    assert record["details"]["lms_receipt_id"] == "LMSR0000000077"


def test_resolve_of_a_reversal_without_a_receipt_id_leaves_the_transaction(stores: Any) -> None:
    interventions, postings, client = stores
    transaction_id = put_reversal(client, 8, P.EXCEPTION)
    interventions.resolve(action(transaction_id, "nothing to reverse", LMS_CANCEL))

    item = postings.get(lms_cancel_queue_id(transaction_id))
    assert item is not None and item.status is P.RESOLVED
    assert transaction(client, transaction_id)["version"] == 3


def test_each_kind_is_acted_on_only_when_that_item_is_in_exception(stores: Any) -> None:
    """The receipt in EXCEPTION does not make its PENDING reversal actionable, nor the other
    way round; a refused action writes nothing."""
    interventions, postings, client = stores
    reversal_pending = put_reversal(client, 1, P.PENDING)
    client.update_item(
        TableName=TRANSACTION_QUEUE.logical_name,
        Key=ddb.to_item({"queue_id": lms_queue_id(reversal_pending)}),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=ddb.values({":s": P.EXCEPTION.value}),
    )
    receipt_posted = put_reversal(client, 2, P.EXCEPTION)
    cases = ((reversal_pending, LMS_CANCEL), (receipt_posted, LMS_RECEIPT))
    before = [postings.get(q(t)) for t in (reversal_pending, receipt_posted) for q in _IDS]

    for transaction_id, queue_type in cases:
        for act in (interventions.retry_now, interventions.resolve):
            with pytest.raises(NotActionable):
                act(action(transaction_id, queue_type=queue_type))

    assert [postings.get(q(t)) for t in (reversal_pending, receipt_posted) for q in _IDS] == before
    assert int(client.scan(TableName=AUDIT.logical_name, Select="COUNT")["Count"]) == 0
    assert transaction(client, receipt_posted)["version"] == 3


def test_an_unknown_queue_type_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError):
        action(txn(1), queue_type="SMS")


def test_the_loan_filter_lists_receipts_and_reversals(stores: Any) -> None:
    """A reversal's item names its loan as its receipt's does: the filter finds both."""
    interventions, _, client = stores
    put_item(client, 1, P.EXCEPTION)
    put_reversal(client, 2, P.EXCEPTION)

    every = interventions.in_status(P.EXCEPTION, 10)
    assert [(i.transaction_id, i.queue_type) for i in every.items] == [
        (txn(1), LMS_RECEIPT),
        (txn(2), LMS_CANCEL),
    ]
    loan = interventions.in_status(P.EXCEPTION, 10, loan_account_number="LN0000000001")
    assert [i.transaction_id for i in loan.items] == [txn(1), txn(2)]
    other = interventions.in_status(P.EXCEPTION, 10, loan_account_number="LN0000000002")
    assert other.items == []
