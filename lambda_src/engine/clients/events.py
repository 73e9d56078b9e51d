"""`payment.captured` on the engine's event bus, for whatever reacts to a repayment.

Published after the capture's transaction, best effort: the capture and its LMS posting are
already recorded together (the TransactionQueue item is the durable hand-off), so a failed
publish is logged and counted (`event_publish_failed`), never turned into a failed capture.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.models.payment import Payment
from shared import jsonutil

SOURCE = "engine.payments"
CAPTURED = "payment.captured"
logger = logging.getLogger(__name__)


def captured_detail(payment: Payment) -> dict[str, Any]:
    """No PII: identifiers, the amount and the receipt."""
    return {
        "payment_id": payment.transaction_id,
        "loan_account_number": payment.loan_account_number,
        "branch_code": payment.branch_code,
        "amount": payment.amount,
        "currency": payment.currency,
        "receipt_number": payment.receipt_number,
        "payment_method": payment.payment_method,
        "channel": payment.channel,
        "captured_at": payment.captured_at,
        "version": payment.version,
    }


class EventPublisher:
    def __init__(self, client: Any, bus_name: str, on_failure: Any = None) -> None:
        self._client = client
        self._bus = bus_name
        self._on_failure = on_failure  # called with no arguments when a publish fails
        self.calls = 0

    def payment_captured(self, payment: Payment) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": CAPTURED,
            "Detail": jsonutil.dumps(captured_detail(payment)),
            "EventBusName": self._bus,
        }
        self.calls += 1
        try:
            answer = self._client.put_events(Entries=[entry])
            failed = int(answer.get("FailedEntryCount", 0))
        except Exception as exc:  # best effort: see the module docstring
            logger.error("payment.captured not published", extra={"error": type(exc).__name__})
            failed = 1
        if failed and self._on_failure is not None:
            self._on_failure()
