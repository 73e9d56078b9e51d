"""Applying Monoova NppPaymentStatus and NppReturn events to payouts.

One unit of work (`PayoutLedger.apply_webhook`) both claims the webhook's dedupe id and moves
the payout forward, so a replayed webhook and an out-of-order one change nothing they should
not. A write that stays conflicted through the store's retries raises `Conflict`: the caller
dead-letters the webhook rather than calling it stale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from payouts.dal.idempotency import webhook_key
from payouts.dal.ledger import PayoutLedger
from payouts.dal.transactions import TransactionStore, Transition
from payouts.logic import metrics as m
from payouts.models.status import FINAL, Status
from shared import clock, jsonutil
from shared.store_errors import AlreadyApplied, ConditionFailed

PAYMENT_STATUS = "NppPaymentStatus"
RETURN = "NppReturn"
_STATUS_TARGETS = {"payment successful": Status.COMPLETED, "rejected": Status.REJECTED}
_DEDUPE_TTL_SECONDS = 90 * 86400


class InvalidEvent(ValueError):
    """Authenticated but not an event this service understands (goes to the DLQ)."""


class Result(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this webhook was processed before
    STALE = "stale"  # the payout is already at or past this state
    UNKNOWN_REFERENCE = "unknown_reference"  # no payout with this uniqueReference
    AMOUNT_MISMATCH = "amount_mismatch"

    @property
    def needs_review(self) -> bool:
        return self in (Result.UNKNOWN_REFERENCE, Result.AMOUNT_MISMATCH)


@dataclass(frozen=True)
class Event:
    kind: str
    unique_reference: str
    target: Status
    dedupe_id: str
    amount: Decimal | None
    monoova_transaction_id: int | None
    reason: str | None


def parse_event(raw_body: bytes, webhook_id: str | None) -> Event:
    try:
        body = jsonutil.loads(raw_body)
    except jsonutil.InvalidJson as exc:
        raise InvalidEvent("body is not JSON") from exc
    if not isinstance(body, dict):
        raise InvalidEvent("body is not a JSON object")
    reference = body.get("UniqueReference")
    if not isinstance(reference, str) or not 0 < len(reference) <= 200:
        raise InvalidEvent("UniqueReference is missing")
    kind, target, reason = _classify(body)
    outcome = target.value
    dedupe_source = f"{webhook_id or ''}|{reference}|{kind}|{outcome}"
    if not webhook_id:
        dedupe_source += "|" + hashlib.sha256(raw_body).hexdigest()
    return Event(
        kind=kind,
        unique_reference=reference,
        target=target,
        dedupe_id=hashlib.sha256(dedupe_source.encode()).hexdigest(),
        amount=_amount(body.get("Amount")),
        monoova_transaction_id=_int(body.get("TransactionId")),
        reason=reason,
    )


def _classify(body: dict[str, Any]) -> tuple[str, Status, str | None]:
    if any(k in body for k in ("ReturnTransactionId", "ReturnReason", "ReturnDate")):
        return RETURN, Status.RETURNED, _text(body.get("ReturnReason"))
    status = body.get("Status")
    target = _STATUS_TARGETS.get(str(status).strip().lower()) if status is not None else None
    if target is None:
        raise InvalidEvent(f"unrecognised NppPaymentStatus Status {status!r}")
    reason = _text(body.get("RejectionReasonDescription")) if target is Status.REJECTED else None
    return PAYMENT_STATUS, target, reason


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise InvalidEvent("Amount is not a number") from exc


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value)[:500] if value else None


@dataclass
class WebhookProcessor:
    ledger: PayoutLedger
    transactions: TransactionStore
    metrics: m.MetricSink

    def apply(self, event: Event) -> Result:
        at = clock.iso(clock.now())
        fields: dict[str, Any] = {}
        if event.monoova_transaction_id:
            fields["monoova_transaction_id"] = event.monoova_transaction_id
        if event.reason:
            fields["status_reason"] = event.reason
        if event.target in FINAL or event.target is Status.COMPLETED:
            fields["finalised_at"] = at
        move = Transition(
            event.unique_reference,
            event.target,
            at,
            f"webhook:{event.kind}",
            fields,
            expected_amount=event.amount,
        )
        marker = {"kind": "webhook", "expiration": int(clock.epoch()) + _DEDUPE_TTL_SECONDS}
        try:
            self.ledger.apply_webhook(webhook_key(event.dedupe_id), marker, move)
        except AlreadyApplied:
            return Result.DUPLICATE
        except ConditionFailed as refused:
            return self._why_not(refused.current, event)
        self._count(event)
        return Result.APPLIED

    def _why_not(self, current: dict[str, Any] | None, event: Event) -> Result:
        """The payout's condition was false: it does not exist, differs, or has moved on."""
        if current is None:
            current = self.transactions.get(event.unique_reference)
        if current is None:
            return Result.UNKNOWN_REFERENCE
        if event.amount is not None and Decimal(current["amount"]) != event.amount:
            return Result.AMOUNT_MISMATCH
        return Result.STALE

    def _count(self, event: Event) -> None:
        self.metrics.add_metric(m.FINAL_METRIC[event.target.value], "Count", 1)
