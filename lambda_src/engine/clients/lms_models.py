"""What crosses the LMS client (docs/lms-api.yml): the receipt we post, and the receipts and
loans the LMS answers, with amounts as Decimal rupees and two-decimal strings on the wire.

A `ReceiptPost` refuses a bad amount (a float, a fraction of a paisa, nothing to post), a
channel, mode or purpose the contract does not list, with ValueError when it is made, so such
a receipt never reaches the LMS. An answer that does not follow the contract raises
`Malformed`, which the client turns into "no usable answer".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared import clock

__all__ = [
    "CHANNELS",
    "EMI",
    "PAYMENT_MODES",
    "PURPOSES",
    "LmsCredentials",
    "LmsLoan",
    "LmsReceipt",
    "LoanPage",
    "Malformed",
    "PostedReceipt",
    "ReceiptPost",
    "checked_watermark",
    "payment_mode_for",
    "wire_amount",
]

CURRENCY = "INR"
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
# What a receipt pays: only EMI is applied to the loan's outstanding at the LMS.
EMI = "EMI"
PURPOSES = frozenset({EMI, "LEGAL_FEE", "OTHER_FEE", "CHALLAN"})
STAFF_CHANNELS = frozenset({"BRANCH", "FIELD"})
_INSTRUMENT_MODES = frozenset({"CHEQUE", "DEMAND_DRAFT"})
_INSTRUMENT_NUMBER = re.compile(r"[0-9]{6,20}")
CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
AMOUNT_MAX = Decimal("9999999999999.99")  # the contract's 13 integer digits
_RAZORPAY_METHODS = {
    "upi": "UPI",
    "card": "CARD",
    "netbanking": "NETBANKING",
    "wallet": "WALLET",
    "emi": "EMI",
    "cardless_emi": "EMI",
    "emandate": "NACH",
    "nach": "NACH",
}
# A staff collection's mode, as its outbox item carries it (engine.models.collections MODES).
_STAFF_MODES = {"cash": "CASH", "cheque": "CHEQUE", "demand_draft": "DEMAND_DRAFT"}
_AMOUNT_TEXT = re.compile(r"(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:Z|[+-]\d{2}:\d{2})")


class Malformed(ValueError):
    """An LMS answer that does not follow the contract."""


def payment_mode_for(method: str | None, channel: str = "PORTAL") -> str:
    """The contract's payment_mode for a payment's method on its channel.

    Online (PORTAL and the rest), a RazorPay method; OTHER for the rest (paylater,
    bank_transfer, an unknown or missing method). On a staff channel (BRANCH, FIELD), cash,
    cheque or demand_draft; anything else is ValueError: staff take only those, so another
    is a fault to look at, not money to post as OTHER.
    """
    key = (method or "").strip().lower()
    if channel not in STAFF_CHANNELS:
        return _RAZORPAY_METHODS.get(key, "OTHER")
    if key not in _STAFF_MODES:
        raise ValueError(f"a {channel} collection's mode is cash, cheque or demand_draft")
    return _STAFF_MODES[key]


def checked_watermark(watermark: str) -> str:
    """An RFC 3339 date-time with a zone (an `updated_at` the LMS gave); ValueError if not."""
    match = _RFC3339.fullmatch(watermark) if isinstance(watermark, str) else None
    if match is None:
        raise ValueError("a watermark is an RFC 3339 date-time with a zone")
    fraction = match.group(1)
    trimmed = watermark.replace(f".{fraction}", f".{fraction[:6]}") if fraction else watermark
    try:
        clock.parse_iso(trimmed)
    except ValueError:
        raise ValueError("a watermark is an RFC 3339 date-time with a zone") from None
    return watermark


def wire_amount(amount: Decimal) -> str:
    """A positive Decimal of at most two decimals as the contract's text ("2500.00")."""
    if isinstance(amount, float) or not isinstance(amount, Decimal):
        raise ValueError("an amount must be a Decimal, never a float")
    if not amount.is_finite() or amount <= 0 or amount > AMOUNT_MAX:
        raise ValueError("an amount must be positive and at most 13 integer digits")
    if amount != amount.quantize(CENTS):
        raise ValueError("amount has more than 2 decimal places")
    return format(amount.quantize(CENTS), "f")


@dataclass(frozen=True)
class LmsCredentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"LmsCredentials(client_id={self.client_id!r}, client_secret=<hidden>)"


@dataclass(frozen=True)
class ReceiptPost:
    reference: str  # our receipt number, BR001/2026-27/000123: the idempotency key
    loan_account_number: str
    amount: Decimal
    currency: str
    received_at: datetime | str  # timezone-aware (or RFC 3339 text with a zone); sent in UTC
    channel: str  # PORTAL | BRANCH | FIELD | UPI_AUTOPAY | NACH
    payment_mode: str  # see payment_mode_for
    branch_code: str
    external_reference: str | None = None  # RazorPay's pay_..., a UTR
    purpose: str = EMI  # EMI | LEGAL_FEE | OTHER_FEE | CHALLAN
    instrument_number: str | None = None  # a cheque's or demand draft's number

    def __post_init__(self) -> None:
        wire_amount(self.amount)
        if self.currency != CURRENCY:
            raise ValueError(f"the LMS takes {CURRENCY} only")
        _received_at(self.received_at)
        if self.channel not in CHANNELS or self.payment_mode not in PAYMENT_MODES:
            raise ValueError("channel or payment_mode is not one the contract lists")
        if self.purpose not in PURPOSES:
            raise ValueError("purpose is not one the contract lists")
        if self.instrument_number is not None and (
            self.payment_mode not in _INSTRUMENT_MODES
            or not isinstance(self.instrument_number, str)
            or not _INSTRUMENT_NUMBER.fullmatch(self.instrument_number)
        ):
            raise ValueError("an instrument number is 6-20 digits, for a cheque or draft only")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reference": self.reference,
            "loan_account_number": self.loan_account_number,
            "amount": wire_amount(self.amount),
            "currency": self.currency,
            "received_at": clock.iso(_received_at(self.received_at)),
            "channel": self.channel,
            "payment_mode": self.payment_mode,
            "branch_code": self.branch_code,
            "purpose": self.purpose,
        }
        if self.external_reference is not None:
            body["external_reference"] = self.external_reference
        if self.instrument_number is not None:
            body["instrument_number"] = self.instrument_number
        return body


@dataclass(frozen=True)
class LmsReceipt:
    receipt_id: str  # LMSR + 10 digits
    reference: str
    loan_account_number: str
    amount: Decimal
    status: str  # POSTED | CANCELLED
    posted_at: str
    cancelled_at: str | None = None
    purpose: str = EMI  # what the LMS recorded it as

    @classmethod
    def parse(cls, body: dict[str, Any]) -> LmsReceipt:
        status = _text(body, "status")
        if status not in {"POSTED", "CANCELLED"}:
            raise Malformed(f"receipt status {status[:20]!r}")
        purpose = _optional_text(body, "purpose") or EMI
        if purpose not in PURPOSES:
            raise Malformed(f"receipt purpose {purpose[:20]!r}")
        return cls(
            receipt_id=_text(body, "receipt_id"),
            reference=_text(body, "reference"),
            loan_account_number=_text(body, "loan_account_number"),
            amount=_amount(body, "amount"),
            status=status,
            posted_at=_text(body, "posted_at"),
            cancelled_at=_optional_text(body, "cancelled_at"),
            purpose=purpose,
        )


@dataclass(frozen=True)
class PostedReceipt:
    receipt: LmsReceipt
    created: bool  # False: the LMS had this reference already (a repeat), nothing changed


@dataclass(frozen=True)
class LmsLoan:
    loan_account_number: str
    status: str  # ACTIVE | NPA | CLOSED | FORECLOSED | WRITTEN_OFF
    outstanding_amount: Decimal
    emi_amount: Decimal
    next_due_date: date | None
    overdue_amount: Decimal
    days_past_due: int
    updated_at: str  # RFC 3339, as the LMS wrote it: the sync's watermark
    recent_receipt_references: tuple[str, ...]
    advance_amount: Decimal = ZERO

    @classmethod
    def parse(cls, body: Any) -> LmsLoan:
        if not isinstance(body, dict):
            raise Malformed("a loan is not an object")
        due = _optional_text(body, "next_due_date")
        references = body.get("recent_receipt_references")
        if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
            raise Malformed("recent_receipt_references is not a list of references")
        days = body.get("days_past_due")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise Malformed("days_past_due is not a non-negative integer")
        try:
            next_due = date.fromisoformat(due) if due is not None else None
        except ValueError:
            raise Malformed("next_due_date is not a date") from None
        return cls(
            loan_account_number=_text(body, "loan_account_number"),
            status=_text(body, "status"),
            outstanding_amount=_amount(body, "outstanding_amount"),
            emi_amount=_amount(body, "emi_amount"),
            next_due_date=next_due,
            overdue_amount=_amount(body, "overdue_amount"),
            days_past_due=days,
            updated_at=_text(body, "updated_at"),
            recent_receipt_references=tuple(references),
            advance_amount=_amount(body, "advance_amount") if "advance_amount" in body else ZERO,
        )


@dataclass(frozen=True)
class LoanPage:
    items: tuple[LmsLoan, ...]
    next_cursor: str | None  # None: the last page


def _received_at(value: datetime | str) -> datetime:
    """The moment in UTC; ValueError for a naive one or text that is not ISO 8601."""
    moment = clock.parse_iso(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError("received_at must be a timezone-aware moment")
    return moment.astimezone(UTC)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Malformed(f"no {name}")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise Malformed(f"{name} is not text")
    return value


def _amount(body: dict[str, Any], name: str) -> Decimal:
    """A contract amount ("2500.00"; "2500" and "2500.5" are read too) as Decimal."""
    text = body.get(name)
    if not isinstance(text, str) or not _AMOUNT_TEXT.fullmatch(text):
        raise Malformed(f"{name} is not a decimal string")
    try:
        return Decimal(text).quantize(CENTS)
    except InvalidOperation:
        raise Malformed(f"{name} is not a decimal string") from None
