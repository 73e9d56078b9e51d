"""Staff collections in PostgreSQL, their ledger: each write one unit of work.

A collection is inserted holding its branch's business day (engine.dal.pg.business_day) and,
for cash, its payer's day (`pg_advisory_xact_lock` on the payer key and the date): two cash
collections from one payer, at any branches, are counted one after the other, so together
they never pass the limit. The receipt number is taken only once every check has passed, so
a refusal leaves no gap in the branch's numbering.

A cancellation holds the collection's business day too: it cannot slip past a submit.
Domain errors, never psycopg's: `KeyTaken` (the Idempotency-Key names a collection already),
`CashLimitExceeded`, `AlreadyCancelled`, `NotSameDay`, and business_day's `DayClosed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from engine.dal.pg import business_day
from engine.dal.pg.db import Cursor, Database
from engine.models.collections import CASH, Collection, NewCollection, sha256
from shared import cursors
from shared.store_errors import ConditionFailed

_CURSOR_KEYS = ("created_at", "collection_id", "scope")

_SELECT = """
SELECT c.collection_id::text, c.transaction_id, c.receipt_number, c.branch_code,
       c.business_date, c.loan_account_number, c.customer_id::text, c.amount, c.mode,
       c.instrument, c.purpose, c.channel, c.payer_key, c.payer_name, c.collected_at,
       c.collected_on, c.created_by::text, u.username, c.idempotency_key_hash,
       c.request_hash, c.status, c.created_at, c.recorded_at, c.cancelled_by::text,
       cu.username, c.cancelled_at, c.cancellation_reason, c.cancel_recorded_at
FROM collections c
JOIN users u ON u.user_id = c.created_by
LEFT JOIN users cu ON cu.user_id = c.cancelled_by
"""
_BY_ID = _SELECT + "WHERE c.collection_id = %s"
_BY_KEY = _SELECT + "WHERE c.created_by = %s AND c.idempotency_key_hash = %s"
_LOCK_ROW = "SELECT 1 FROM collections WHERE collection_id = %s FOR UPDATE"
_LOCK_PAYER = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_CASH_ON = """
SELECT COALESCE(SUM(amount), 0) FROM collections
WHERE payer_key = %s AND collected_on = %s AND mode = 'CASH' AND status <> 'CANCELLED'
"""
_INSERT = """
INSERT INTO collections (
    transaction_id, receipt_number, branch_code, business_date, loan_account_number,
    customer_id, amount, mode, instrument, purpose, channel, payer_key, payer_name,
    collected_at, collected_on, created_by, idempotency_key_hash, request_hash
) VALUES (
    %(transaction_id)s, %(receipt_number)s, %(branch_code)s, %(business_date)s,
    %(loan_account_number)s, %(customer_id)s, %(amount)s, %(mode)s, %(instrument)s,
    %(purpose)s, %(channel)s, %(payer_key)s, %(payer_name)s, %(collected_at)s,
    %(collected_on)s, %(created_by)s, %(idempotency_key_hash)s, %(request_hash)s
)
ON CONFLICT (created_by, idempotency_key_hash) DO NOTHING
RETURNING collection_id::text
"""
_CANCEL = """
UPDATE collections
SET status = 'CANCELLED', cancelled_by = %s, cancelled_at = %s, cancellation_reason = %s
WHERE collection_id = %s AND status = 'CAPTURED'
"""
_RECORDED = "UPDATE collections SET recorded_at = %s WHERE collection_id = %s"
_CANCEL_RECORDED = "UPDATE collections SET cancel_recorded_at = %s WHERE collection_id = %s"
_UNRECORDED = _SELECT + "WHERE c.recorded_at IS NULL AND c.created_at < %s "
_UNRECORDED += "ORDER BY c.created_at LIMIT %s"
_CANCEL_UNRECORDED = _SELECT + "WHERE c.status = 'CANCELLED' AND c.cancel_recorded_at IS NULL "
_CANCEL_UNRECORDED += "AND c.cancelled_at < %s ORDER BY c.cancelled_at LIMIT %s"
_PAGE = (
    _SELECT
    + """
WHERE (%(branch)s::text IS NULL OR c.branch_code = %(branch)s)
  AND (%(day)s::date IS NULL OR c.business_date = %(day)s)
  AND (%(status)s::text IS NULL OR c.status = %(status)s)
  AND (%(owner)s::uuid IS NULL OR c.created_by = %(owner)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (c.created_at, c.collection_id)
          < (%(after_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY c.created_at DESC, c.collection_id DESC
LIMIT %(limit)s
"""
)
# One statement, so outstanding and applied come from one snapshot (engine.dal.pg.payable).
_LOAN = """
SELECT l.loan_account_number, l.customer_id::text, cu.mobile_number, l.branch_code,
       l.loan_status, COALESCE(l.outstanding_balance, 0),
       (SELECT COALESCE(SUM(p.balance_applied + p.advance_amount), 0)
          FROM payments p WHERE p.loan_account_number = l.loan_account_number)
FROM loan_accounts l
LEFT JOIN customers cu ON cu.customer_id = l.customer_id
WHERE l.loan_account_number = %s
"""


class KeyTaken(ConditionFailed):
    """The staff member's Idempotency-Key names a collection already (read it and replay)."""


class CashLimitExceeded(ConditionFailed):
    """The payer's cash for the day, with this amount, would reach the limit."""


class AlreadyCancelled(ConditionFailed):
    def __init__(self, collection: Collection) -> None:
        super().__init__("the collection is cancelled already")
        self.collection = collection


class NotSameDay(ConditionFailed):
    """A collection is cancelled on its business day only."""


@dataclass(frozen=True)
class LoanFacts:
    """What a collection checks of its loan (PII: the mobile, compared, never shown)."""

    loan_account_number: str
    customer_id: str | None
    mobile_number: str | None  # the last 10 digits of what is registered
    branch_code: str | None
    status: str
    outstanding: Decimal
    applied: Decimal  # what the stream sync has taken into account (engine.dal.pg.payable)


@dataclass(frozen=True)
class Filters:
    branch_code: str | None = None
    business_date: date | None = None
    status: str | None = None
    created_by: str | None = None

    def scope(self) -> str:
        """What a cursor is bound to: a page of one listing never starts another's."""
        return sha256(repr(self))[:16]


class CollectionLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ reads

    def get(self, collection_id: str) -> Collection | None:
        return self._db.run(lambda cur: _one(cur, _BY_ID, (collection_id,)))

    def by_key(self, created_by: str, key_hash: str) -> Collection | None:
        return self._db.run(lambda cur: _one(cur, _BY_KEY, (created_by, key_hash)))

    def loan(self, loan_account_number: str) -> LoanFacts | None:
        row = self._db.run(lambda cur: cur.execute(_LOAN, (loan_account_number,)).fetchone())
        if row is None:
            return None
        number, customer_id, mobile, branch, status, outstanding, applied = row
        digits = (mobile or "").lstrip("+")
        ten = digits[-10:] if len(digits) >= 10 else None
        return LoanFacts(
            number, customer_id, ten, branch, status, Decimal(outstanding), Decimal(applied)
        )

    def page(
        self, filters: Filters, limit: int, cursor: str | None
    ) -> tuple[list[Collection], str | None]:
        """Newest first; raises shared.cursors.BadCursor for a cursor of another listing."""
        after: dict[str, str] = {}
        if cursor:
            after = cursors.decode(cursor, _CURSOR_KEYS, ("scope", filters.scope()), "listing")
        params: dict[str, Any] = {
            "branch": filters.branch_code,
            "day": filters.business_date,
            "status": filters.status,
            "owner": filters.created_by,
            "after_at": after.get("created_at"),
            "after_id": after.get("collection_id"),
            "limit": limit + 1,
        }
        rows = self._db.run(lambda cur: cur.execute(_PAGE, params).fetchall())
        found = [Collection(*row) for row in rows[:limit]]
        if len(rows) <= limit:
            return found, None
        last = found[-1]
        key = {
            "created_at": last.created_at.isoformat(),
            "collection_id": last.collection_id,
            "scope": filters.scope(),
        }
        return found, cursors.encode(key, _CURSOR_KEYS)

    def unrecorded(self, before: datetime, limit: int) -> list[Collection]:
        """Collections DynamoDB has not had, written before `before`, oldest first."""
        return self._all(_UNRECORDED, (before, limit))

    def cancel_unrecorded(self, before: datetime, limit: int) -> list[Collection]:
        """Cancellations DynamoDB has not had, made before `before`, oldest first."""
        return self._all(_CANCEL_UNRECORDED, (before, limit))

    # ------------------------------------------------------------------ units of work

    def insert(
        self, new: NewCollection, today: date, cash_limit: Decimal, receipt: Callable[[], str]
    ) -> Collection:
        """The collection on its business day (today or the next open date), numbered by
        `receipt()` once the checks pass. Raises KeyTaken, CashLimitExceeded, DayClosed."""

        def work(cur: Cursor) -> Collection:
            day = business_day.open_day(cur, new.branch_code, today)
            # Another request with this key holds the same day lock: it has committed by now.
            if _one(cur, _BY_KEY, (new.created_by, new.idempotency_key_hash)) is not None:
                raise KeyTaken("the Idempotency-Key names a collection")
            if new.mode == CASH:
                _check_cash(cur, new, cash_limit)
            number = receipt()
            row = cur.execute(_INSERT, _insert_params(new, day, number)).fetchone()
            if row is None:
                raise KeyTaken("the Idempotency-Key names a collection")
            found = _one(cur, _BY_ID, (row[0],))
            assert found is not None  # inserted by this transaction
            return found

        return self._db.run(work)

    def cancel(
        self, found: Collection, by: str, reason: str, today: date, at: datetime
    ) -> Collection:
        """Mark `found` CANCELLED under its business day's lock. Raises AlreadyCancelled,
        DayClosed (the day is submitted or approved) or NotSameDay."""

        def work(cur: Cursor) -> Collection:
            status = business_day.lock_day(cur, found.branch_code, found.business_date)
            cur.execute(_LOCK_ROW, (found.collection_id,))
            current = _one(cur, _BY_ID, (found.collection_id,))
            assert current is not None  # never deleted by the app role
            if current.is_cancelled:
                raise AlreadyCancelled(current)
            if status in business_day.CLOSED:
                raise business_day.DayClosed(current.branch_code, current.business_date, status)
            if current.business_date != today:
                raise NotSameDay("a collection is cancelled on its business day only")
            cur.execute(_CANCEL, (by, at, reason, current.collection_id))
            cancelled = _one(cur, _BY_ID, (current.collection_id,))
            assert cancelled is not None
            return cancelled

        return self._db.run(work)

    def mark_recorded(self, collection_id: str, at: datetime) -> None:
        self._db.run(lambda cur: cur.execute(_RECORDED, (at, collection_id)))

    def mark_cancel_recorded(self, collection_id: str, at: datetime) -> None:
        self._db.run(lambda cur: cur.execute(_CANCEL_RECORDED, (at, collection_id)))

    def _all(self, query: str, params: tuple[Any, ...]) -> list[Collection]:
        rows = self._db.run(lambda cur: cur.execute(query, params).fetchall())
        return [Collection(*row) for row in rows]


def _one(cur: Cursor, query: str, params: tuple[Any, ...]) -> Collection | None:
    row = cur.execute(query, params).fetchone()
    return None if row is None else Collection(*row)


def _check_cash(cur: Cursor, new: NewCollection, limit: Decimal) -> None:
    """Counted under the payer's day lock: a concurrent collection from the same payer waits
    here until this one commits, then counts it."""
    cur.execute(_LOCK_PAYER, (f"{new.payer_key}#{new.collected_on.isoformat()}",))
    found = cur.execute(_CASH_ON, (new.payer_key, new.collected_on)).fetchone()
    already = Decimal(found[0]) if found else Decimal("0")
    if already + new.amount >= limit:
        raise CashLimitExceeded("the payer's cash for the day would reach the limit")


def _insert_params(new: NewCollection, day: date, receipt_number: str) -> dict[str, Any]:
    return {
        "transaction_id": new.transaction_id,
        "receipt_number": receipt_number,
        "branch_code": new.branch_code,
        "business_date": day,
        "loan_account_number": new.loan_account_number,
        "customer_id": new.customer_id,
        "amount": new.amount,
        "mode": new.mode,
        "instrument": None if new.instrument is None else Jsonb(new.instrument),
        "purpose": new.purpose,
        "channel": new.channel,
        "payer_key": new.payer_key,
        "payer_name": new.payer_name,
        "collected_at": new.collected_at,
        "collected_on": new.collected_on,
        "created_by": new.created_by,
        "idempotency_key_hash": new.idempotency_key_hash,
        "request_hash": new.request_hash,
    }
