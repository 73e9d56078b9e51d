"""Atomic counters in the regional Counters table.

* `receipt#<branch>#<FY>`: the last receipt sequence issued, by ADD. Taken before the capture
  transaction (a transaction cannot return a value), so a capture that then loses the race
  to another path leaves a gap in the numbering: accepted, and rare (see logic.settlement).
* `loan#<account>`: `captured`, the total ever captured for the loan. Create compares it with
  what PostgreSQL has applied, so money captured but not yet synced is not payable twice.

The table is regional: after a failover the new Region's receipt counters start below what the
old Region issued. `raise_receipt_sequence` lifts one to a floor (engine.logic.receipt_counters)
and never lowers it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared import ddb, ddb_writes
from shared.ddb_writes import RETRYABLE_ERRORS
from shared.store_errors import ConditionFailed, Conflict


def receipt_counter_id(branch_code: str, financial_year: str) -> str:
    return f"receipt#{branch_code}#{financial_year}"


def loan_counter_id(loan_account_number: str) -> str:
    return f"loan#{loan_account_number}"


class CounterStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def next_receipt_sequence(self, branch_code: str, financial_year: str) -> int:
        """One ADD; botocore already retries throttling, so what still fails is a Conflict."""
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=ddb.to_item({"counter_id": receipt_counter_id(branch_code, financial_year)}),
                UpdateExpression="ADD seq :one",
                ExpressionAttributeValues=ddb.values({":one": 1}),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in RETRYABLE_ERRORS:
                raise Conflict("the receipt counter stayed busy") from exc
            raise
        return int(ddb.from_item(response["Attributes"])["seq"])  # type: ignore[index]

    def raise_receipt_sequence(
        self,
        branch_code: str,
        financial_year: str,
        floor: int,
        at: str,
        retry: ddb_writes.Retry = ddb_writes.DEFAULT_RETRY,
    ) -> bool:
        """Sets the counter to `floor` where it is missing or lower: True if it was raised,
        False if it already stood at `floor` or above (a failed condition, final: nothing
        changed). A throttle or conflict is retried; if it persists, `Conflict`."""
        try:
            ddb_writes.update(
                self.client,
                {
                    "TableName": self.table,
                    "Key": ddb.to_item(
                        {"counter_id": receipt_counter_id(branch_code, financial_year)}
                    ),
                    "UpdateExpression": "SET #v = :floor, carried_over_at = :at",
                    "ConditionExpression": "attribute_not_exists(#v) OR #v < :floor",
                    "ExpressionAttributeNames": {"#v": "seq"},
                    "ExpressionAttributeValues": ddb.values({":floor": floor, ":at": at}),
                },
                retry,
            )
        except ConditionFailed:
            return False
        return True

    def add_captured_op(self, loan_account_number: str, amount: Decimal, at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item({"counter_id": loan_counter_id(loan_account_number)}),
                "UpdateExpression": "ADD captured :amount SET updated_at = :at",
                "ExpressionAttributeValues": ddb.values({":amount": amount, ":at": at}),
            }
        }

    def payable_check_op(self, loan_account_number: str, ceiling: Decimal) -> dict[str, Any]:
        """True while `captured` <= `ceiling` (no item, no capture yet: true).

        With ceiling = outstanding + applied-in-PostgreSQL - amount this is the rule
        "amount <= outstanding - captured-not-yet-synced", checked in the same transaction as
        the payment's creation instead of by a separate read.
        """
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": ddb.to_item({"counter_id": loan_counter_id(loan_account_number)}),
                "ConditionExpression": "attribute_not_exists(captured) OR captured <= :ceiling",
                "ExpressionAttributeValues": ddb.values({":ceiling": ceiling}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def captured(self, loan_account_number: str) -> Decimal:
        response = self.client.get_item(
            TableName=self.table,
            Key=ddb.to_item({"counter_id": loan_counter_id(loan_account_number)}),
            ConsistentRead=True,
        )
        item = ddb.from_item(response.get("Item")) or {}
        return Decimal(item.get("captured", 0))
