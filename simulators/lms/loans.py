"""The LMS's loans as the simulator keeps them, and as the contract's Loan shows them.

``merged_loan`` builds one from contract-shaped fields (amounts as "0.00" strings or Decimal)
over an existing loan or the defaults, and raises ValueError for anything the contract would
not hold; ``updated_at`` is always the caller's to set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.lms.shapes import (
    CENTS,
    LOAN_ACCOUNT_NUMBER,
    LOAN_STATUSES,
    REFERENCE,
    amount_text,
    parse_amount,
    parse_date,
    stamp,
)

__all__ = ["RECENT_DAYS", "ZERO", "Loan", "PageKey", "merged_loan"]

ZERO = Decimal("0.00")
RECENT_DAYS = 35
_AMOUNTS = ("outstanding_amount", "emi_amount", "overdue_amount", "advance_amount")
_LOAN_FIELDS = frozenset(
    {
        *_AMOUNTS,
        "loan_account_number",
        "status",
        "next_due_date",
        "days_past_due",
        "updated_at",
        "recent_receipt_references",
    }
)
PageKey = tuple[datetime, str]


@dataclass
class Loan:
    loan_account_number: str
    status: str = "ACTIVE"
    outstanding_amount: Decimal = ZERO
    emi_amount: Decimal = ZERO
    next_due_date: date | None = None
    overdue_amount: Decimal = ZERO
    days_past_due: int = 0
    advance_amount: Decimal = ZERO
    updated_at: datetime | None = None
    recent: list[tuple[str, datetime]] = field(default_factory=list)  # newest first

    def view(self, now: datetime) -> dict[str, Any]:
        """The contract's Loan."""
        since = now - timedelta(days=RECENT_DAYS)
        assert self.updated_at is not None
        return {
            "loan_account_number": self.loan_account_number,
            "status": self.status,
            "outstanding_amount": amount_text(self.outstanding_amount),
            "emi_amount": amount_text(self.emi_amount),
            "next_due_date": self.next_due_date.isoformat() if self.next_due_date else None,
            "overdue_amount": amount_text(self.overdue_amount),
            "days_past_due": self.days_past_due,
            "advance_amount": amount_text(self.advance_amount),
            "updated_at": stamp(self.updated_at),
            "recent_receipt_references": [ref for ref, at in self.recent if at >= since],
        }

    def key(self) -> PageKey:
        assert self.updated_at is not None
        return (self.updated_at, self.loan_account_number)


def _amount(value: Any, name: str) -> Decimal:
    """A contract amount string, or (from Python, or a JSON number) a Decimal or int with at
    most two decimals; never rounded."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        exact = Decimal(value)
        try:
            whole_cents = exact.is_finite() and exact == exact.quantize(CENTS)
        except InvalidOperation:
            whole_cents = False
        if not whole_cents:
            raise ValueError(f"{name} must have at most two decimals")
        value = amount_text(exact)
    return parse_amount(value, name)


def merged_loan(fields: Mapping[str, Any], base: Loan | None, at: datetime) -> Loan:
    """A loan from contract-shaped fields over ``base`` (or the defaults); ValueError if bad.
    ``updated_at`` is not read here: the caller sets it."""
    if not isinstance(fields, Mapping):
        raise TypeError("a loan is a JSON object")
    number = fields.get("loan_account_number")
    if not isinstance(number, str) or not LOAN_ACCOUNT_NUMBER.fullmatch(number):
        raise ValueError(f"loan_account_number must match {LOAN_ACCOUNT_NUMBER.pattern}")
    unknown = sorted(set(fields) - _LOAN_FIELDS)
    if unknown:
        raise ValueError(f"unknown loan fields: {unknown}")
    loan = replace(base) if base else Loan(number)
    loan.recent = list(loan.recent)
    for name in _AMOUNTS:
        if name in fields:
            setattr(loan, name, _amount(fields[name], name))
    if "status" in fields:
        if fields["status"] not in LOAN_STATUSES:
            raise ValueError(f"status must be one of {sorted(LOAN_STATUSES)}")
        loan.status = fields["status"]
    if "next_due_date" in fields:
        loan.next_due_date = parse_date(fields["next_due_date"], "next_due_date")
    if "days_past_due" in fields:
        days = fields["days_past_due"]
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError("days_past_due must be a non-negative integer")
        loan.days_past_due = days
    if "recent_receipt_references" in fields:
        references = fields["recent_receipt_references"]
        if not isinstance(references, list) or not all(
            isinstance(r, str) and REFERENCE.fullmatch(r) for r in references
        ):
            raise ValueError("recent_receipt_references must be a list of references")
        loan.recent = [(ref, at) for ref in references]
    return loan
