"""The due-work index: each move files the payout's follow-up work, each job reads only what
is due, soonest first, and a look pushes the payout to the back of the line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payouts.dal.transactions import TransactionStore, Transition
from payouts.models.schedule import Schedule
from payouts.models.status import WORK_FOR, Status, Work
from payouts.tables import TRANSACTIONS

TABLE = "transactions-test"
AT = "2025-01-02T03:00:00.000Z"
SCHEDULE = Schedule(reconcile_seconds=600, return_check_seconds=3600, refund_grace_seconds=300)


@pytest.fixture
def store(dynamodb: Any) -> TransactionStore:
    dynamodb.create_table(**TRANSACTIONS.create_table_kwargs(TABLE))
    return TransactionStore(dynamodb, TABLE, SCHEDULE)


def put(store: TransactionStore, txn: str, status: Status, due_at: str | None = AT) -> None:
    item: dict[str, Any] = {
        "transaction_id": txn,
        "customer_id": "cust-1",
        "amount": Decimal("10.00"),
        "status": status.value,
        "created_at": AT,
        "updated_at": AT,
    }
    work = WORK_FOR[status]
    if work is not None and due_at is not None:
        item |= {"due_work": work.value, "due_at": due_at}
    store.client.transact_write_items(TransactItems=[store.put_new_op(item)])


@pytest.mark.parametrize(
    ("target", "work", "due_at"),
    [
        (Status.UNKNOWN, "reconcile", AT),  # the outcome is unknown: due at once
        (Status.COMPLETED, "return_check", "2025-01-02T04:00:00.000Z"),
        (Status.REJECTED, "refund", "2025-01-02T03:05:00.000Z"),
        (Status.RETURNED, "refund", "2025-01-02T03:05:00.000Z"),
    ],
)
def test_a_move_files_the_follow_up_work_its_state_needs(
    store: TransactionStore, target: Status, work: str, due_at: str
) -> None:
    put(store, "po_1", Status.PENDING)

    store.transition(Transition("po_1", target, AT, "test", {}))

    item = store.get("po_1")
    assert item is not None
    assert (item["due_work"], item["due_at"]) == (work, due_at)


def test_manual_review_leaves_the_index(store: TransactionStore) -> None:
    put(store, "po_1", Status.UNKNOWN)

    store.transition(Transition("po_1", Status.MANUAL_REVIEW, AT, "reconciler", {}))

    item = store.get("po_1")
    assert item is not None
    assert "due_work" not in item and "due_at" not in item
    assert store.due(Work.RECONCILE, "9999", 10) == []


def test_only_what_is_due_is_read_soonest_first(store: TransactionStore) -> None:
    put(store, "po_late", Status.PENDING, "2025-01-02T03:30:00.000Z")
    put(store, "po_b", Status.PENDING, "2025-01-02T02:00:00.000Z")
    put(store, "po_a", Status.UNKNOWN, "2025-01-02T01:00:00.000Z")
    put(store, "po_done", Status.COMPLETED, "2025-01-02T00:00:00.000Z")

    due = store.due(Work.RECONCILE, AT, 10)

    assert [p["transaction_id"] for p in due] == ["po_a", "po_b"]
    assert [p["transaction_id"] for p in store.due(Work.RECONCILE, AT, 1)] == ["po_a"]


def test_a_deferred_payout_goes_to_the_back_of_the_line(store: TransactionStore) -> None:
    put(store, "po_stuck", Status.UNKNOWN, "2025-01-01T00:00:00.000Z")
    put(store, "po_newer", Status.UNKNOWN, "2025-01-02T00:00:00.000Z")
    assert [p["transaction_id"] for p in store.due(Work.RECONCILE, AT, 1)] == ["po_stuck"]

    assert store.defer("po_stuck", Work.RECONCILE, "2025-01-02T03:10:00.000Z")

    assert [p["transaction_id"] for p in store.due(Work.RECONCILE, AT, 1)] == ["po_newer"]


def test_defer_and_close_do_nothing_once_the_payout_has_moved_on(
    store: TransactionStore,
) -> None:
    put(store, "po_1", Status.PENDING)
    store.transition(Transition("po_1", Status.COMPLETED, AT, "webhook", {}))

    assert not store.defer("po_1", Work.RECONCILE, "2030-01-01T00:00:00.000Z")
    assert not store.close_work("po_1", Work.REFUND)
    item = store.get("po_1")
    assert item is not None
    assert (item["due_work"], item["due_at"]) == ("return_check", "2025-01-02T04:00:00.000Z")

    assert store.close_work("po_1", Work.RETURN_CHECK)
    assert "due_work" not in (store.get("po_1") or {})


def test_the_credit_mark_removes_the_refund_work(store: TransactionStore) -> None:
    put(store, "po_1", Status.REJECTED)

    store.client.update_item(**store.mark_refunded_op("po_1", AT)["Update"])

    item = store.get("po_1")
    assert item is not None
    assert item["refunded_at"] == AT
    assert "due_work" not in item
    assert store.due(Work.REFUND, "9999", 10) == []
