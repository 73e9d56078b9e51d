"""Staff collections: the request shapes (declared once, engine.models.shapes), the ledger's
record, and the answer's view of it.

A collection is money a field officer or a branch cashier took for a loan: cash, a cheque or
a demand draft, for an EMI, a legal fee, another fee or a challan. `payer` names a third
party who paid (default: the borrower); the cash limit (s.269ST) is counted per payer. The
view never carries the payer's mobile (nor the payer key, which holds it).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.models.errors import InvalidRequest, issue
from engine.models.payment import Payment
from engine.models.portal import LOAN, MOBILE
from engine.models.shapes import Amount, Field, Shape, Text, anchored
from engine.models.status import PaymentStatus
from shared import clock

MODES = ("CASH", "CHEQUE", "DEMAND_DRAFT")
PURPOSES = ("EMI", "LEGAL_FEE", "OTHER_FEE", "CHALLAN")
CAPTURED = "CAPTURED"
CANCELLED = "CANCELLED"
STATUSES = (CAPTURED, CANCELLED)
CASH = "CASH"
EMI = "EMI"
LIST_LIMIT_MAX = 100
# What the portal takes as an Idempotency-Key, taken here too.
IDEMPOTENCY_KEY = r"[A-Za-z0-9_-]{8,128}"
COLLECTION_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BRANCH_CODE = r"[A-Z0-9]{2,20}"
_INSTANT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_PRINTABLE = r"[^\x00-\x1f\x7f]"


# --- Kinds beyond engine.models.shapes' Text and Amount (its `Kind` protocol): each model
# states only what its parser checks too, so the gateway never refuses what the parser takes.


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]
    description: str = ""
    example: str | None = None

    def model(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}

    def parse(self, value: Any) -> str:
        if value not in self.values:
            raise ValueError(f"one of {', '.join(self.values)}")
        return str(value)


@dataclass(frozen=True)
class Instant:
    """An ISO-8601 date and time with its UTC offset, parsed to an aware datetime."""

    description: str = "ISO-8601 with an offset, e.g. 2026-12-03T11:40:00+05:30"
    example: str | None = "2026-12-03T11:40:00+05:30"

    def model(self) -> dict[str, Any]:
        return {"type": "string", "pattern": anchored(_INSTANT)}

    def parse(self, value: Any) -> datetime:
        if not isinstance(value, str) or not re.fullmatch(_INSTANT, value):
            raise ValueError(self.description)
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not a real date and time") from None


@dataclass(frozen=True)
class Day:
    description: str = "a date, YYYY-MM-DD"
    example: str | None = "2026-12-03"

    def model(self) -> dict[str, Any]:
        return {"type": "string", "pattern": anchored(_DAY)}

    def parse(self, value: Any) -> date:
        return parse_day(value)


@dataclass(frozen=True)
class Nested:
    """A JSON object of its own shape's fields; its problems are named inside the field."""

    shape: Shape[Any]
    description: str = ""
    example: str | None = None

    def model(self) -> dict[str, Any]:
        fields = self.shape.fields
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [f.name for f in fields if f.required],
            "properties": {f.name: f.kind.model() for f in fields},
        }

    def parse(self, value: Any) -> Any:
        try:
            return self.shape.parse_document(value)
        except InvalidRequest as refused:
            raise ValueError(
                "; ".join(f"{d['field']}: {d['issue']}" for d in refused.details)
            ) from None


def parse_day(value: Any) -> date:
    if not isinstance(value, str) or not re.fullmatch(_DAY, value):
        raise ValueError("a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a real date") from None


# --- Requests


@dataclass(frozen=True)
class Instrument:
    number: str
    bank_name: str
    instrument_date: date

    def plain(self) -> dict[str, str]:
        return {
            "number": self.number,
            "bank_name": self.bank_name,
            "instrument_date": self.instrument_date.isoformat(),
        }


@dataclass(frozen=True)
class Payer:
    """A third party who paid for the borrower. Both fields are PII: never logged."""

    name: str
    mobile: str  # 10 digits


@dataclass(frozen=True)
class CollectRequest:
    loan_account_number: str
    amount: Decimal
    mode: str
    purpose: str
    collected_at: datetime
    instrument: Instrument | None = None
    payer: Payer | None = None

    def fingerprint(self) -> str:
        """What makes a retry "the same request": every field, in canonical form (100 and
        "100.00" are one amount; an offset and its UTC instant one time)."""
        values = {
            "loan_account_number": self.loan_account_number,
            "amount": f"{self.amount:.2f}",
            "mode": self.mode,
            "purpose": self.purpose,
            "collected_at": self.collected_at.timestamp(),
            "instrument": self.instrument.plain() if self.instrument else None,
            "payer": [self.payer.name, self.payer.mobile] if self.payer else None,
        }
        return sha256(json.dumps(values, sort_keys=True, separators=(",", ":")))


@dataclass(frozen=True)
class CancelRequest:
    reason: str


def _collect(**values: Any) -> CollectRequest:
    request = CollectRequest(**values)
    if request.mode == CASH and request.instrument is not None:
        raise _refused("instrument", "not taken for cash")
    if request.mode != CASH and request.instrument is None:
        raise _refused("instrument", "required for a cheque or a demand draft")
    return request


def _cancel(reason: str) -> CancelRequest:
    if not reason.strip():
        raise _refused("reason", "must say why")
    return CancelRequest(reason.strip())


def _refused(name: str, text: str) -> InvalidRequest:
    return InvalidRequest("the request is not valid", [issue(name, text)])


INSTRUMENT = Shape(
    "Instrument",
    (
        Field("number", Text(r"[0-9]{6,12}", "the cheque or draft number, 6-12 digits", "004512")),
        Field("bank_name", Text(_PRINTABLE + "{2,100}", "2 to 100 characters", "State Bank")),
        Field("instrument_date", Day("the date on the instrument")),
    ),
    Instrument,
)
PAYER = Shape(
    "Payer",
    (
        Field("name", Text(_PRINTABLE + "{2,100}", "the payer's name", "Suresh Kumar")),
        Field("mobile", MOBILE),
    ),
    Payer,
)
COLLECT = Shape(
    "CollectRequest",
    (
        Field("loan_account_number", LOAN),
        # numeric(12,2): below 10^10 rupees.
        Field("amount", Amount(integer_digits=10)),
        Field("mode", Choice(MODES, "how it was paid", "CASH")),
        Field("purpose", Choice(PURPOSES, "what it pays", "EMI")),
        Field("collected_at", Instant()),
        Field("instrument", Nested(INSTRUMENT, "a cheque's or draft's details"), required=False),
        Field("payer", Nested(PAYER, "who paid, when not the borrower"), required=False),
    ),
    _collect,
    description="A collection: amount as a JSON number or a decimal string (at most 2 "
    "decimals); instrument for a cheque or a demand draft only; payer when a third party "
    "paid (the cash limit is per payer per day).",
)
CANCEL = Shape(
    "CancelCollectionRequest",
    (Field("reason", Text(_PRINTABLE + "{1,500}", "why the receipt is wrong (1-500)", "typo")),),
    _cancel,
    description="Why the receipt is cancelled (kept on the collection and in the audit trail).",
)
REQUESTS: tuple[Shape[Any], ...] = (COLLECT, CANCEL)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- The ledger's record


@dataclass(frozen=True)
class NewCollection:
    """What a collection is written with; the ledger adds its business date."""

    transaction_id: str
    branch_code: str  # the collector's
    loan_account_number: str
    customer_id: str | None
    amount: Decimal
    mode: str
    instrument: dict[str, str] | None
    purpose: str
    channel: str
    payer_key: str
    payer_name: str | None
    collected_at: datetime
    collected_on: date  # IST
    created_by: str
    idempotency_key_hash: str
    request_hash: str


@dataclass(frozen=True)
class Collection:
    collection_id: str
    transaction_id: str
    receipt_number: str
    branch_code: str
    business_date: date
    loan_account_number: str
    customer_id: str | None
    amount: Decimal
    mode: str
    instrument: dict[str, str] | None
    purpose: str
    channel: str
    payer_key: str
    payer_name: str | None
    collected_at: datetime
    collected_on: date
    created_by: str
    created_by_username: str
    idempotency_key_hash: str
    request_hash: str
    status: str
    created_at: datetime
    recorded_at: datetime | None = None
    cancelled_by: str | None = None
    cancelled_by_username: str | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    cancel_recorded_at: datetime | None = None

    @property
    def is_cancelled(self) -> bool:
        return self.status == CANCELLED

    def view(self) -> dict[str, Any]:
        """The API's answer: everything staff need, never the payer's mobile."""
        return {
            "collection_id": self.collection_id,
            "transaction_id": self.transaction_id,
            "receipt_number": self.receipt_number,
            "status": self.status,
            "branch_code": self.branch_code,
            "business_date": self.business_date.isoformat(),
            "loan_account_number": self.loan_account_number,
            "amount": self.amount,
            "currency": "INR",
            "mode": self.mode,
            "instrument": self.instrument,
            "purpose": self.purpose,
            "channel": self.channel,
            "payer": {
                "type": "BORROWER" if self.payer_key.startswith("customer:") else "THIRD_PARTY",
                "name": self.payer_name,
            },
            "collected_at": clock.iso(self.collected_at),
            "created_by": self.created_by,
            "created_at": clock.iso(self.created_at),
            "recorded": self.recorded_at is not None,
            "cancelled_by": self.cancelled_by,
            "cancelled_at": clock.iso(self.cancelled_at) if self.cancelled_at else None,
            "cancellation_reason": self.cancellation_reason,
        }

    def payment(self) -> Payment:
        """The collection as its Transactions item holds it: captured when collected."""
        created = clock.iso(self.created_at)
        return Payment(
            transaction_id=self.transaction_id,
            loan_account_number=self.loan_account_number,
            branch_code=self.branch_code,
            customer_id=self.customer_id or "",
            amount=self.amount,
            status=PaymentStatus.CAPTURED,
            created_date=created,
            updated_at=created,
            idempotency_key_hash=self.idempotency_key_hash,
            channel=self.channel,
            payment_method=self.mode.lower(),
            receipt_number=self.receipt_number,
            captured_at=clock.iso(self.collected_at),
        )
