"""Payout transactions, keyed by the Monoova uniqueReference."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payouts.dal.cursors import BadCursor, decode_cursor, encode_cursor
from payouts.models.schedule import Schedule
from payouts.models.status import OPEN, REFUNDABLE, WORK_FOR, Status, Work, allowed_from
from payouts.tables import TRANSACTIONS
from shared import ddb, ddb_writes
from shared.store_errors import ConditionFailed

__all__ = ["BadCursor", "TransactionStore", "Transition", "decode_cursor", "encode_cursor"]

CUSTOMER_INDEX = TRANSACTIONS.indexes[0].name
OPEN_INDEX = TRANSACTIONS.indexes[1].name
DUE_INDEX = TRANSACTIONS.indexes[2].name
# Monoova gave its answer: the move records when.
_SETTLED = frozenset({Status.COMPLETED, Status.REJECTED, Status.RETURNED})
_WORK_NAMES = {"#work": "due_work", "#due": "due_at"}


@dataclass(frozen=True)
class Transition:
    """A forward move of one payout; `fields` are set alongside the status."""

    transaction_id: str
    target: Status
    at: str
    source: str
    fields: dict[str, Any]
    expected_amount: Decimal | None = None
    due_at: str | None = None  # when the target's follow-up work is due; default: the schedule


class TransactionStore:
    def __init__(self, client: Any, table: str, schedule: Schedule | None = None) -> None:
        self.client = client
        self.table = table
        self.schedule = schedule or Schedule()

    @staticmethod
    def key(transaction_id: str) -> dict[str, str]:
        return {"transaction_id": transaction_id}

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item(self.key(transaction_id)), ConsistentRead=True
        )
        return ddb.from_item(response.get("Item"))

    def put_new_op(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": ddb.to_item(item),
                "ConditionExpression": "attribute_not_exists(transaction_id)",
            }
        }

    def transition_op(self, move: Transition) -> dict[str, Any]:
        """A conditional update that succeeds only from a state the target may follow.

        It also keeps the sparse indexes right: `open_status` while open, and the target's
        follow-up work (`due_work`, `due_at`), or none.
        """
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":to": move.target.value,
            ":at": move.at,
            ":history": [{"status": move.target.value, "at": move.at, "source": move.source}],
            ":empty": [],
        }
        sets = [
            "#status = :to",
            "updated_at = :at",
            "status_history = list_append(if_not_exists(status_history, :empty), :history)",
        ]
        removes: list[str] = []
        fields = dict(move.fields)
        if move.target in _SETTLED:
            fields.setdefault("finalised_at", move.at)
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        if move.target in OPEN:
            names["#open"] = "open_status"
            values[":open"] = move.target.value
            sets.append("#open = :open")
        else:
            removes.append("open_status")
        names |= _WORK_NAMES
        work = WORK_FOR[move.target]
        if work is None:
            removes += ["#work", "#due"]
        else:
            values[":work"] = work.value
            values[":due"] = move.due_at or self.schedule.due_at(move.target, move.at)
            sets += ["#work = :work", "#due = :due"]
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(self.key(move.transaction_id)),
                "UpdateExpression": update,
                "ConditionExpression": self._transition_condition(move, values),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.values(values),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    @staticmethod
    def _transition_condition(move: Transition, values: dict[str, Any]) -> str:
        placeholders = []
        for i, state in enumerate(sorted(allowed_from(move.target))):
            values[f":from{i}"] = state.value
            placeholders.append(f":from{i}")
        condition = f"attribute_exists(transaction_id) AND #status IN ({', '.join(placeholders)})"
        if move.expected_amount is not None:
            condition += " AND amount = :amount"
            values[":amount"] = move.expected_amount
        return condition

    def transition(self, move: Transition) -> None:
        """Make one move; raises ConditionFailed (with the payout as it stands) or Conflict."""
        ddb_writes.update(self.client, self.transition_op(move)["Update"])

    def record_facts(self, transaction_id: str, fields: dict[str, Any]) -> None:
        """Set facts on an existing payout without moving it; raises ConditionFailed/Conflict."""
        ddb_writes.update(self.client, self.set_fields_op(transaction_id, fields)["Update"])

    def mark_refunded_op(self, transaction_id: str, at: str) -> dict[str, Any]:
        """Set `refunded_at`, only on a Rejected/Returned payout not yet refunded."""
        refundable = sorted(s.value for s in REFUNDABLE)
        values = {":at": at} | {f":r{i}": s for i, s in enumerate(refundable)}
        states = ", ".join(f":r{i}" for i in range(len(refundable)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(self.key(transaction_id)),
                # Credited: the refund work is done, so the payout leaves the due-work index.
                "UpdateExpression": "SET refunded_at = :at REMOVE #work, #due",
                "ConditionExpression": (
                    f"attribute_not_exists(refunded_at) AND #status IN ({states})"
                ),
                "ExpressionAttributeNames": {"#status": "status"} | _WORK_NAMES,
                "ExpressionAttributeValues": ddb.values(values),
            }
        }

    def set_fields_op(self, transaction_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record facts about a payout without changing its status."""
        names = {f"#f{i}": name for i, name in enumerate(sorted(fields))}
        values = {f":f{i}": fields[name] for i, name in enumerate(sorted(fields))}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(self.key(transaction_id)),
                "UpdateExpression": f"SET {sets}",
                "ConditionExpression": "attribute_exists(transaction_id)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": ddb.values(values),
            }
        }

    def due(self, work: Work, now: str, limit: int) -> list[dict[str, Any]]:
        """Payouts whose `work` is due by `now`, soonest due first (the due-work index)."""
        return self._query_index(
            DUE_INDEX,
            "#work = :w AND #due <= :now",
            {":w": work.value, ":now": now},
            limit,
            names=_WORK_NAMES,
        )

    def open_without_work(self, limit: int) -> list[dict[str, Any]]:
        """Open payouts written before the due-work index existed (no `due_work`)."""
        found: list[dict[str, Any]] = []
        for status in sorted(OPEN):
            found += self._query_index(
                OPEN_INDEX,
                "open_status = :s",
                {":s": status.value},
                limit,
                names={"#work": "due_work"},
                filter_expression="attribute_not_exists(#work)",
            )
        return found

    def file_work(self, transaction_id: str, work: Work, due_at: str) -> bool:
        """Give an open payout that has none its follow-up work; False if it has some."""
        request = {
            "TableName": self.table,
            "Key": ddb.to_item(self.key(transaction_id)),
            "UpdateExpression": "SET #work = :work, #due = :due",
            "ConditionExpression": "attribute_not_exists(#work) AND attribute_exists(open_status)",
            "ExpressionAttributeNames": _WORK_NAMES,
            "ExpressionAttributeValues": ddb.values({":work": work.value, ":due": due_at}),
        }
        try:
            ddb_writes.update(self.client, request)
        except ConditionFailed:
            return False
        return True

    def defer(self, transaction_id: str, work: Work, due_at: str) -> bool:
        """Look at this work again at `due_at`; False when the payout has moved on from it."""
        return self._if_working(transaction_id, work, "SET #due = :due", {":due": due_at})

    def close_work(self, transaction_id: str, work: Work) -> bool:
        """The work is over (e.g. the return window closed): leave the due-work index."""
        return self._if_working(transaction_id, work, "REMOVE #work, #due", {})

    def _if_working(
        self, transaction_id: str, work: Work, update: str, values: dict[str, Any]
    ) -> bool:
        request = {
            "TableName": self.table,
            "Key": ddb.to_item(self.key(transaction_id)),
            "UpdateExpression": update,
            "ConditionExpression": "#work = :work",
            "ExpressionAttributeNames": _WORK_NAMES,
            "ExpressionAttributeValues": ddb.values({":work": work.value, **values}),
        }
        try:
            ddb_writes.update(self.client, request)
        except ConditionFailed:
            return False
        return True

    def list_for_customer(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": CUSTOMER_INDEX,
            "KeyConditionExpression": "customer_id = :c",
            "ExpressionAttributeValues": ddb.values({":c": customer_id}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = ddb.to_item(decode_cursor(cursor, customer_id))
        response = self.client.query(**kwargs)
        items = [ddb.from_item(i) or {} for i in response.get("Items", [])]
        last = ddb.from_item(response.get("LastEvaluatedKey"))
        return items, encode_cursor(last) if last else None

    def open_older_than(self, status: Status, cutoff: str, limit: int) -> list[dict[str, Any]]:
        """Open payouts in `status` created before `cutoff`, oldest first (sparse index)."""
        return self._query_index(
            OPEN_INDEX,
            "open_status = :s AND created_at < :cutoff",
            {":s": status.value, ":cutoff": cutoff},
            limit,
        )

    def _query_index(
        self,
        index: str,
        condition: str,
        values: dict[str, Any],
        limit: int,
        *,
        names: dict[str, str] | None = None,
        filter_expression: str | None = None,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": ddb.values(values),
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        while len(items) < limit:
            response = self.client.query(**kwargs, Limit=limit - len(items))
            items.extend(ddb.from_item(i) or {} for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items
