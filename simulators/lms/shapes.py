"""The LMS contract's shapes (docs/lms-api.yml): its errors, amounts, timestamps, and the
checks of what a caller sends (400 ``VALIDATION_FAILED`` when a body or query breaks them).

Amounts are Decimal inside the simulator and two-decimal strings on the wire; timestamps are
aware datetimes inside and RFC 3339 UTC with microseconds (``2026-12-03T10:15:00.000000Z``) on
the wire, so they sort as they compare (:mod:`simulators.common.timestamps`, re-exported here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.common.timestamps import parse_date, parse_timestamp, stamp

__all__ = [
    "LmsApiError",
    "ReceiptRequest",
    "amount_text",
    "cancellation_reason",
    "parse_amount",
    "parse_date",
    "parse_timestamp",
    "receipt_request",
    "stamp",
]

CENTS = Decimal("0.01")
REFERENCE = re.compile(r"[A-Z0-9]{2,20}/[0-9]{4}-[0-9]{2}/[0-9]{6,}")
LOAN_ACCOUNT_NUMBER = re.compile(r"[A-Z0-9]{6,20}")
BRANCH_CODE = re.compile(r"[A-Z0-9]{2,20}")
RECEIPT_ID = re.compile(r"LMSR[0-9]{10}")
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,12})\.[0-9]{2}")
CHANNELS = frozenset({"PORTAL", "BRANCH", "FIELD", "UPI_AUTOPAY", "NACH"})
PAYMENT_MODES = frozenset(
    {
        "UPI",
        "CARD",
        "NETBANKING",
        "WALLET",
        "EMI",
        "CASH",
        "CHEQUE",
        "DEMAND_DRAFT",
        "NACH",
        "OTHER",
    }
)
EMI = "EMI"  # the only purpose applied to the loan's outstanding
PURPOSES = frozenset({EMI, "LEGAL_FEE", "OTHER_FEE", "CHALLAN"})
INSTRUMENT_MODES = frozenset({"CHEQUE", "DEMAND_DRAFT"})
INSTRUMENT_NUMBER = re.compile(r"[0-9]{6,20}")
LOAN_STATUSES = frozenset({"ACTIVE", "NPA", "CLOSED", "FORECLOSED", "WRITTEN_OFF"})
REASON_MAX = 200
EXTERNAL_REFERENCE_MAX = 64
_RECEIPT_FIELDS = frozenset(
    {
        "reference",
        "loan_account_number",
        "amount",
        "currency",
        "received_at",
        "channel",
        "payment_mode",
        "branch_code",
        "external_reference",
        "purpose",
        "instrument_number",
    }
)
_OPTIONAL_FIELDS = frozenset({"external_reference", "purpose", "instrument_number"})


class LmsApiError(Exception):
    """An error answer: ``{"error": {"code", "message"}}`` with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(message: str) -> LmsApiError:
    return LmsApiError(400, "VALIDATION_FAILED", message)


def amount_text(amount: Decimal) -> str:
    return format(amount.quantize(CENTS), "f")


def parse_amount(value: Any, name: str) -> Decimal:
    """A contract amount ("2500.00"): ValueError otherwise."""
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        raise ValueError(f"{name} must be a decimal string with two decimals, like 2500.00")
    return Decimal(value)


@dataclass(frozen=True)
class ReceiptRequest:
    reference: str
    loan_account_number: str
    amount: Decimal
    received_at: str
    channel: str
    payment_mode: str
    branch_code: str
    external_reference: str | None
    purpose: str = EMI
    instrument_number: str | None = None

    @property
    def applies_to_loan(self) -> bool:
        """Only an instalment changes the loan; a fee or challan is recorded against it."""
        return self.purpose == EMI


def _pattern(body: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise invalid(f"{name} must match {pattern.pattern}")
    return value


def _one_of(body: dict[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or value not in allowed:
        raise invalid(f"{name} must be one of {sorted(allowed)}")
    return value


def receipt_request(body: Any) -> ReceiptRequest:
    """A ``POST /api/v1/receipts`` body as the contract's ReceiptRequest allows it."""
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    unknown = sorted(set(body) - _RECEIPT_FIELDS)
    if unknown:
        raise invalid(f"unknown fields: {', '.join(unknown)}")
    missing = sorted((_RECEIPT_FIELDS - _OPTIONAL_FIELDS) - set(body))
    if missing:
        raise invalid(f"missing fields: {', '.join(missing)}")
    try:
        amount = parse_amount(body["amount"], "amount")
        parse_timestamp(body["received_at"], "received_at")
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if amount <= 0:
        raise invalid("amount must be more than 0.00")
    _one_of(body, "currency", frozenset({"INR"}))
    external = body.get("external_reference")
    if external is not None and (
        not isinstance(external, str) or len(external) > EXTERNAL_REFERENCE_MAX
    ):
        raise invalid(f"external_reference must be text of at most {EXTERNAL_REFERENCE_MAX}")
    payment_mode = _one_of(body, "payment_mode", PAYMENT_MODES)
    return ReceiptRequest(
        reference=_pattern(body, "reference", REFERENCE),
        loan_account_number=_pattern(body, "loan_account_number", LOAN_ACCOUNT_NUMBER),
        amount=amount,
        received_at=body["received_at"],
        channel=_one_of(body, "channel", CHANNELS),
        payment_mode=payment_mode,
        branch_code=_pattern(body, "branch_code", BRANCH_CODE),
        external_reference=external,
        purpose=_one_of(body, "purpose", PURPOSES) if "purpose" in body else EMI,
        instrument_number=_instrument_number(body.get("instrument_number"), payment_mode),
    )


def _instrument_number(value: Any, payment_mode: str) -> str | None:
    if value is None:
        return None
    if payment_mode not in INSTRUMENT_MODES:
        raise invalid("instrument_number is for payment_mode CHEQUE or DEMAND_DRAFT only")
    if not isinstance(value, str) or not INSTRUMENT_NUMBER.fullmatch(value):
        raise invalid(f"instrument_number must match {INSTRUMENT_NUMBER.pattern}")
    return value


def cancellation_reason(body: Any) -> str:
    """A ``POST .../cancellation`` body: ``{"reason"}`` and nothing else."""
    if not isinstance(body, dict) or set(body) != {"reason"}:
        raise invalid('the body must be {"reason": text}')
    reason = body["reason"]
    if not isinstance(reason, str) or not 1 <= len(reason) <= REASON_MAX:
        raise invalid(f"reason must be 1 to {REASON_MAX} characters")
    return reason
