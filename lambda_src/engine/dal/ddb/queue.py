"""The TransactionQueue outbox: work for another system, written in the transaction that
creates the need for it (a capture queues its LMS receipt posting)."""

from __future__ import annotations

from typing import Any

from engine.models.payment import Payment
from shared import ddb

LMS_RECEIPT = "LMS_RECEIPT"
PENDING = "PENDING"


def lms_queue_id(transaction_id: str) -> str:
    return f"lms#{transaction_id}"


def lms_receipt_payload(payment: Payment) -> dict[str, Any]:
    """What the LMS poster posts: the receipt as issued (no customer PII)."""
    return {
        "transaction_id": payment.transaction_id,
        "receipt_number": payment.receipt_number,
        "loan_account_number": payment.loan_account_number,
        "branch_code": payment.branch_code,
        "amount": payment.amount,
        "currency": payment.currency,
        "channel": payment.channel,
        "payment_method": payment.payment_method,
        "razorpay_payment_id": payment.razorpay_payment_id,
        "captured_at": payment.captured_at,
    }


class QueueStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def lms_receipt_op(self, captured: Payment, now_epoch: int) -> dict[str, Any]:
        """Create-only: a capture queues its posting once, whichever path captured it."""
        item = {
            "queue_id": lms_queue_id(captured.transaction_id),
            "queue_type": LMS_RECEIPT,
            "retry_timestamp": now_epoch,
            "status": PENDING,
            "attempts": 0,
            "transaction_id": captured.transaction_id,
            "created_at": captured.captured_at,
            "payload": lms_receipt_payload(captured),
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": ddb.to_item(item),
                "ConditionExpression": "attribute_not_exists(queue_id)",
            }
        }
