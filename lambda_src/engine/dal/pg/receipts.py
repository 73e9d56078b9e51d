"""The receipt numbers PostgreSQL's payments copy holds: the last sequence issued per branch
and financial year, read after a failover to carry the regional receipt counters over
(engine.logic.receipt_counters).

A receipt number is `<branch>/<financial year>/<sequence>` (engine.logic.receipts). The one
statement groups the well-formed numbers by their own branch and year parts, the key the
Counters table numbers them by, and takes the largest sequence of each group. Anything else
in the column (none is written, but a hand-made row could hold one) is left out, never cast.

The payments table has no index on `receipt_number`: the statement reads the whole table,
once per failover. The `engine_app` role's statement timeout (migration 0009) is for the
portal's requests, so this transaction sets its own (`set_config(..., true)`: for this
transaction only, parameterised, and not a session SET).
"""

from __future__ import annotations

from typing import NamedTuple

from engine.dal.pg.db import Cursor

# `<branch>/<YYYY-YY>/<digits>`: a branch code without '/', and a sequence bigint can hold.
RECEIPT_NUMBER_PATTERN = r"^[^/]+/[0-9]{4}-[0-9]{2}/[0-9]{1,18}$"

_LOCAL_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"

# The WHERE filters rows before the aggregate, so only well-formed sequences are cast.
_LAST_SEQUENCES = """
SELECT split_part(receipt_number, '/', 1),
       split_part(receipt_number, '/', 2),
       max(split_part(receipt_number, '/', 3)::bigint)
FROM payments
WHERE receipt_number ~ %s
GROUP BY 1, 2
ORDER BY 1, 2
"""


class IssuedSequence(NamedTuple):
    """The highest receipt sequence PostgreSQL holds for one branch and financial year."""

    branch_code: str
    financial_year: str
    last_sequence: int


def last_sequences(cur: Cursor, statement_timeout_ms: int) -> list[IssuedSequence]:
    """Every (branch, financial year) with a receipt in PostgreSQL, and its last sequence."""
    cur.execute(_LOCAL_TIMEOUT, (f"{int(statement_timeout_ms)}ms",))
    rows = cur.execute(_LAST_SEQUENCES, (RECEIPT_NUMBER_PATTERN,)).fetchall()
    return [IssuedSequence(str(branch), str(year), int(seq)) for branch, year, seq in rows]
