"""Crediting the balance back when a payout ends Rejected or Returned (from the table stream).

The payout's `refunded_at` and the credit are written in one transaction, guarded by
`attribute_not_exists(refunded_at)`: a redelivered stream record credits nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from payouts.dal.customers import CustomerStore
from payouts.dal.transactions import TransactionStore
from payouts.logic import metrics as m
from payouts.models.status import OPEN, REFUNDABLE, Status
from shared import clock, ddb


@dataclass
class BalanceRestorer:
    client: Any
    transactions: TransactionStore
    customers: CustomerStore
    metrics: m.MetricSink

    def on_change(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
        """Handle one stream change; True when a credit was made."""
        if not new:
            return False
        status = Status(new["status"])
        if old and _first_final(Status(old["status"]), status):
            self._time_to_final(new)
        if status not in REFUNDABLE or new.get("refunded_at"):
            return False
        return self._credit(new)

    def _credit(self, payout: dict[str, Any]) -> bool:
        amount = Decimal(payout["amount"])
        mark = {
            "Update": {
                "TableName": self.transactions.table,
                "Key": ddb.to_item(self.transactions.key(payout["transaction_id"])),
                "UpdateExpression": "SET refunded_at = :at",
                "ConditionExpression": (
                    "attribute_not_exists(refunded_at) AND #status IN (:rejected, :returned)"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": ddb.values(
                    {
                        ":at": clock.iso(clock.now()),
                        ":rejected": Status.REJECTED.value,
                        ":returned": Status.RETURNED.value,
                    }
                ),
            }
        }
        try:
            self.client.transact_write_items(
                TransactItems=[mark, self.customers.credit_op(payout["customer_id"], amount)]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = ddb.cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False  # already credited by an earlier delivery
            raise
        self.metrics.add_metric(m.BALANCE_RESTORED, "Count", 1)
        return True

    def _time_to_final(self, payout: dict[str, Any]) -> None:
        created = clock.parse_iso(payout["created_at"])
        elapsed_ms = (clock.now() - created).total_seconds() * 1000
        self.metrics.add_metric(m.TIME_TO_FINAL_STATE, "Milliseconds", max(0.0, elapsed_ms))


def _first_final(old: Status, new: Status) -> bool:
    """Leaving Pending/UNKNOWN for an outcome (a later Completed -> Returned is not one)."""
    return old in OPEN and new not in OPEN
