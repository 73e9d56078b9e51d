"""A loan account as the portal and the payment rules read it (PostgreSQL is its master)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CENTS = Decimal("0.01")
# Loans in these states take no payment (and show as such).
CLOSED_STATUSES = frozenset({"CLOSED", "FORECLOSED", "WRITTEN_OFF"})


@dataclass(frozen=True)
class Loan:
    loan_account_number: str
    customer_id: str | None
    # The full name and the registered mobile: PII, masked or compared, never logged.
    customer_name: str
    mobile_number: str | None  # the last 10 digits of what is registered
    loan_type: str
    outstanding_balance: Decimal
    emi: Decimal | None
    next_due_date: date | None
    overdue_amount: Decimal
    status: str
    branch_code: str | None

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def portal_view(self) -> dict[str, object]:
        """GET /api/v1/customer/loans/{n} (models.portal.LOAN_RESPONSE): the name masked,
        amounts as decimal strings (shared.jsonutil writes Decimals so)."""
        return {
            "loan_account_number": self.loan_account_number,
            "customer_name": mask_name(self.customer_name),
            "loan_type": self.loan_type,
            "outstanding": self.outstanding_balance.quantize(CENTS),
            "emi": None if self.emi is None else self.emi.quantize(CENTS),
            "next_due_date": None if self.next_due_date is None else self.next_due_date.isoformat(),
            "overdue_amount": self.overdue_amount.quantize(CENTS),
            "status": self.status,
        }


def mask_name(full_name: str) -> str:
    """Each word's first letter, the rest starred: "Ravi Kumar" -> "R*** K****"."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in full_name.split())


def mask_mobile(mobile: str) -> str:
    """Only the last four digits show: "9876543210" -> "******3210"."""
    return "*" * (len(mobile) - 4) + mobile[-4:]
