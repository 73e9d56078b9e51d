"""Migration 0008: the payments table, its guards, and the loan columns the sync maintains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from engine.db.migrate import apply_migrations
from tests import postgres

LOAN = (
    "INSERT INTO branches (branch_code, branch_name) VALUES ('BR001', 'Chennai');"
    "INSERT INTO loan_accounts (loan_account_number, loan_type, outstanding_balance, branch_code)"
    " VALUES ('LN0001', 'LAP', 1000.00, 'BR001')"
)
PAYMENT = (
    "INSERT INTO payments (transaction_id, loan_account_number, branch_code, amount, status, "
    "channel, created_at, version{extra_columns}) VALUES ('pay_a', 'LN0001', 'BR001', "
    "{amount}, '{status}', 'PORTAL', now(), {version}{extra_values})"
)


def payment(
    amount: str = "100.00", status: str = "CREATED", version: int = 1, **extra: str
) -> bytes:
    return PAYMENT.format(
        amount=amount,
        status=status,
        version=version,
        extra_columns="".join(f", {c}" for c in extra),
        extra_values="".join(f", {v}" for v in extra.values()),
    ).encode()


@pytest.fixture(scope="module")
def migrated(pg_server: postgres.Server) -> Iterator[str]:
    url = postgres.create_database(pg_server.admin_url)
    with psycopg.connect(url, autocommit=True) as conn:
        apply_migrations(conn)
    yield url
    postgres.drop_database(pg_server.admin_url, url)


@pytest.fixture
def conn(migrated: str) -> Iterator[psycopg.Connection[Any]]:
    """Inside a transaction that is always rolled back: each case starts from the same rows."""
    with psycopg.connect(migrated) as connection:
        connection.execute(LOAN.encode())
        yield connection
        connection.rollback()


def test_applies_cleanly_after_0007_and_a_second_run_applies_nothing(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        applied = apply_migrations(conn)
        assert "0008" in applied and applied.index("0008") == applied.index("0007") + 1
        assert apply_migrations(conn) == []


def test_existing_loans_gain_zero_overdue_and_advance(conn: psycopg.Connection[Any]) -> None:
    found = conn.execute(
        b"SELECT overdue_amount, days_past_due, advance_balance FROM loan_accounts"
    ).fetchone()
    assert found is not None
    assert [str(v) for v in found] == ["0.00", "0", "0.00"]


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        pytest.param(payment(status="PAID"), "payments_status_check", id="status"),
        pytest.param(payment(amount="0"), "payments_amount_check", id="zero-amount"),
        pytest.param(payment(amount="-1"), "payments_amount_check", id="negative-amount"),
        pytest.param(payment(version=0), "payments_version_check", id="version-0"),
        pytest.param(
            payment(refunded_amount="100.01"), "payments_refunded_amount_check", id="over-refund"
        ),
        pytest.param(payment(balance_applied="-1"), "payments_effects_check", id="negative"),
        pytest.param(
            payment(balance_applied="60", advance_amount="30"),
            "payments_taken_check",
            id="taken-in-part",
        ),
        pytest.param(
            payment(balance_applied="100", balance_restored="100.01"),
            "payments_restored_check",
            id="restored-over",
        ),
        pytest.param(
            payment().replace(b"'LN0001'", b"'LN9999'"),
            "payments_loan_account_number_fkey",
            id="unknown-loan",
        ),
        pytest.param(
            b"UPDATE loan_accounts SET advance_balance = -0.01",
            "loan_accounts_advance_balance_check",
            id="negative-advance",
        ),
        pytest.param(
            b"UPDATE loan_accounts SET days_past_due = -1",
            "loan_accounts_days_past_due_check",
            id="negative-dpd",
        ),
        pytest.param(
            b"UPDATE loan_accounts SET overdue_amount = -1",
            "loan_accounts_overdue_amount_check",
            id="negative-overdue",
        ),
    ],
)
def test_constraints_reject(
    conn: psycopg.Connection[Any], statement: bytes, constraint: str
) -> None:
    with pytest.raises(psycopg.IntegrityError) as info, conn.transaction():
        conn.execute(statement)
    assert info.value.diag.constraint_name == constraint


def test_a_taken_payment_with_its_refund_is_accepted(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        payment(
            status="REFUNDED",
            refunded_amount="100",
            balance_applied="70",
            advance_amount="30",
            balance_restored="100",
        )
    )
    found = conn.execute(b"SELECT amount, synced_at IS NOT NULL FROM payments").fetchone()
    assert found is not None
    assert (str(found[0]), found[1]) == ("100.00", True)


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        (b"SELECT count(*) FROM payments", True),
        (payment(), True),
        (b"UPDATE payments SET status = 'CAPTURED'", True),
        (b"UPDATE loan_accounts SET advance_balance = 1", True),
        (b"DELETE FROM payments", False),
        (b"TRUNCATE payments", False),
    ],
)
def test_the_app_role_reads_and_writes_payments_but_never_deletes(
    conn: psycopg.Connection[Any], statement: bytes, allowed: bool
) -> None:
    conn.execute(b"SET LOCAL ROLE engine_app")
    if allowed:
        conn.execute(statement)
    else:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_history_reads_the_loan_index(conn: psycopg.Connection[Any]) -> None:
    conn.execute(b"SET LOCAL enable_seqscan = off")
    plan = conn.execute(
        b"EXPLAIN SELECT * FROM payments WHERE loan_account_number = 'LN0001' "
        b"ORDER BY created_at DESC LIMIT 20"
    ).fetchall()
    assert "payments_loan_account_number_created_at_idx" in " ".join(row[0] for row in plan)
