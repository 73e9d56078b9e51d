"""payouts.dal.transactions: pagination cursors and the conditional status transition."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from payouts.dal.transactions import (
    BadCursor,
    TransactionStore,
    Transition,
    decode_cursor,
    encode_cursor,
)
from payouts.models.status import OPEN, Status, allowed_from
from payouts.tables import TRANSACTIONS

TABLE = "transactions-test"
AT = "2025-01-02T03:04:05.678Z"
LAST_KEY = {
    "transaction_id": "po_0123456789abcdef0123456789abcdef",
    "customer_id": "cust-1",
    "created_at": "2025-01-01T00:00:00.000Z",
}


def raw_cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# --- cursors --------------------------------------------------------------------------------


def test_cursor_round_trip() -> None:
    cursor = encode_cursor({**LAST_KEY, "other": "ignored"})

    assert "=" not in cursor
    assert decode_cursor(cursor, "cust-1") == LAST_KEY


def test_cursor_is_url_safe() -> None:
    cursor = encode_cursor({**LAST_KEY, "transaction_id": "???>>>" * 5})

    assert not set(cursor) & {"+", "/", "="}
    assert decode_cursor(cursor, "cust-1")["transaction_id"] == "???>>>" * 5


def test_other_customers_cursor_is_refused() -> None:
    with pytest.raises(BadCursor, match="not valid for this customer"):
        decode_cursor(encode_cursor(LAST_KEY), "cust-2")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "%%%%",
        "",
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        base64.urlsafe_b64encode(b"{not json").decode(),
    ],
)
def test_garbage_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, "cust-1")


def test_tampered_cursor_is_refused() -> None:
    cursor = encode_cursor(LAST_KEY)
    tampered = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]

    with pytest.raises(BadCursor):
        decode_cursor(tampered, "cust-1")
    with pytest.raises(BadCursor):
        decode_cursor(cursor[:-3], "cust-1")


@pytest.mark.parametrize(
    "payload",
    [
        {"transaction_id": "t", "customer_id": "cust-1"},  # a key missing
        {**LAST_KEY, "extra": "x"},  # a key too many
        {"pk": "t", "customer_id": "cust-1", "created_at": "c"},  # wrong names
        {**LAST_KEY, "created_at": 12345},  # not a string
        [LAST_KEY],
        "cust-1",
        None,
    ],
)
def test_cursor_with_wrong_keys_is_refused(payload: Any) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(raw_cursor(payload), "cust-1")


def test_bad_cursor_is_a_value_error() -> None:
    assert issubclass(BadCursor, ValueError)


# --- transition_op (shape) ------------------------------------------------------------------


def op_for(target: Status, **kwargs: Any) -> dict[str, Any]:
    move = Transition("po_1", target, AT, "test", kwargs.pop("fields", {}), **kwargs)
    return TransactionStore(object(), TABLE).transition_op(move)["Update"]


def condition_sources(update: dict[str, Any]) -> set[str]:
    values = update["ExpressionAttributeValues"]
    return {v["S"] for k, v in values.items() if k.startswith(":from")}


@pytest.mark.parametrize("target", list(Status))
def test_condition_lists_exactly_the_allowed_sources(target: Status) -> None:
    update = op_for(target)
    placeholders = sorted(k for k in update["ExpressionAttributeValues"] if k.startswith(":from"))

    assert condition_sources(update) == {s.value for s in allowed_from(target)}
    assert update["ConditionExpression"] == (
        f"attribute_exists(transaction_id) AND #status IN ({', '.join(placeholders)})"
    )
    assert update["ExpressionAttributeNames"]["#status"] == "status"
    assert update["ExpressionAttributeValues"][":to"] == {"S": target.value}
    assert update["Key"] == {"transaction_id": {"S": "po_1"}}
    assert update["TableName"] == TABLE
    assert update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


@pytest.mark.parametrize("target", [s for s in Status if s not in OPEN])
def test_non_open_target_removes_open_status(target: Status) -> None:
    update = op_for(target)

    removed = update["UpdateExpression"].split(" REMOVE ")[1].split(", ")
    assert "open_status" in removed
    assert "#open" not in update["ExpressionAttributeNames"]
    assert ":open" not in update["ExpressionAttributeValues"]


@pytest.mark.parametrize("target", sorted(OPEN))
def test_open_target_sets_open_status(target: Status) -> None:
    update = op_for(target)

    assert "REMOVE" not in update["UpdateExpression"]
    assert "#open = :open" in update["UpdateExpression"]
    assert update["ExpressionAttributeNames"]["#open"] == "open_status"
    assert update["ExpressionAttributeValues"][":open"] == {"S": target.value}


def test_expected_amount_adds_the_amount_condition() -> None:
    with_amount = op_for(Status.COMPLETED, expected_amount=Decimal("100.10"))
    without = op_for(Status.COMPLETED)

    assert with_amount["ConditionExpression"].endswith(" AND amount = :amount")
    assert with_amount["ExpressionAttributeValues"][":amount"] == {"N": "100.10"}
    assert "amount" not in without["ConditionExpression"]
    assert ":amount" not in without["ExpressionAttributeValues"]


def test_fields_and_history_are_set() -> None:
    update = op_for(Status.REJECTED, fields={"status_reason": "ACCOUNT CLOSED", "b_field": 7})

    names = update["ExpressionAttributeNames"]
    values = update["ExpressionAttributeValues"]
    fields = {names[f"#f{i}"]: values[f":f{i}"] for i in range(3)}
    # A settled move records when it settled, unless the caller said.
    assert fields == {
        "b_field": {"N": "7"},
        "finalised_at": {"S": AT},
        "status_reason": {"S": "ACCOUNT CLOSED"},
    }
    for i in range(3):
        assert f"#f{i} = :f{i}" in update["UpdateExpression"]
    assert values[":history"]["L"][0]["M"] == {
        "status": {"S": "Rejected"},
        "at": {"S": AT},
        "source": {"S": "test"},
    }


# --- against DynamoDB (moto) ----------------------------------------------------------------


@pytest.fixture
def store(dynamodb: Any) -> TransactionStore:
    dynamodb.create_table(**TRANSACTIONS.create_table_kwargs(TABLE))
    return TransactionStore(dynamodb, TABLE)


def put_payout(store: TransactionStore, txn: str, status: Status, **extra: Any) -> None:
    item = {
        "transaction_id": txn,
        "customer_id": "cust-1",
        "amount": Decimal("100.10"),
        "status": status.value,
        "created_at": extra.pop("created_at", "2025-01-01T00:00:00.000Z"),
        **extra,
    }
    if status in OPEN:
        item["open_status"] = status.value
    store.client.transact_write_items(TransactItems=[store.put_new_op(item)])


def apply(store: TransactionStore, move: Transition) -> None:
    store.client.update_item(**store.transition_op(move)["Update"])


def test_forward_move_is_written(store: TransactionStore) -> None:
    put_payout(store, "po_1", Status.PENDING)

    apply(store, Transition("po_1", Status.COMPLETED, AT, "webhook", {"finalised_at": AT}))

    item = store.get("po_1")
    assert item is not None
    assert item["status"] == "Completed"
    assert item["finalised_at"] == AT
    assert item["updated_at"] == AT
    assert "open_status" not in item
    assert item["status_history"] == [{"status": "Completed", "at": AT, "source": "webhook"}]
    assert store.open_older_than(Status.PENDING, "9999", 10) == []


def test_completed_payout_can_be_returned(store: TransactionStore) -> None:
    put_payout(store, "po_1", Status.COMPLETED)

    apply(store, Transition("po_1", Status.RETURNED, AT, "webhook", {}))

    assert store.get("po_1")["status"] == "Returned"  # type: ignore[index]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.REJECTED, Status.COMPLETED),
        (Status.RETURNED, Status.COMPLETED),
        (Status.COMPLETED, Status.REJECTED),
        (Status.COMPLETED, Status.PENDING),
        (Status.PENDING, Status.PENDING),
    ],
)
def test_backward_move_is_refused(store: TransactionStore, current: Status, target: Status) -> None:
    put_payout(store, "po_1", current)

    with pytest.raises(ClientError) as caught:
        apply(store, Transition("po_1", target, AT, "webhook", {}))

    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert store.get("po_1")["status"] == current.value  # type: ignore[index]


def test_unknown_payout_is_not_created(store: TransactionStore) -> None:
    with pytest.raises(ClientError):
        apply(store, Transition("po_missing", Status.COMPLETED, AT, "webhook", {}))

    assert store.get("po_missing") is None


def test_amount_condition_is_enforced(store: TransactionStore) -> None:
    put_payout(store, "po_1", Status.PENDING)

    with pytest.raises(ClientError):
        apply(
            store,
            Transition("po_1", Status.COMPLETED, AT, "w", {}, expected_amount=Decimal("100.11")),
        )
    apply(
        store, Transition("po_1", Status.COMPLETED, AT, "w", {}, expected_amount=Decimal("100.1"))
    )

    assert store.get("po_1")["status"] == "Completed"  # type: ignore[index]


def test_unknown_and_pending_move_on_the_open_index(store: TransactionStore) -> None:
    put_payout(store, "po_1", Status.PENDING)

    apply(store, Transition("po_1", Status.UNKNOWN, AT, "submit", {"submit_attempts": 4}))
    unknown = store.open_older_than(Status.UNKNOWN, "9999", 10)
    apply(store, Transition("po_1", Status.PENDING, AT, "reconciler", {}))

    assert [i["transaction_id"] for i in unknown] == ["po_1"]
    assert unknown[0]["submit_attempts"] == 4
    assert store.open_older_than(Status.UNKNOWN, "9999", 10) == []
    assert [i["transaction_id"] for i in store.open_older_than(Status.PENDING, "9999", 10)] == [
        "po_1"
    ]
    history = store.get("po_1")["status_history"]  # type: ignore[index]
    assert [h["status"] for h in history] == ["UNKNOWN", "Pending"]


def test_pages_follow_the_cursor_newest_first(store: TransactionStore) -> None:
    for day in range(1, 6):
        put_payout(store, f"po_{day}", Status.PENDING, created_at=f"2025-01-0{day}T00:00:00.000Z")
    put_payout(store, "po_other", Status.PENDING, customer_id="cust-2")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = store.list_for_customer("cust-1", 2, cursor)
        seen.extend(i["transaction_id"] for i in items)
        pages += 1
        if cursor is None:
            break

    assert seen == ["po_5", "po_4", "po_3", "po_2", "po_1"]
    assert pages == 3


def test_listing_with_another_customers_cursor_is_refused(store: TransactionStore) -> None:
    for day in range(1, 4):
        put_payout(store, f"po_{day}", Status.PENDING, created_at=f"2025-01-0{day}T00:00:00.000Z")
    _, cursor = store.list_for_customer("cust-1", 1, None)

    assert cursor is not None
    with pytest.raises(BadCursor):
        store.list_for_customer("cust-2", 1, cursor)
