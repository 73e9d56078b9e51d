"""Engine PostgreSQL fixtures any suite can use: a migrated database with a few loans.

Import them into a conftest (`from tests.engine_pg import engine_db, engine_pg_template  #
noqa: F401`). The migrations run once per session into a template database; each test gets
its own copy (CREATE DATABASE ... TEMPLATE, a few milliseconds), dropped afterwards.

`engine_db` yields an `EngineDb`: `admin_url` (the server's admin role, for arranging and
inspecting) and `app_url` (the same database as `engine_app`, the role the functions use, so
a missing grant fails a test). `LOANS` describes what is seeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from engine.db.migrate import migrate
from tests import postgres

APP_ROLE = "engine_app"


@dataclass(frozen=True)
class SeededLoan:
    loan_account_number: str
    customer_name: str
    mobile_number: str  # as registered (10 digits, or with +91)
    loan_type: str
    outstanding: Decimal
    emi: Decimal
    next_due_date: date
    overdue_amount: Decimal
    status: str
    branch_code: str


ACTIVE = SeededLoan(
    "LN0000000001",
    "Ravi Kumar",
    "9876543210",
    "HL",
    Decimal("250000.00"),
    Decimal("12500.00"),
    date(2026, 12, 5),
    Decimal("0.00"),
    "ACTIVE",
    "BR001",
)
OVERDUE = SeededLoan(
    "LN0000000002",
    "Lakshmi Narayanan",
    "+919123456780",
    "LAP",
    Decimal("480000.50"),
    Decimal("21000.00"),
    date(2026, 11, 20),
    Decimal("42000.00"),
    "NPA",
    "BR002",
)
CLOSED = SeededLoan(
    "LN0000000003",
    "Asha Devi",
    "8000012345",
    "HL",
    Decimal("0.00"),
    Decimal("9000.00"),
    date(2026, 10, 1),
    Decimal("0.00"),
    "CLOSED",
    "BR001",
)
LOANS = (ACTIVE, OVERDUE, CLOSED)
BRANCHES = (("BR001", "Chennai Central"), ("BR002", "Madurai East"))


@dataclass(frozen=True)
class EngineDb:
    admin_url: str
    app_url: str

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)


@pytest.fixture(scope="session")
def engine_pg_template() -> Iterator[tuple[postgres.Server, str]]:
    """(server, name of a template database with every migration and the seed applied)."""
    server = postgres.server()
    url = postgres.create_database(server.admin_url, prefix="engine_tmpl")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        seed(conn)
    yield server, str(conninfo_to_dict(url)["dbname"])
    postgres.drop_database(server.admin_url, url)


@contextmanager
def cloned(engine_pg_template: tuple[postgres.Server, str]) -> Iterator[EngineDb]:
    """A database of its own, copied from the migrated and seeded template, dropped after."""
    server, template = engine_pg_template
    url = postgres.with_dbname(server.admin_url, f"engine_t_{uuid.uuid4().hex[:16]}")
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(str(name)), sql.Identifier(template)
            )
        )
    app = _as_role(url, APP_ROLE)
    try:
        yield EngineDb(admin_url=url, app_url=app)
    finally:
        postgres.drop_database(server.admin_url, url)


@pytest.fixture
def engine_db(engine_pg_template: tuple[postgres.Server, str]) -> Iterator[EngineDb]:
    with cloned(engine_pg_template) as db:
        yield db


def seed(conn: psycopg.Connection) -> None:
    for code, name in BRANCHES:
        conn.execute(
            "INSERT INTO branches (branch_code, branch_name) VALUES (%s, %s)", (code, name)
        )
    for i, loan in enumerate(LOANS, start=1):
        customer_id = conn.execute(
            "INSERT INTO customers (customer_number, full_name, mobile_number, kyc_status)"
            " VALUES (%s, %s, %s, 'VERIFIED') RETURNING customer_id",
            (f"CUST{i:04d}", loan.customer_name, loan.mobile_number),
        ).fetchone()
        assert customer_id is not None
        conn.execute(
            "INSERT INTO loan_accounts (loan_account_number, customer_id, loan_type,"
            " principal_amount, outstanding_balance, emi_amount, next_due_date, loan_status,"
            " branch_code, overdue_amount) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                loan.loan_account_number,
                customer_id[0],
                loan.loan_type,
                Decimal("500000.00"),
                loan.outstanding,
                loan.emi,
                loan.next_due_date,
                loan.status,
                loan.branch_code,
                loan.overdue_amount,
            ),
        )


def _as_role(url: str, role: str) -> str:
    """`url` with the user swapped (the test servers trust local connections)."""
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params["user"] = role
    params.pop("password", None)
    return postgres.with_dbname(psycopg.conninfo.make_conninfo(**params), params["dbname"])
