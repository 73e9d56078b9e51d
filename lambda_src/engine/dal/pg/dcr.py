"""DCRs in PostgreSQL: one unit of work per step, each under the day's dcr_sessions row lock.

Collections take the same lock (engine.dal.pg.business_day) before they write a business
date, and cancellations before they cancel, so the totals a step reads under it are exact:
nothing lands on or leaves that day until the step commits, and once the day is SUBMITTED
or APPROVED nothing lands on it at all (collections move to the next date).

Totals, from `collections` rows of the branch and business date that are not CANCELLED:
field_collections = EMI by channel FIELD; branch_collections = EMI by channel BRANCH;
legal_fees, other_fees, challans = purposes LEGAL_FEE, OTHER_FEE, CHALLAN (either channel);
cash_collected = mode CASH (what the DBS counts: the closing balance); cheque_collected =
modes CHEQUE and DEMAND_DRAFT. Both splits cover the same rows, so each sums to the day.

The rules live in engine.logic.dcr: a step passes a `Decide` (the row as it stands and the
live totals in, the row as it must become out, or None to change nothing), so this module
knows the SQL and the lock, never the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import errors, sql

from engine.dal.pg import business_day
from engine.dal.pg.db import Cursor, Database
from engine.models.dcr import CENT, DbsCount, Dcr, DcrKey, Snapshot, Totals, UnknownBranch
from engine.models.status import DcrStatus
from shared.store_errors import Conflict

Decide = Callable[[Dcr, Totals], Dcr | None]

_COLUMNS = """
dcr_id::text, branch_code, collection_date, status, version,
total_field_collections, total_branch_collections, total_legal_fees, total_other_fees,
total_challans, cash_collected, cheque_collected, counted_cash, variance_amount,
variance_reason, submitted_by::text, submitted_at, approved_by::text, approved_at,
rejected_by::text, rejected_at, rejection_reason, reopened_by::text, reopened_at, audit_owed_at,
(SELECT coalesce(jsonb_object_agg(round(e.denomination)::int, e.count), '{}'::jsonb)
 FROM dbs_entries e WHERE e.dcr_id = d.dcr_id)
"""
# Composed with psycopg.sql from these constants only; every value is a parameter.
_ONE_DAY = "SELECT {} FROM dcr_sessions d WHERE branch_code = %s AND collection_date = %s"
_ONE = sql.SQL(_ONE_DAY).format(sql.SQL(_COLUMNS))
_LOCK = sql.SQL(_ONE_DAY + " FOR UPDATE").format(sql.SQL(_COLUMNS))
_BRANCH = "SELECT 1 FROM branches WHERE branch_code = %s"
_SUMS = """
coalesce(sum(c.amount) FILTER (WHERE c.purpose = 'EMI' AND c.channel = 'FIELD'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.purpose = 'EMI' AND c.channel = 'BRANCH'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.purpose = 'LEGAL_FEE'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.purpose = 'OTHER_FEE'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.purpose = 'CHALLAN'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.mode = 'CASH'), 0),
coalesce(sum(c.amount) FILTER (WHERE c.mode IN ('CHEQUE', 'DEMAND_DRAFT')), 0)
"""
_TOTALS = sql.SQL("""
SELECT {} FROM collections c
WHERE c.branch_code = %s AND c.business_date = %s AND c.status <> 'CANCELLED'
""").format(sql.SQL(_SUMS))
# Every DCR row in the range, each with its day's live totals, in one query.
_LIST = sql.SQL("""
SELECT {}, t.*
FROM dcr_sessions d
CROSS JOIN LATERAL (
    SELECT {} FROM collections c
    WHERE c.branch_code = d.branch_code AND c.business_date = d.collection_date
      AND c.status <> 'CANCELLED'
) t
WHERE d.collection_date BETWEEN %(start)s AND %(end)s
  AND (%(branch)s::text IS NULL OR d.branch_code = %(branch)s)
  AND (%(status)s::text IS NULL OR d.status = %(status)s)
ORDER BY d.collection_date DESC, d.branch_code
LIMIT %(limit)s
""").format(sql.SQL(_COLUMNS), sql.SQL(_SUMS))
_UPDATE = """
UPDATE dcr_sessions SET
    status = %(status)s,
    total_field_collections = %(field)s, total_branch_collections = %(branch)s,
    total_legal_fees = %(legal)s, total_other_fees = %(other)s, total_challans = %(challans)s,
    closing_balance = %(cash)s, cash_collected = %(cash)s, cheque_collected = %(cheque)s,
    counted_cash = %(counted)s, variance_amount = %(variance)s,
    variance_reason = %(variance_reason)s,
    submitted_by = %(submitted_by)s, submitted_at = %(submitted_at)s,
    approved_by = %(approved_by)s, approved_at = %(approved_at)s,
    rejected_by = %(rejected_by)s, rejected_at = %(rejected_at)s,
    rejection_reason = %(rejection_reason)s,
    reopened_by = %(reopened_by)s, reopened_at = %(reopened_at)s,
    audit_owed_at = now(),
    version = version + 1
WHERE dcr_id = %(dcr_id)s AND version = %(version)s
RETURNING version, audit_owed_at
"""
# One row per denomination, replaced in place: the app role never deletes (migration 0012).
_DBS = """
INSERT INTO dbs_entries (dcr_id, denomination, count, total_value) VALUES (%s, %s, %s, %s)
ON CONFLICT (dcr_id, denomination)
DO UPDATE SET count = EXCLUDED.count, total_value = EXCLUDED.total_value
"""
_ZERO_DBS = "UPDATE dbs_entries SET count = 0, total_value = 0 WHERE dcr_id = %s"
_AUDITED = """
UPDATE dcr_sessions SET audit_owed_at = NULL
WHERE dcr_id = %s AND version = %s AND audit_owed_at IS NOT NULL
"""
_OWED = sql.SQL("""
SELECT {} FROM dcr_sessions d
WHERE audit_owed_at IS NOT NULL AND audit_owed_at <= %s ORDER BY audit_owed_at LIMIT %s
""").format(sql.SQL(_COLUMNS))


class DcrStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def read(self, key: DcrKey) -> Snapshot:
        """The day's DCR (a DRAFT without a row if none was made) and its live totals."""
        return self._db.run(lambda cur: _snapshot(cur, key, lock=False))

    def in_range(
        self, branch: str | None, start: date, end: date, status: DcrStatus | None, limit: int
    ) -> list[Snapshot]:
        """DCR rows from `start` to `end`, newest first, at most `limit`."""
        params = {
            "branch": branch,
            "start": start,
            "end": end,
            "status": None if status is None else status.value,
            "limit": limit,
        }
        rows = self._db.run(lambda cur: cur.execute(_LIST, params).fetchall())
        return [Snapshot(_dcr(row[:26]), _totals(row[26:])) for row in rows]

    def transition(self, key: DcrKey, decide: Decide, *, create: bool = False) -> Step:
        """Lock the day's row (made first, DRAFT, when `create`), then apply `decide`."""
        return self._db.run(lambda cur: _transition(cur, key, decide, create))

    def mark_audited(self, dcr: Dcr) -> None:
        """The step that left `dcr` as it is has its audit record."""
        self._db.run(lambda cur: cur.execute(_AUDITED, (dcr.dcr_id, dcr.version)))

    def owed_before(self, moment: datetime, limit: int) -> list[Dcr]:
        """DCRs whose last step has waited for its audit record since `moment` or earlier."""
        rows = self._db.run(lambda cur: cur.execute(_OWED, (moment, limit)).fetchall())
        return [_dcr(row) for row in rows]


@dataclass(frozen=True)
class Step:
    """What a transition did: the DCR as it now stands, its live totals, and whether it
    changed (False: `decide` found the work already done)."""

    snapshot: Snapshot
    changed: bool


def _transition(cur: Cursor, key: DcrKey, decide: Decide, create: bool) -> Step:
    if create:  # the collections' own lock on the day, so both take it the same way
        try:
            business_day.lock_day(cur, key.branch_code, key.collection_date)
        except errors.ForeignKeyViolation:
            raise UnknownBranch(key.branch_code) from None
    current = _snapshot(cur, key, lock=True)
    wanted = decide(current.dcr, current.live)
    if wanted is None:
        return Step(current, changed=False)
    if current.dcr.dcr_id is None:  # decide moved a day that has no row
        raise Conflict("a DCR without a row cannot change")
    version, owed = _write(cur, current.dcr, wanted)
    moved = replace(wanted, dcr_id=current.dcr.dcr_id, version=version, audit_owed_at=owed)
    return Step(Snapshot(moved, current.live), changed=True)


def _write(cur: Cursor, current: Dcr, wanted: Dcr) -> tuple[int, datetime]:
    """The row as `wanted` (every mutable column), one version on, its audit owed; the DBS
    rows replaced when the count changed, zeroed when it went."""
    t = wanted.totals
    cur.execute(
        _UPDATE,
        {
            "status": wanted.status.value,
            "field": t.field_collections,
            "branch": t.branch_collections,
            "legal": t.legal_fees,
            "other": t.other_fees,
            "challans": t.challans,
            "cash": t.cash_collected,
            "cheque": t.cheque_collected,
            "counted": wanted.counted_cash,
            "variance": wanted.variance_amount,
            "variance_reason": wanted.variance_reason,
            "submitted_by": wanted.submitted_by,
            "submitted_at": wanted.submitted_at,
            "approved_by": wanted.approved_by,
            "approved_at": wanted.approved_at,
            "rejected_by": wanted.rejected_by,
            "rejected_at": wanted.rejected_at,
            "rejection_reason": wanted.rejection_reason,
            "reopened_by": wanted.reopened_by,
            "reopened_at": wanted.reopened_at,
            "dcr_id": current.dcr_id,
            "version": current.version,
        },
    )
    written = cur.fetchone()
    if written is None:  # the row is locked: only a bug gets here
        raise Conflict("the DCR changed under its lock")
    if wanted.count is not None and wanted.count != current.count:
        cur.executemany(_DBS, [(current.dcr_id, *entry) for entry in wanted.count.entries()])
    elif wanted.count is None and current.count is not None:
        cur.execute(_ZERO_DBS, (current.dcr_id,))
    return int(written[0]), written[1]


def _snapshot(cur: Cursor, key: DcrKey, *, lock: bool) -> Snapshot:
    row = cur.execute(_LOCK if lock else _ONE, (key.branch_code, key.collection_date)).fetchone()
    if row is None:
        if cur.execute(_BRANCH, (key.branch_code,)).fetchone() is None:
            raise UnknownBranch(key.branch_code)
        dcr = Dcr(key)
    else:
        dcr = _dcr(row)
    sums = cur.execute(_TOTALS, (key.branch_code, key.collection_date)).fetchone()
    return Snapshot(dcr, _totals(sums or ()))


def _totals(sums: tuple[Any, ...]) -> Totals:
    # An empty day sums to the integer 0: answered as "0.00" like any amount.
    return Totals(*(Decimal(value).quantize(CENT) for value in sums)) if sums else Totals()


def _dcr(row: tuple[Any, ...]) -> Dcr:
    (dcr_id, branch, day, status, version, *amounts) = row[:12]
    (counted, variance, variance_reason) = row[12:15]
    (sub_by, sub_at, app_by, app_at, rej_by, rej_at, rej_reason, reo_by, reo_at, owed) = row[15:25]
    entries = {int(k): int(v) for k, v in (row[25] or {}).items()}
    return Dcr(
        key=DcrKey(branch, day),
        status=DcrStatus(status),
        dcr_id=dcr_id,
        version=int(version),
        totals=Totals(*(Decimal(a) for a in amounts)),
        count=None if counted is None else DbsCount.from_entries(entries),
        variance_amount=variance,
        variance_reason=variance_reason,
        submitted_by=sub_by,
        submitted_at=sub_at,
        approved_by=app_by,
        approved_at=app_at,
        rejected_by=rej_by,
        rejected_at=rej_at,
        rejection_reason=rej_reason,
        reopened_by=reo_by,
        reopened_at=reo_at,
        audit_owed_at=owed,
    )
