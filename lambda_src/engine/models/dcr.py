"""The daily collection reconciliation (DCR) and its denomination count (DBS): request shapes,
the record, and the API's view of it.

A DCR's totals come from the day's collections (engine.dal.pg.dcr sums them; nothing is
typed in). The DBS counts banknotes by denomination, plus coins as one amount in whole
rupees (kept as denomination 1 in dbs_entries). Amounts are Decimal, answered as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.models.errors import InvalidRequest, issue
from engine.models.lms_admin import REASON
from engine.models.shapes import Field, Shape
from engine.models.status import DcrStatus
from shared import clock

NOTES = (500, 200, 100, 50, 20, 10)  # the banknotes a branch counts, in rupees
COINS = 1  # dbs_entries' denomination for the coins' total
MAX_NOTES = 100_000  # per denomination: ₹5 crore in ₹500s, within dbs_entries' numeric(10,2)
MAX_COINS = 1_000_000  # rupees
MAX_RANGE_DAYS = 31  # a listing's from..to
BRANCH_CODE = re.compile(r"[A-Z0-9]{2,20}")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class UnknownBranch(LookupError):
    """No branch has this code."""


@dataclass(frozen=True)
class Count:
    """A whole number from 0 to `maximum`, written as a JSON integer: 5, never 5.0 or "5"
    (a draft-04 "integer" is exactly what Python's json reads as an int)."""

    maximum: int
    description: str
    example: int | None = None

    def model(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": self.maximum}

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not 0 <= value <= self.maximum:
            raise ValueError(f"must be from 0 to {self.maximum}")
        return value


@dataclass(frozen=True)
class NoteCounts:
    """How many of each banknote: an object keyed by denomination; one left out is none."""

    per_note: Count
    description: str = "banknotes counted, by denomination (500, 200, 100, 50, 20, 10)"
    example: dict[str, int] | None = None

    def model(self) -> dict[str, Any]:
        properties = {str(note): self.per_note.model() for note in NOTES}
        return {"type": "object", "additionalProperties": False, "properties": properties}

    def parse(self, value: Any) -> dict[int, int]:
        if not isinstance(value, dict):
            raise ValueError("must be an object of counts by denomination")
        unknown = sorted(set(value) - {str(note) for note in NOTES})
        if unknown:
            raise ValueError(f"{unknown[0]} is not a banknote counted here")
        counts = {}
        for note in NOTES:
            try:
                counts[note] = self.per_note.parse(value.get(str(note), 0))
            except ValueError as exc:
                raise ValueError(f"{note}: {exc}") from None
        return counts


@dataclass(frozen=True)
class DbsCount:
    """A DBS: every note's count and the coins in rupees."""

    notes: dict[int, int]
    coins: int

    @property
    def counted(self) -> Decimal:
        cash = sum(note * count for note, count in self.notes.items()) + self.coins
        return Decimal(cash).quantize(CENT)

    def entries(self) -> list[tuple[Decimal, int, Decimal]]:
        """dbs_entries rows: (denomination, count, total_value), coins as denomination 1."""
        counts = [(n, self.notes.get(n, 0)) for n in NOTES] + [(COINS, self.coins)]
        return [(Decimal(n), count, Decimal(n * count)) for n, count in counts]

    @classmethod
    def from_entries(cls, entries: dict[int, int]) -> DbsCount:
        return cls({n: entries.get(n, 0) for n in NOTES}, entries.get(COINS, 0))

    def view(self) -> dict[str, Any]:
        return {
            "denominations": {str(n): self.notes.get(n, 0) for n in NOTES},
            "coins": Decimal(self.coins).quantize(CENT),
        }


@dataclass(frozen=True)
class SubmitDcrRequest:
    denominations: dict[int, int]
    coins: int
    variance_reason: str | None = None

    @property
    def count(self) -> DbsCount:
        return DbsCount(dict(self.denominations), self.coins)


@dataclass(frozen=True)
class RejectDcrRequest:
    reason: str


SUBMIT_DCR = Shape(
    "SubmitDcrRequest",
    (
        Field(
            "denominations",
            NoteCounts(
                Count(MAX_NOTES, "notes of this denomination"),
                example={"500": 20, "200": 10, "100": 3, "20": 2},
            ),
        ),
        Field("coins", Count(MAX_COINS, "coins counted, in whole rupees", 35)),
        Field(
            "variance_reason",
            replace(REASON, example="₹100 short: change given to a payer"),
            required=False,
        ),
    ),
    SubmitDcrRequest,
    description="The cashier's count of the day's cash. When it differs from the cash "
    "collected, variance_reason says why.",
)
REJECT_DCR = Shape(
    "RejectDcrRequest",
    (Field("reason", replace(REASON, example="Recount the ₹500 notes")),),
    RejectDcrRequest,
    description="Why the checker sends the DCR back (kept on the DCR and in the audit trail).",
)
REQUESTS = (SUBMIT_DCR, REJECT_DCR)


@dataclass(frozen=True)
class Totals:
    """A day's collections not cancelled, summed by business date (engine.dal.pg.dcr):
    EMIs by channel, each fee purpose, and the same money again by mode. The cash is what the
    DBS must count: the closing balance (no opening balance or bank deposit is kept yet)."""

    field_collections: Decimal = ZERO  # EMI, channel FIELD
    branch_collections: Decimal = ZERO  # EMI, channel BRANCH
    legal_fees: Decimal = ZERO
    other_fees: Decimal = ZERO
    challans: Decimal = ZERO
    cash_collected: Decimal = ZERO  # mode CASH
    cheque_collected: Decimal = ZERO  # modes CHEQUE and DEMAND_DRAFT

    @property
    def closing_balance(self) -> Decimal:
        return self.cash_collected

    def view(self) -> dict[str, Decimal]:
        return {
            "field_collections": self.field_collections,
            "branch_collections": self.branch_collections,
            "legal_fees": self.legal_fees,
            "other_fees": self.other_fees,
            "challans": self.challans,
            "closing_balance": self.closing_balance,
            "cash_collected": self.cash_collected,
            "cheque_collected": self.cheque_collected,
        }


@dataclass(frozen=True)
class DcrKey:
    branch_code: str
    collection_date: date


@dataclass(frozen=True)
class Dcr:
    """A dcr_sessions row (with its DBS); `dcr_id` None is a day without a row yet: DRAFT.

    `totals` and `count` are the submission's (zero and None on a DRAFT); the live totals
    travel beside the record (`Snapshot`)."""

    key: DcrKey
    status: DcrStatus = DcrStatus.DRAFT
    dcr_id: str | None = None
    version: int = 0
    totals: Totals = field(default_factory=Totals)
    count: DbsCount | None = None
    variance_amount: Decimal | None = None
    variance_reason: str | None = None
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    rejected_by: str | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    reopened_by: str | None = None
    reopened_at: datetime | None = None
    audit_owed_at: datetime | None = None  # set by a step until its audit record is appended

    @property
    def counted_cash(self) -> Decimal | None:
        return None if self.count is None else self.count.counted


@dataclass(frozen=True)
class Snapshot:
    """A DCR and its day's totals as the collections stand now."""

    dcr: Dcr
    live: Totals


def dcr_view(snapshot: Snapshot) -> dict[str, Any]:
    dcr = snapshot.dcr
    return {
        "dcr_id": dcr.dcr_id,
        "branch_code": dcr.key.branch_code,
        "collection_date": dcr.key.collection_date.isoformat(),
        "status": dcr.status.value,
        "version": dcr.version,
        "totals": snapshot.live.view(),
        "submission": _submission(dcr),
        "approval": _by(dcr.approved_by, dcr.approved_at),
        "rejection": _rejection(dcr),
        "reopened": _by(dcr.reopened_by, dcr.reopened_at),
    }


def _submission(dcr: Dcr) -> dict[str, Any] | None:
    if dcr.count is None or dcr.submitted_at is None:
        return None
    return {
        "totals": dcr.totals.view(),
        "dbs": dcr.count.view(),
        "counted_cash": dcr.count.counted,
        "variance_amount": dcr.variance_amount,
        "variance_reason": dcr.variance_reason,
        "submitted_by": dcr.submitted_by,
        "submitted_at": clock.iso(dcr.submitted_at),
    }


def _rejection(dcr: Dcr) -> dict[str, Any] | None:
    by = _by(dcr.rejected_by, dcr.rejected_at)
    return None if by is None else {**by, "reason": dcr.rejection_reason}


def _by(user_id: str | None, at: datetime | None) -> dict[str, Any] | None:
    return None if user_id is None or at is None else {"by": user_id, "at": clock.iso(at)}


def parse_key(branch_code: str, collection_date: str) -> DcrKey:
    """The path's branch and date, or 400."""
    problems = []
    if not BRANCH_CODE.fullmatch(branch_code):
        problems.append(issue("branch_code", "2 to 20 capital letters or digits"))
    day = parse_day(collection_date)
    if day is None:
        problems.append(issue("collection_date", "a date, YYYY-MM-DD"))
    if problems or day is None:
        raise InvalidRequest("the DCR's branch or date is not valid", problems)
    return DcrKey(branch_code, day)


def parse_day(text: str) -> date | None:
    """A calendar date written YYYY-MM-DD (nothing else: no week dates, no times)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
