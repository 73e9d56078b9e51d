"""What PostgreSQL says a loan can take: its state, outstanding, and what the sync applied.

`applied` is the sum, over the loan's payments the Transactions stream has taken into
account, of what each took (off outstanding or into advance): the synced part of everything
ever captured. The Counters table knows everything captured; the difference is what was
captured but is not yet in `outstanding_balance`.

One statement, so outstanding and applied come from one snapshot: read apart, a sync
committing in between could count one payment in neither (and offer it as payable again).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.dal.pg.db import Database
from engine.models.loan import CLOSED_STATUSES

_POSITION = """
SELECT l.loan_account_number, l.customer_id::text, l.branch_code, l.loan_status,
       COALESCE(l.outstanding_balance, 0),
       (SELECT COALESCE(SUM(p.balance_applied + p.advance_amount), 0)
          FROM payments p WHERE p.loan_account_number = l.loan_account_number)
FROM loan_accounts l
WHERE l.loan_account_number = %s
"""


@dataclass(frozen=True)
class LoanPosition:
    loan_account_number: str
    customer_id: str | None
    branch_code: str | None
    status: str
    outstanding: Decimal
    applied: Decimal

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class PayableStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def position(self, loan_account_number: str) -> LoanPosition | None:
        row = self._db.run(lambda cur: cur.execute(_POSITION, (loan_account_number,)).fetchone())
        if row is None:
            return None
        number, customer_id, branch, status, outstanding, applied = row
        return LoanPosition(
            number, customer_id, branch, status, Decimal(outstanding), Decimal(applied)
        )
