"""The TransactionQueue outbox: work for another system, written in the transaction that
creates the need for it (a capture queues its LMS receipt posting; a cancellation, the
receipt's reversal at the LMS)."""

from __future__ import annotations

from typing import Any

from engine.models.payment import Payment
from shared import ddb

LMS_RECEIPT = "LMS_RECEIPT"
LMS_CANCEL = "LMS_CANCEL"
# Every kind of item the LMS posters take, in the order a sweep serves them.
LMS_QUEUE_TYPES = (LMS_RECEIPT, LMS_CANCEL)
PENDING = "PENDING"


def lms_queue_id(transaction_id: str) -> str:
    return f"lms#{transaction_id}"


def lms_cancel_queue_id(transaction_id: str) -> str:
    return f"lmscancel#{transaction_id}"


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

    def lms_cancel_op(  # noqa: PLR0917 - the reversal's facts, in the order they are known
        self,
        transaction_id: str,
        receipt_number: str,
        reason: str,
        at: str,
        now_epoch: int,
        loan_account_number: str | None = None,
    ) -> dict[str, Any]:
        """Create-only: a receipt is cancelled once, so its reversal is queued once; the
        receipt number finds the LMS's receipt (our idempotency reference there), and the
        loan lets staff find the reversal by loan as they find its receipt."""
        item = {
            "queue_id": lms_cancel_queue_id(transaction_id),
            "queue_type": LMS_CANCEL,
            "retry_timestamp": now_epoch,
            "status": PENDING,
            "attempts": 0,
            "transaction_id": transaction_id,
            "created_at": at,
            "payload": {
                "transaction_id": transaction_id,
                "receipt_number": receipt_number,
                "reason": reason,
                "cancelled_at": at,
            }
            | ({"loan_account_number": loan_account_number} if loan_account_number else {}),
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": ddb.to_item(item),
                "ConditionExpression": "attribute_not_exists(queue_id)",
            }
        }
