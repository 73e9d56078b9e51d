"""payment_success_rate: 100 for each payment captured, 0 for each that failed or expired.

Emitted once per move that actually happened (a repeated or stale event moves nothing and
counts nothing), with the channel and payment method, and without dimensions for the alarm.
A failed-then-captured payment counts once each way: both outcomes happened.
"""

from __future__ import annotations

from engine import metrics, telemetry
from engine.models.payment import Payment
from engine.models.status import PaymentStatus


class OutcomeMetrics:
    def outcome(self, payment: Payment) -> None:
        value = 100 if payment.status is PaymentStatus.CAPTURED else 0
        telemetry.publish(
            metrics.PAYMENT_SUCCESS_RATE,
            value,
            channel=payment.channel,
            payment_method=payment.payment_method or "unknown",
        )


def count(spec_name: str, value: int = 1) -> None:
    """Occurrences of a dimensionless count metric declared in engine.metrics."""
    spec = next(m for m in metrics.METRICS if m.name == spec_name)
    telemetry.publish(spec, value)
