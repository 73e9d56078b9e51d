"""Business metric names, in one place (the monitoring stack alarms on the same names)."""

from __future__ import annotations

from typing import Protocol

PAYOUT_CREATED = "PayoutCreated"
PAYOUT_AMOUNT_CENTS = "PayoutAmountCents"
PAYOUT_COMPLETED = "PayoutCompleted"
PAYOUT_REJECTED = "PayoutRejected"
PAYOUT_RETURNED = "PayoutReturned"
PAYOUT_UNKNOWN = "PayoutUnknown"
TIME_TO_FINAL_STATE = "TimeToFinalState"
MONOOVA_LATENCY = "MonoovaLatency"
MONOOVA_CALL_FAILED = "MonoovaCallFailed"
# Monoova refused our credentials (401/403): a rotated or wrong API key. Pages.
MONOOVA_AUTH_FAILED = "MonoovaAuthFailed"
CIRCUIT_OPENED = "CircuitOpened"
CIRCUIT_REJECTED = "CircuitRejectedRequest"
STUCK_UNKNOWN = "StuckUnknownPayouts"
BALANCE_RESTORED = "BalanceRestored"
WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"
SUBMISSION_INCOMPLETE = "SubmissionIncomplete"
RECONCILE_ERRORS = "ReconcileErrors"
# A payout the reconciler cannot send again as first sent: ManualReview. Pages.
PAYOUT_NEEDS_REVIEW = "PayoutNeedsReview"
# Rejected/Returned payouts the refund sweep had to credit (the stream missed them). Alarms.
REFUNDS_SWEPT = "RefundsSwept"
# Completed payouts the return check found dishonoured (their NppReturn never arrived).
RETURNS_FOUND = "ReturnsFound"
BREAKER_UPDATE_FAILED = "BreakerUpdateFailed"

FINAL_METRIC = {
    "Completed": PAYOUT_COMPLETED,
    "Rejected": PAYOUT_REJECTED,
    "Returned": PAYOUT_RETURNED,
    "UNKNOWN": PAYOUT_UNKNOWN,
}


class MetricSink(Protocol):
    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class NullMetrics:
    def add_metric(self, name: str, unit: str, value: float) -> None:
        return None
