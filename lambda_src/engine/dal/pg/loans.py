"""Loan accounts in PostgreSQL: read by account number, with the customer, in one query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.dal.pg.db import Cursor, Database
from engine.models.loan import Loan

_BY_NUMBER = """
SELECT l.loan_account_number, c.customer_id::text, c.full_name, c.mobile_number,
       l.loan_type, l.outstanding_balance, l.emi_amount, l.next_due_date,
       l.overdue_amount, l.loan_status, l.branch_code
FROM loan_accounts l
LEFT JOIN customers c ON c.customer_id = l.customer_id
WHERE l.loan_account_number = %s
"""


class LoanStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def loan_by_number(self, loan_account_number: str) -> Loan | None:
        return self._db.run(lambda cur: fetch_loan(cur, loan_account_number))


def fetch_loan(cur: Cursor, loan_account_number: str) -> Loan | None:
    """The loan, inside a caller's unit of work (one round trip)."""
    row = cur.execute(_BY_NUMBER, (loan_account_number,)).fetchone()
    return None if row is None else _loan(row)


def _loan(row: tuple[Any, ...]) -> Loan:
    number, customer_id, name, mobile, loan_type, outstanding, emi, due, overdue, status, branch = (
        row
    )
    return Loan(
        loan_account_number=number,
        customer_id=customer_id,
        customer_name=name or "",
        mobile_number=_last_ten(mobile),
        loan_type=loan_type,
        outstanding_balance=Decimal(outstanding or 0),
        emi=None if emi is None else Decimal(emi),
        next_due_date=due,
        overdue_amount=Decimal(overdue or 0),
        status=status,
        branch_code=branch,
    )


def _last_ten(mobile: str | None) -> str | None:
    """Registered as 10 digits, +91 and 10, or 91 and 10: compared as the last ten."""
    if not mobile:
        return None
    digits = mobile.lstrip("+")
    return digits[-10:] if len(digits) >= 10 else None
