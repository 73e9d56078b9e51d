"""What the DCR tests share: staff of each role in PostgreSQL, and collections written the way
engine.dal.pg.collections writes them (on the branch's open business day, under its DCR row
lock: engine.dal.pg.business_day), with only the columns the DCR reads varied."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import psycopg

from engine.dal.pg import business_day
from engine.dal.pg.db import Cursor, Database
from engine.dal.pg.roles import sync_roles
from engine.logic.receipts import IST
from tests.engine_pg import ACTIVE, OVERDUE

# username -> (role, branch)
STAFF = {
    "cashier.br001": ("BranchCashier", "BR001"),
    "cashier2.br001": ("BranchCashier", "BR001"),
    "manager.br001": ("BranchManager", "BR001"),
    "cashier.br002": ("BranchCashier", "BR002"),
    "manager.br002": ("BranchManager", "BR002"),
    "finance.ho": ("FinanceTeam", None),
}
LOAN_OF = {"BR001": ACTIVE.loan_account_number, "BR002": OVERDUE.loan_account_number}


def today_ist() -> date:
    return datetime.now(UTC).astimezone(IST).date()


def seed_staff(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The roles as declared, and STAFF; their user ids by username."""
    with conn.transaction(), conn.cursor() as cur:
        sync_roles(cur)
    ids = {}
    for username, (role, branch) in STAFF.items():
        row = conn.execute(
            "INSERT INTO users (username, email, role_id, branch_code) VALUES "
            "(%s, %s, (SELECT role_id FROM roles WHERE role_name = %s), %s) "
            "RETURNING user_id::text",
            (username, f"{username}@staff.example.com", role, branch),
        ).fetchone()
        assert row is not None
        ids[username] = row[0]
    return ids


@dataclass(frozen=True)
class Collected:
    collection_id: str
    business_date: date


def collect(
    db: Database,
    by: str,
    branch: str,
    day: date,
    amount: str,
    *,
    mode: str = "CASH",
    purpose: str = "EMI",
    channel: str = "BRANCH",
) -> Collected:
    """A collection taken on `day`: it lands on the branch's open business date from `day`."""

    def work(cur: Cursor) -> Collected:
        business = business_day.open_day(cur, branch, day)
        collection_id = _insert(cur, by, branch, business, amount, mode, purpose, channel)
        return Collected(collection_id, business)

    return db.run(work)


def cancel(db: Database, by: str, collection_id: str) -> None:
    """Cancel as a branch manager does: refused (DayClosed) once the day is closed."""

    def work(cur: Cursor) -> None:
        row = cur.execute(
            "SELECT branch_code, business_date FROM collections WHERE collection_id = %s",
            (collection_id,),
        ).fetchone()
        assert row is not None
        business_day.require_open(cur, row[0], row[1])
        cur.execute(
            "UPDATE collections SET status = 'CANCELLED', cancelled_by = %s, "
            "cancelled_at = now(), cancellation_reason = 'wrong loan' WHERE collection_id = %s",
            (by, collection_id),
        )

    db.run(work)


def insert_unlocked(conn: psycopg.Connection[Any], by: str, branch: str, day: date) -> None:
    """A collection written past the lock protocol (a defect the approval must catch)."""
    with conn.cursor() as cur:
        _insert(cur, by, branch, day, "100.00", "CASH", "EMI", "BRANCH")


def _insert(  # noqa: PLR0917 - one row's columns
    cur: Cursor,
    by: str,
    branch: str,
    day: date,
    amount: str,
    mode: str,
    purpose: str,
    channel: str,
) -> str:
    key = uuid.uuid4().hex
    at = datetime.combine(day, time(11, 0), IST)
    instrument = None if mode == "CASH" else '{"number": "000123", "bank_name": "SBI"}'
    row = cur.execute(
        "INSERT INTO collections (transaction_id, receipt_number, branch_code, business_date,"
        " loan_account_number, amount, mode, instrument, purpose, channel, payer_key,"
        " collected_at, collected_on, created_by, idempotency_key_hash, request_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING collection_id::text",
        (
            f"pay_{key[:20]}",
            f"{branch}/R/{key[:12]}",
            branch,
            day,
            LOAN_OF[branch],
            Decimal(amount),
            mode,
            instrument,
            purpose,
            channel,
            f"customer:{uuid.uuid4()}",
            at,
            day,
            by,
            hashlib.sha256(key.encode()).hexdigest(),
            hashlib.sha256(amount.encode()).hexdigest(),
        ),
    ).fetchone()
    assert row is not None
    return str(row[0])
