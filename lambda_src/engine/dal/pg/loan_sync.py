"""The loan master sync's SQL: one page of LMS loan versions applied in one transaction, with
the sync's state (watermark, cursor) saved in the same transaction.

`apply_page`, in one transaction:

1. locks the sync's state row and checks it is still what the run read (another run that
   moved it in between makes this one stop: `StateMoved`, nothing written);
2. locks the page's loans (`FOR UPDATE`, in key order, as the stream sync does: the two never
   deadlock, and each sees every payment the other committed);
3. applies, in one statement, each version newer than the loan's `lms_updated_at`, for loans
   PostgreSQL knows (the others are counted unknown and left alone):

       pending = sum over the loan's payments taken into account
                 (balance_applied + advance_amount > 0) of
                   - balance_restored               if its receipt is in the version's
                                                    recent_receipt_references,
                   - the net (applied + advance - restored)
                                                    else if lms_posted_at is NULL or within
                                                    POSTED_WINDOW (30 days),
                   - 0                              else (posted long ago: reflected);
       owed = lms outstanding - lms advance - pending
       outstanding_balance = max(owed, 0); advance_balance = max(-owed, 0)

   and re-divides each of the loan's payments between `balance_applied` and
   `advance_amount` (the sum stays the amount) so that the newest hold the advance: a later
   refund, which the stream takes back off the payment's advance first, then takes it off
   the advance the loan holds, and the rest onto the outstanding;
4. saves the cursor for the next page, or, after the last page, moves the watermark to the
   newest `updated_at` the run read minus the overlap and clears the cursor.

A page applied twice, or an older version after a newer one, changes nothing: the version is
not newer than `lms_updated_at`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.dal.pg.db import Cursor, Database
from engine.dal.pg.sync_state import SyncState, SyncStateTable
from shared.store_errors import ConditionFailed

SYNC_NAME = "lms_loans"
# Shorter than the LMS's 35 days of recent_receipt_references, so a posted receipt is always
# either in the list or outside this window: never subtracted twice, never missed.
POSTED_WINDOW = timedelta(days=30)


class StateMoved(ConditionFailed):
    """The sync's state is no longer what this run read: another run moved it."""


_STATE = SyncStateTable("lms_sync_state", StateMoved, "the loan sync")


@dataclass(frozen=True)
class LoanVersion:
    """One loan as the LMS holds it at `updated_at` (amounts Decimal rupees)."""

    loan_account_number: str
    status: str
    outstanding: Decimal
    emi: Decimal
    next_due_date: date | None
    overdue: Decimal
    days_past_due: int
    updated_at: str  # RFC 3339 as the LMS wrote it; PostgreSQL reads it
    receipt_references: tuple[str, ...] = ()
    advance: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class PageOutcome:
    state: SyncState  # as saved with the page
    loans: int  # distinct loans on the page
    applied: int  # versions applied
    stale: int  # versions not newer than the one applied before
    unknown: int  # loans PostgreSQL does not know
    redivided: int  # payments whose applied/advance division moved
    finished: bool  # the last page: the watermark moved, the cursor is cleared


_LOCK_LOANS = """
SELECT loan_account_number FROM loan_accounts
WHERE loan_account_number = ANY(%s::text[])
ORDER BY loan_account_number
FOR UPDATE
"""

_APPLY = """
WITH page AS (
    SELECT * FROM unnest(
        %(numbers)s::text[], %(statuses)s::text[], %(outstanding)s::numeric[],
        %(advance)s::numeric[], %(emi)s::numeric[], %(due)s::date[], %(overdue)s::numeric[],
        %(dpd)s::int[], %(updated)s::timestamptz[], %(positions)s::int[]
    ) AS v (loan_account_number, status, outstanding, advance, emi, next_due_date, overdue,
            days_past_due, updated_at, position)
),
-- A loan twice on one page: its newest version only (a statement changes a row once).
incoming AS (
    SELECT DISTINCT ON (loan_account_number) *
    FROM page
    ORDER BY loan_account_number, updated_at DESC, position DESC
),
listed AS (
    SELECT position, array_agg(reference ORDER BY n) AS refs
    FROM unnest(%(ref_positions)s::int[], %(refs)s::text[]) WITH ORDINALITY
         AS r (position, reference, n)
    GROUP BY position
),
fresh AS (
    SELECT i.*, COALESCE(r.refs, '{}') AS refs
    FROM incoming i
    JOIN loan_accounts l USING (loan_account_number)
    LEFT JOIN listed r USING (position)
    WHERE l.lms_updated_at IS NULL OR i.updated_at > l.lms_updated_at
),
-- Each payment the stream took into account, and what of it the LMS's outstanding lacks.
counted AS (
    SELECT p.transaction_id, p.loan_account_number, p.amount, p.advance_amount,
           p.balance_restored, p.captured_at, p.created_at,
           p.balance_applied + p.advance_amount - p.balance_restored AS net,
           CASE WHEN p.receipt_number = ANY(f.refs) THEN -p.balance_restored
                WHEN p.lms_posted_at IS NULL OR p.lms_posted_at > %(posted_after)s
                    THEN p.balance_applied + p.advance_amount - p.balance_restored
                ELSE 0 END AS pending
    FROM payments p
    JOIN fresh f USING (loan_account_number)
    WHERE p.balance_applied + p.advance_amount > 0
),
owed AS (
    SELECT f.loan_account_number,
           f.outstanding - f.advance - COALESCE(SUM(c.pending), 0) AS owed
    FROM fresh f
    LEFT JOIN counted c USING (loan_account_number)
    GROUP BY f.loan_account_number, f.outstanding, f.advance
),
-- The loan's advance, held by its newest payments first, each up to what it still holds.
held AS (
    SELECT c.transaction_id, c.amount, c.advance_amount, c.balance_restored,
           LEAST(c.net, GREATEST(GREATEST(-o.owed, 0) - COALESCE(SUM(c.net) OVER (
               PARTITION BY c.loan_account_number
               ORDER BY c.captured_at DESC NULLS LAST, c.created_at DESC, c.transaction_id DESC
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0)) AS held
    FROM counted c
    JOIN owed o USING (loan_account_number)
),
-- The stream takes a refund back off the payment's advance first, so what was restored
-- counts as advance; a payment holding none keeps no more advance than it gave back.
divided AS (
    SELECT transaction_id, amount,
           CASE WHEN held > 0 THEN held + balance_restored
                ELSE LEAST(advance_amount, balance_restored) END AS advance
    FROM held
),
redivided AS (
    UPDATE payments p SET
        balance_applied = d.amount - d.advance,
        advance_amount = d.advance
    FROM divided d
    WHERE p.transaction_id = d.transaction_id AND p.advance_amount <> d.advance
    RETURNING p.transaction_id
),
moved AS (
    UPDATE loan_accounts l SET
        outstanding_balance = GREATEST(o.owed, 0),
        advance_balance = GREATEST(-o.owed, 0),
        emi_amount = f.emi,
        next_due_date = f.next_due_date,
        overdue_amount = f.overdue,
        days_past_due = f.days_past_due,
        loan_status = f.status,
        lms_updated_at = f.updated_at,
        lms_receipt_references = f.refs
    FROM fresh f
    JOIN owed o USING (loan_account_number)
    WHERE l.loan_account_number = f.loan_account_number
    RETURNING l.loan_account_number
)
SELECT (SELECT count(*) FROM incoming),
       (SELECT count(*) FROM moved),
       (SELECT count(*) FROM incoming i WHERE NOT EXISTS (
            SELECT FROM loan_accounts l WHERE l.loan_account_number = i.loan_account_number)),
       (SELECT count(*) FROM redivided),
       (SELECT max(updated_at) FROM page)
"""


def start(cur: Cursor, name: str, initial_watermark: datetime, now: datetime) -> SyncState:
    """The state a run starts from (created at `initial_watermark` the first time). With no
    run in progress (no cursor), a new one starts now; otherwise the run resumes."""
    return _STATE.start(cur, name, initial_watermark, now)


def restart(cur: Cursor, expected: SyncState) -> SyncState:
    """The run reads again from the watermark (the LMS refused the saved cursor); what it
    applied stays applied."""
    return _STATE.restart(cur, expected)


def apply_page(
    cur: Cursor,
    expected: SyncState,
    versions: Sequence[LoanVersion],
    next_cursor: str | None,
    *,
    now: datetime,
    overlap: timedelta,
) -> PageOutcome:
    """Apply one page read with `expected`'s watermark and cursor, and save the state."""
    _STATE.lock_expected(cur, expected)
    loans, applied, unknown, redivided, page_high = 0, 0, 0, 0, None
    if versions:
        cur.execute(_LOCK_LOANS, (sorted({v.loan_account_number for v in versions}),))
        found = cur.execute(_APPLY, _page_params(versions, now - POSTED_WINDOW)).fetchone()
        assert found is not None  # aggregates always answer one row
        loans, applied, unknown, redivided = (int(n) for n in found[:4])
        page_high = found[4]
    saved = _STATE.save(cur, expected, next_cursor, page_high, now=now, overlap=overlap)
    return PageOutcome(
        state=saved,
        loans=loans,
        applied=applied,
        stale=loans - applied - unknown,
        unknown=unknown,
        redivided=redivided,
        finished=next_cursor is None,
    )


def read_state(cur: Cursor, name: str = SYNC_NAME) -> SyncState | None:
    return _STATE.read(cur, name)


class LoanSyncStore:
    """The sync's units of work on the engine's database, one transaction each."""

    def __init__(self, db: Database, name: str = SYNC_NAME) -> None:
        self._db = db
        self.name = name

    def start(self, initial_watermark: datetime, now: datetime) -> SyncState:
        return self._db.run(lambda cur: start(cur, self.name, initial_watermark, now))

    def restart(self, expected: SyncState) -> SyncState:
        return self._db.run(lambda cur: restart(cur, expected))

    def apply_page(
        self,
        expected: SyncState,
        versions: Sequence[LoanVersion],
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome:
        return self._db.run(
            lambda cur: apply_page(cur, expected, versions, next_cursor, now=now, overlap=overlap)
        )


def _page_params(versions: Sequence[LoanVersion], posted_after: datetime) -> dict[str, Any]:
    ref_positions = [i for i, v in enumerate(versions) for _ in v.receipt_references]
    return {
        "numbers": [v.loan_account_number for v in versions],
        "statuses": [v.status for v in versions],
        "outstanding": [v.outstanding for v in versions],
        "advance": [v.advance for v in versions],
        "emi": [v.emi for v in versions],
        "due": [v.next_due_date for v in versions],
        "overdue": [v.overdue for v in versions],
        "dpd": [v.days_past_due for v in versions],
        "updated": [v.updated_at for v in versions],
        "positions": list(range(len(versions))),
        "ref_positions": ref_positions,
        "refs": [r for v in versions for r in v.receipt_references],
        "posted_after": posted_after,
    }
