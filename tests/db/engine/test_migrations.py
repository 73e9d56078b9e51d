"""The engine's SQL migrations and their runner, against a real PostgreSQL.

Every test that migrates gets a database of its own (the `database` fixture); the constraint
tests share one migrated database and roll each case back.
"""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from engine.db import migrate
from engine.db.migrate import MigrationError, apply_migrations, latest_version
from engine.handlers import migrate as handler
from local.events import LambdaContext
from tests import postgres

ALL_VERSIONS = [
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
]

NOW = "now()"
UUID = "gen_random_uuid()"
TZ = "timestamp with time zone"

# (column, type, NOT NULL, default) in column order, per table.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, bool, str | None]]] = {
    "roles": [
        ("role_id", "uuid", True, UUID),
        ("role_name", "varchar(100)", True, None),
        ("description", "text", False, None),
        ("permissions", "jsonb", True, "'[]'::jsonb"),
        ("created_at", TZ, True, NOW),
    ],
    "branches": [
        ("branch_code", "varchar(20)", True, None),
        ("branch_name", "varchar(200)", True, None),
        ("region_code", "varchar(10)", False, None),
        ("address", "jsonb", False, None),
        ("contact_info", "jsonb", False, None),
        ("is_active", "boolean", True, "true"),
        ("created_at", TZ, True, NOW),
    ],
    "users": [
        ("user_id", "uuid", True, UUID),
        ("username", "varchar(100)", True, None),
        ("email", "varchar(255)", True, None),
        ("sam_account_name", "varchar(100)", False, None),
        ("role_id", "uuid", False, None),
        ("branch_code", "varchar(20)", False, None),
        ("is_active", "boolean", True, "true"),
        ("last_login_at", TZ, False, None),
        ("created_at", TZ, True, NOW),
        ("updated_at", TZ, True, NOW),
        ("employee_id", "varchar(32)", False, None),
        ("exited_at", TZ, False, None),
        ("hrms_updated_at", TZ, False, None),
    ],
    "customers": [
        ("customer_id", "uuid", True, UUID),
        ("customer_number", "varchar(50)", True, None),
        ("full_name", "varchar(200)", True, None),
        ("mobile_number", "varchar(15)", False, None),
        ("email", "varchar(255)", False, None),
        ("address", "jsonb", False, None),
        ("kyc_status", "varchar(20)", False, None),
        ("created_at", TZ, True, NOW),
    ],
    "loan_accounts": [
        ("loan_account_id", "uuid", True, UUID),
        ("loan_account_number", "varchar(50)", True, None),
        ("customer_id", "uuid", False, None),
        ("loan_type", "varchar(20)", True, None),
        ("principal_amount", "numeric(15,2)", False, None),
        ("outstanding_balance", "numeric(15,2)", False, None),
        ("emi_amount", "numeric(10,2)", False, None),
        ("next_due_date", "date", False, None),
        ("loan_status", "varchar(20)", True, "'ACTIVE'::character varying"),
        ("branch_code", "varchar(20)", False, None),
        ("created_at", TZ, True, NOW),
        ("overdue_amount", "numeric(15,2)", True, "0"),
        ("days_past_due", "integer", True, "0"),
        ("advance_balance", "numeric(15,2)", True, "0"),
        ("lms_updated_at", TZ, False, None),
        ("lms_receipt_references", "ARRAY", True, "'{}'::text[]"),
    ],
    "payments": [
        ("transaction_id", "varchar(40)", True, None),
        ("loan_account_number", "varchar(50)", True, None),
        ("branch_code", "varchar(20)", True, None),
        ("amount", "numeric(15,2)", True, None),
        ("status", "varchar(20)", True, None),
        ("receipt_number", "varchar(64)", False, None),
        ("razorpay_order_id", "varchar(64)", False, None),
        ("razorpay_payment_id", "varchar(64)", False, None),
        ("payment_method", "varchar(20)", False, None),
        ("channel", "varchar(20)", True, None),
        ("created_at", TZ, True, None),
        ("captured_at", TZ, False, None),
        ("refunded_amount", "numeric(15,2)", True, "0"),
        ("version", "bigint", True, None),
        ("balance_applied", "numeric(15,2)", True, "0"),
        ("advance_amount", "numeric(15,2)", True, "0"),
        ("balance_restored", "numeric(15,2)", True, "0"),
        ("synced_at", TZ, True, NOW),
        ("lms_receipt_id", "varchar(40)", False, None),
        ("lms_posted_at", TZ, False, None),
        ("purpose", "varchar(20)", False, None),
    ],
    "lms_sync_state": [
        ("sync_name", "varchar(40)", True, None),
        ("watermark", TZ, True, None),
        ("cursor", "text", False, None),
        ("run_high_water", TZ, False, None),
        ("run_started_at", TZ, False, None),
        ("run_pages", "integer", True, "0"),
        ("last_finished_at", TZ, False, None),
        ("updated_at", TZ, True, NOW),
    ],
    "hrms_sync_state": [
        ("sync_name", "varchar(40)", True, None),
        ("watermark", TZ, True, None),
        ("cursor", "text", False, None),
        ("run_high_water", TZ, False, None),
        ("run_started_at", TZ, False, None),
        ("run_pages", "integer", True, "0"),
        ("last_finished_at", TZ, False, None),
        ("updated_at", TZ, True, NOW),
    ],
    # change_id is an identity column (no column default): IDENTITY_COLUMNS pins it.
    "hrms_changes": [
        ("change_id", "bigint", True, None),
        ("user_id", "uuid", True, None),
        ("action", "varchar(40)", True, None),
        ("pool_action", "varchar(20)", False, None),
        ("branch_code", "varchar(20)", False, None),
        ("details", "jsonb", True, "'{}'::jsonb"),
        ("changed_at", TZ, True, NOW),
        ("attempts", "integer", True, "0"),
        ("claimed_until", TZ, False, None),
        ("last_error", "varchar(100)", False, None),
        ("done_at", TZ, False, None),
    ],
    "payment_mandates": [
        ("mandate_id", "uuid", True, UUID),
        ("umrn", "varchar(50)", False, None),
        ("loan_account_number", "varchar(50)", False, None),
        ("mandate_type", "varchar(10)", True, None),
        ("bank_account_number", "varchar(50)", False, None),
        ("ifsc_code", "varchar(11)", False, None),
        ("upi_id", "varchar(100)", False, None),
        ("amount", "numeric(10,2)", False, None),
        ("frequency", "varchar(20)", True, "'MONTHLY'::character varying"),
        ("start_date", "date", False, None),
        ("end_date", "date", False, None),
        ("status", "varchar(20)", True, "'PENDING'::character varying"),
        ("created_by", "uuid", False, None),
        ("approved_by", "uuid", False, None),
        ("approved_at", TZ, False, None),
        ("created_at", TZ, True, NOW),
    ],
    "dcr_sessions": [
        ("dcr_id", "uuid", True, UUID),
        ("branch_code", "varchar(20)", True, None),
        ("collection_date", "date", True, None),
        ("total_field_collections", "numeric(12,2)", True, "0"),
        ("total_branch_collections", "numeric(12,2)", True, "0"),
        ("total_legal_fees", "numeric(12,2)", True, "0"),
        ("total_other_fees", "numeric(12,2)", True, "0"),
        ("total_challans", "numeric(12,2)", True, "0"),
        ("closing_balance", "numeric(12,2)", True, "0"),
        ("status", "varchar(20)", True, "'DRAFT'::character varying"),
        ("created_by", "uuid", False, None),
        ("submitted_at", TZ, False, None),
        ("approved_by", "uuid", False, None),
        ("approved_at", TZ, False, None),
        ("created_at", TZ, True, NOW),
        ("submitted_by", "uuid", False, None),
        ("rejected_by", "uuid", False, None),
        ("rejected_at", TZ, False, None),
        ("rejection_reason", "text", False, None),
        ("reopened_by", "uuid", False, None),
        ("reopened_at", TZ, False, None),
        ("cash_collected", "numeric(12,2)", True, "0"),
        ("cheque_collected", "numeric(12,2)", True, "0"),
        ("counted_cash", "numeric(12,2)", False, None),
        ("variance_amount", "numeric(12,2)", False, None),
        ("variance_reason", "text", False, None),
        ("version", "integer", True, "1"),
        ("audit_owed_at", TZ, False, None),
    ],
    "dbs_entries": [
        ("dbs_entry_id", "uuid", True, UUID),
        ("dcr_id", "uuid", True, None),
        ("denomination", "numeric(6,2)", True, None),
        ("count", "integer", True, None),
        ("total_value", "numeric(10,2)", True, None),
        ("created_at", TZ, True, NOW),
    ],
    "collections": [
        ("collection_id", "uuid", True, UUID),
        ("transaction_id", "varchar(40)", True, None),
        ("receipt_number", "varchar(64)", True, None),
        ("branch_code", "varchar(20)", True, None),
        ("business_date", "date", True, None),
        ("loan_account_number", "varchar(50)", True, None),
        ("customer_id", "uuid", False, None),
        ("amount", "numeric(12,2)", True, None),
        ("mode", "varchar(20)", True, None),
        ("instrument", "jsonb", False, None),
        ("purpose", "varchar(20)", True, None),
        ("channel", "varchar(10)", True, None),
        ("payer_key", "varchar(80)", True, None),
        ("payer_name", "varchar(200)", False, None),
        ("collected_at", TZ, True, None),
        ("collected_on", "date", True, None),
        ("created_by", "uuid", True, None),
        ("idempotency_key_hash", "char(64)", True, None),
        ("request_hash", "char(64)", True, None),
        ("status", "varchar(20)", True, "'CAPTURED'::character varying"),
        ("cancelled_by", "uuid", False, None),
        ("cancelled_at", TZ, False, None),
        ("cancellation_reason", "varchar(500)", False, None),
        ("recorded_at", TZ, False, None),
        ("cancel_recorded_at", TZ, False, None),
        ("created_at", TZ, True, NOW),
    ],
}

# (table, column) -> identity generation ('ALWAYS': the app can never choose the value).
IDENTITY_COLUMNS = {("hrms_changes", "change_id"): "ALWAYS"}

# (table, column) -> (referenced table, referenced column)
EXPECTED_FOREIGN_KEYS = {
    ("users", "role_id"): ("roles", "role_id"),
    ("users", "branch_code"): ("branches", "branch_code"),
    ("loan_accounts", "customer_id"): ("customers", "customer_id"),
    ("loan_accounts", "branch_code"): ("branches", "branch_code"),
    ("payment_mandates", "loan_account_number"): ("loan_accounts", "loan_account_number"),
    ("payment_mandates", "created_by"): ("users", "user_id"),
    ("payment_mandates", "approved_by"): ("users", "user_id"),
    ("dcr_sessions", "branch_code"): ("branches", "branch_code"),
    ("dcr_sessions", "created_by"): ("users", "user_id"),
    ("dcr_sessions", "approved_by"): ("users", "user_id"),
    ("dbs_entries", "dcr_id"): ("dcr_sessions", "dcr_id"),
    ("payments", "loan_account_number"): ("loan_accounts", "loan_account_number"),
    ("collections", "branch_code"): ("branches", "branch_code"),
    ("collections", "loan_account_number"): ("loan_accounts", "loan_account_number"),
    ("collections", "customer_id"): ("customers", "customer_id"),
    ("collections", "created_by"): ("users", "user_id"),
    ("collections", "cancelled_by"): ("users", "user_id"),
    ("dcr_sessions", "submitted_by"): ("users", "user_id"),
    ("dcr_sessions", "rejected_by"): ("users", "user_id"),
    ("dcr_sessions", "reopened_by"): ("users", "user_id"),
    ("hrms_changes", "user_id"): ("users", "user_id"),
}

EXPECTED_UNIQUE = {
    ("roles", "roles_role_name_key"),
    ("users", "users_username_key"),
    ("customers", "customers_customer_number_key"),
    ("loan_accounts", "loan_accounts_loan_account_number_key"),
    ("payment_mandates", "payment_mandates_umrn_key"),
    ("dcr_sessions", "dcr_sessions_branch_code_collection_date_key"),
    ("dbs_entries", "dbs_entries_dcr_id_denomination_key"),
    ("users", "users_employee_id_key"),
    ("collections", "collections_transaction_id_key"),
    ("collections", "collections_receipt_number_key"),
    ("collections", "collections_created_by_idempotency_key_hash_key"),
}

EXPECTED_CHECKS = {
    "loan_accounts_loan_type_check",
    "loan_accounts_loan_status_check",
    "loan_accounts_principal_amount_check",
    "loan_accounts_outstanding_balance_check",
    "loan_accounts_emi_amount_check",
    "customers_kyc_status_check",
    "payment_mandates_mandate_type_check",
    "payment_mandates_status_check",
    "payment_mandates_frequency_check",
    "payment_mandates_ifsc_code_check",
    "payment_mandates_amount_check",
    "payment_mandates_dates_check",
    "payment_mandates_upi_details_check",
    "payment_mandates_nach_details_check",
    "payment_mandates_approval_check",
    "dcr_sessions_status_check",
    "dcr_sessions_amounts_check",
    "dcr_sessions_approval_check",
    "dcr_sessions_collected_check",
    "dcr_sessions_version_check",
    "dcr_sessions_submission_check",
    "dcr_sessions_counted_check",
    "dcr_sessions_variance_check",
    "dcr_sessions_rejection_check",
    "dcr_sessions_reopen_check",
    "dbs_entries_denomination_check",
    "dbs_entries_count_check",
    "dbs_entries_total_value_check",
    "payments_status_check",
    "payments_purpose_check",
    "collections_amount_check",
    "collections_mode_check",
    "collections_instrument_check",
    "collections_purpose_check",
    "collections_channel_check",
    "collections_payer_key_check",
    "collections_hashes_check",
    "collections_status_check",
    "collections_cancellation_check",
    "collections_cancel_recorded_check",
    "users_employee_id_check",
    "hrms_sync_state_sync_name_check",
    "hrms_sync_state_cursor_check",
    "hrms_sync_state_run_pages_check",
    "hrms_changes_action_check",
    "hrms_changes_pool_action_check",
    "hrms_changes_details_check",
    "hrms_changes_attempts_check",
}

# Dropped by a later migration: 0012 folds 0006's submitted check into the submission check.
DROPPED_CHECKS = {"dcr_sessions_submitted_check"}

EXPECTED_INDEXES = {
    "loan_accounts_customer_id_idx",
    "loan_accounts_branch_code_idx",
    "payment_mandates_loan_account_number_idx",
    "users_role_id_idx",
    "users_branch_code_idx",
    "dcr_sessions_branch_code_collection_date_key",
    "dcr_sessions_submitted_by_idx",
    "dcr_sessions_rejected_by_idx",
    "dcr_sessions_reopened_by_idx",
    "dcr_sessions_audit_owed_at_idx",
    "collections_branch_code_business_date_idx",
    "collections_payer_key_collected_on_idx",
    "collections_branch_code_created_at_idx",
    "collections_created_by_created_at_idx",
    "collections_created_at_idx",
    "collections_loan_account_number_idx",
    "collections_customer_id_idx",
    "collections_cancelled_by_idx",
    "collections_unrecorded_idx",
    "collections_cancel_unrecorded_idx",
    "users_employee_id_key",
    "hrms_changes_user_id_idx",
    "hrms_changes_pending_idx",
}


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query.encode(), params or None).fetchall()


def columns(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, str, bool, str | None]]:
    found = rows(
        conn,
        """
        SELECT column_name, data_type, character_maximum_length, numeric_precision,
               numeric_scale, is_nullable, column_default
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = %s
        ORDER BY ordinal_position
        """,
        table,
    )
    result = []
    for name, data_type, length, precision, scale, nullable, default in found:
        kind = data_type
        if data_type == "character varying":
            kind = f"varchar({length})"
        elif data_type == "character":
            kind = f"char({length})"
        elif data_type == "numeric":
            kind = f"numeric({precision},{scale})"
        result.append((name, kind, nullable == "NO", default))
    return result


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Everything a migration could change, to compare before and after a second run."""
    return {
        "columns": {table: columns(conn, table) for table in EXPECTED_COLUMNS},
        "constraints": rows(
            conn,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
        ),
        "indexes": rows(
            conn,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        ),
        "triggers": rows(
            conn, "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
        ),
        "migrations": rows(conn, "SELECT * FROM schema_migrations ORDER BY version"),
    }


def tables(conn: psycopg.Connection[Any]) -> set[str]:
    found = rows(
        conn,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    return {name for (name,) in found}


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, target)
    return target


# --- the schema ----------------------------------------------------------------------------


def test_creates_every_seed_table_with_its_columns(database: str) -> None:
    with connect(database) as conn:
        assert apply_migrations(conn) == ALL_VERSIONS
        assert tables(conn) == {*EXPECTED_COLUMNS, "schema_migrations"}
        for table, expected in EXPECTED_COLUMNS.items():
            assert columns(conn, table) == expected, table
        identity = rows(
            conn,
            "SELECT table_name, column_name, identity_generation FROM information_schema.columns "
            "WHERE table_schema = 'public' AND is_identity = 'YES'",
        )
        assert {(t, c): g for t, c, g in identity} == IDENTITY_COLUMNS


def test_foreign_keys_uniques_checks_and_indexes(database: str) -> None:
    with connect(database) as conn:
        apply_migrations(conn)
        foreign = rows(
            conn,
            """
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, r.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
            """,
        )
        assert {(t, c): (rt, rc) for t, c, rt, rc in foreign} == EXPECTED_FOREIGN_KEYS
        unique = rows(
            conn,
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'u' AND connamespace = 'public'::regnamespace",
        )
        assert set(unique) == EXPECTED_UNIQUE
        checks = {
            name for (name,) in rows(conn, "SELECT conname FROM pg_constraint WHERE contype = 'c'")
        }
        assert checks >= EXPECTED_CHECKS
        assert checks.isdisjoint(DROPPED_CHECKS)
        indexes = {
            name
            for (name,) in rows(
                conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
        assert indexes >= EXPECTED_INDEXES


def test_every_foreign_key_column_leads_an_index(database: str) -> None:
    with connect(database) as conn:
        apply_migrations(conn)
        unindexed = rows(
            conn,
            """
            SELECT c.conrelid::regclass::text, c.conname
            FROM pg_constraint c
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
              AND NOT EXISTS (
                  SELECT 1 FROM pg_index i
                  WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
                    AND i.indpred IS NULL
              )
            """,
        )
        assert unindexed == []


def test_users_updated_at_moves_on_a_real_change_only(database: str) -> None:
    with connect(database) as conn:
        apply_migrations(conn)
        (user_id, created) = rows(
            conn,
            "INSERT INTO users (username, email) VALUES ('asha', 'asha@example.in') "
            "RETURNING user_id, updated_at",
        )[0]
        rows(conn, "UPDATE users SET email = email WHERE user_id = %s RETURNING 1", user_id)
        assert rows(conn, "SELECT updated_at FROM users")[0][0] == created
        rows(conn, "UPDATE users SET is_active = false WHERE user_id = %s RETURNING 1", user_id)
        (updated, created_at) = rows(conn, "SELECT updated_at, created_at FROM users")[0]
        assert updated > created
        assert created_at == created


# --- the runner ----------------------------------------------------------------------------


def test_second_run_applies_nothing_and_changes_nothing(database: str) -> None:
    with connect(database) as conn:
        assert apply_migrations(conn) == ALL_VERSIONS
        before = snapshot(conn)
        assert apply_migrations(conn) == []
        assert snapshot(conn) == before
        assert latest_version(conn) == ALL_VERSIONS[-1]
        recorded = dict(rows(conn, "SELECT version, checksum FROM schema_migrations"))
        assert recorded == {m.version: m.checksum for m in migrate.load_migrations()}


def test_files_apply_in_version_order_not_name_order(database: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "10_third.sql": "INSERT INTO log (v) VALUES ('10');",
            "2_second.sql": "INSERT INTO log (v) VALUES ('2');",
            "1_first.sql": "CREATE TABLE log (id serial PRIMARY KEY, v text);"
            "INSERT INTO log (v) VALUES ('1');",
            "README.md": "not a migration",
        },
    )
    with connect(database) as conn:
        assert apply_migrations(conn, directory) == ["1", "2", "10"]
        assert [v for (v,) in rows(conn, "SELECT v FROM log ORDER BY id")] == ["1", "2", "10"]
        assert latest_version(conn) == "10"


def test_new_files_are_applied_on_the_next_run(database: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    with connect(database) as conn:
        apply_migrations(conn, directory)
        write(directory, {"0099_receipts.sql": "CREATE TABLE receipts (id uuid PRIMARY KEY);"})
        assert apply_migrations(conn, directory) == ["0099"]
        assert "receipts" in tables(conn)


def test_an_edited_applied_file_is_refused(database: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    with connect(database) as conn:
        apply_migrations(conn, directory)
        edited = directory / "0003_users.sql"
        edited.write_text(edited.read_text() + "\nALTER TABLE users ADD COLUMN phone text;\n")
        write(directory, {"0099_receipts.sql": "CREATE TABLE receipts (id uuid PRIMARY KEY);"})
        with pytest.raises(MigrationError, match=r"0003_users\.sql was changed after it was"):
            apply_migrations(conn, directory)
        assert "receipts" not in tables(conn)
        assert latest_version(conn) == ALL_VERSIONS[-1]


def test_line_endings_alone_are_not_an_edit(database: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    with connect(database) as conn:
        apply_migrations(conn, directory)
        path = directory / "0004_customers_loans.sql"
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        assert apply_migrations(conn, directory) == []


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, id="same-text"),
        pytest.param({"0001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 1;"}, id="same-number"),
    ],
)
def test_a_duplicate_version_is_refused_before_touching_the_database(
    database: str, tmp_path: Path, files: dict[str, str]
) -> None:
    with connect(database) as conn:
        with pytest.raises(MigrationError, match="duplicate migration version"):
            apply_migrations(conn, write(tmp_path, files))
        assert tables(conn) == set()


@pytest.mark.parametrize("name", ["0001-extensions.sql", "extensions.sql", "0001_.sql"])
def test_a_badly_named_sql_file_is_refused(database: str, tmp_path: Path, name: str) -> None:
    with connect(database) as conn, pytest.raises(MigrationError, match="must be named"):
        apply_migrations(conn, write(tmp_path, {name: "SELECT 1;"}))


def test_a_pending_file_older_than_the_newest_applied_is_refused(
    database: str, tmp_path: Path
) -> None:
    directory = write(tmp_path, {"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"})
    with connect(database) as conn:
        apply_migrations(conn, directory)
        write(directory, {"0002_b.sql": "CREATE TABLE late ();"})
        with pytest.raises(MigrationError, match=r"0002_b\.sql are older than the newest"):
            apply_migrations(conn, directory)
        assert "late" not in tables(conn)


def test_a_database_ahead_of_the_files_is_tolerated(database: str, tmp_path: Path) -> None:
    """What a CloudFormation rollback to older code looks like: no error, nothing applied."""
    directory = copy_migrations(tmp_path)
    with connect(database) as conn:
        apply_migrations(conn, directory)
        (directory / "0006_reconciliation.sql").unlink()
        assert apply_migrations(conn, directory) == []
        assert latest_version(conn) == ALL_VERSIONS[-1]


def test_a_failing_file_rolls_back_alone(database: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "1_ok.sql": "CREATE TABLE one ();",
            "2_broken.sql": "CREATE TABLE two (); SELECT 1 / 0;",
            "3_after.sql": "CREATE TABLE three ();",
        },
    )
    with connect(database) as conn:
        with pytest.raises(MigrationError, match=r"2_broken\.sql failed") as info:
            apply_migrations(conn, directory)
        assert isinstance(info.value.__cause__, errors.DivisionByZero)
        assert tables(conn) == {"one", "schema_migrations"}
        assert latest_version(conn) == "1"
        write(directory, {"2_broken.sql": "CREATE TABLE two ();"})
        assert apply_migrations(conn, directory) == ["2", "3"]


def test_a_file_that_ends_its_own_transaction_is_refused(database: str, tmp_path: Path) -> None:
    directory = write(tmp_path, {"1_commits.sql": "CREATE TABLE early (); COMMIT;"})
    with connect(database) as conn:
        with pytest.raises(MigrationError, match="ended its own transaction"):
            apply_migrations(conn, directory)
        assert latest_version(conn) is None


def test_a_connection_inside_a_transaction_is_refused(database: str) -> None:
    with psycopg.connect(database) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(MigrationError, match="not inside a transaction"):
            apply_migrations(conn)


def test_a_missing_directory_is_refused(database: str, tmp_path: Path) -> None:
    with connect(database) as conn, pytest.raises(MigrationError, match="does not exist"):
        apply_migrations(conn, tmp_path / "nope")


@pytest.mark.parametrize("slow", [False, True], ids=["real-files", "slow-first-file"])
def test_concurrent_runs_apply_each_version_exactly_once(
    database: str, tmp_path: Path, slow: bool
) -> None:
    """Two deploys at once, two connections: the advisory lock serialises them.

    With a slow first file both runners are certainly inside the race at the same time;
    without the lock both would apply it and one would fail.
    """
    directory = copy_migrations(tmp_path)
    if slow:
        write(directory, {"0000_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE slow ();"})
    expected = [m.version for m in migrate.load_migrations(directory)]
    runners = 3
    barrier = threading.Barrier(runners)
    results: list[list[str]] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with connect(database) as conn:
                barrier.wait(timeout=10)
                results.append(apply_migrations(conn, directory))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    applied = sorted((v for result in results for v in result), key=int)
    assert applied == expected
    with connect(database) as conn:
        recorded = rows(conn, "SELECT version FROM schema_migrations ORDER BY version")
        assert [v for (v,) in recorded] == expected


# --- constraints ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated(pg_server: postgres.Server) -> Iterator[str]:
    """One migrated database for the constraint cases, each of which is rolled back."""
    url = postgres.create_database(pg_server.admin_url)
    with connect(url) as conn:
        apply_migrations(conn)
    yield url
    postgres.drop_database(pg_server.admin_url, url)


@pytest.fixture
def conn(migrated: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(migrated) as connection:
        yield connection


# Stands for the seeded user's id in a builder's overrides.
USER = object()

# The seeded collection: a case that repeats one of these values collides with it.
SEEDED_COLLECTION = {
    "transaction_id": "TXN-C-1",
    "receipt_number": "RCPT-C-1",
    "idempotency_key_hash": "a" * 64,
}


# A timestamp for rows whose time does not matter.
NOW_TS = "2026-01-05T00:00:00Z"


def seed(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A valid branch, role, user, customer, loan, DCR, collection: what the cases build on."""
    role = rows(conn, "INSERT INTO roles (role_name) VALUES ('checker') RETURNING role_id")[0][0]
    rows(
        conn,
        "INSERT INTO branches (branch_code, branch_name) VALUES ('BR001', 'Chennai') RETURNING 1",
    )
    user = rows(
        conn,
        "INSERT INTO users (username, email, role_id, branch_code, employee_id) "
        "VALUES ('ravi', 'ravi@example.in', %s, 'BR001', 'DB-1001') RETURNING user_id",
        role,
    )[0][0]
    customer = rows(
        conn,
        "INSERT INTO customers (customer_number, full_name, mobile_number, kyc_status) "
        "VALUES ('C-1', 'Lakshmi N', '+919876543210', 'VERIFIED') RETURNING customer_id",
    )[0][0]
    rows(
        conn,
        "INSERT INTO loan_accounts (loan_account_number, customer_id, loan_type, "
        "principal_amount, outstanding_balance, emi_amount, branch_code) "
        "VALUES ('LN-1', %s, 'LAP', 500000.00, 420000.50, 12500.75, 'BR001') RETURNING 1",
        customer,
    )
    dcr = rows(
        conn,
        "INSERT INTO dcr_sessions (branch_code, collection_date, created_by) "
        "VALUES ('BR001', '2026-01-05', %s) RETURNING dcr_id",
        user,
    )[0][0]
    ids = {"user": user, "customer": customer, "dcr": dcr}
    conn.execute(*collection(**SEEDED_COLLECTION)(ids))
    return ids


def insert(table: str, values: dict[str, Any]) -> tuple[sql.Composed, dict[str, Any]]:
    statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
    )
    return statement, values


def mandate(**overrides: Any) -> tuple[sql.Composed, dict[str, Any]]:
    values: dict[str, Any] = {
        "loan_account_number": "LN-1",
        "mandate_type": "NACH",
        "bank_account_number": "50100012345678",
        "ifsc_code": "HDFC0001234",
        "upi_id": None,
        "amount": Decimal("12500.75"),
        "start_date": date(2026, 2, 1),
        "end_date": date(2031, 1, 1),
        "status": "PENDING",
        "approved_by": None,
        "approved_at": None,
    }
    values.update(overrides)
    return insert("payment_mandates", values)


def loan(**overrides: Any) -> tuple[sql.Composed, dict[str, Any]]:
    values: dict[str, Any] = {
        "loan_account_number": "LN-2",
        "loan_type": "HL",
        "principal_amount": Decimal(1000),
        "loan_status": "ACTIVE",
        "branch_code": "BR001",
    }
    values.update(overrides)
    return insert("loan_accounts", values)


def dbs(denomination: str, count: int, total: str) -> Callable[[dict[str, Any]], Any]:
    return lambda ids: (
        "INSERT INTO dbs_entries (dcr_id, denomination, count, total_value) "
        "VALUES (%(dcr)s, %(d)s, %(c)s, %(t)s)",
        {"dcr": ids["dcr"], "d": Decimal(denomination), "c": count, "t": Decimal(total)},
    )


def dcr(**overrides: Any) -> Callable[[dict[str, Any]], Any]:
    values = {"branch_code": "BR001", "collection_date": date(2026, 1, 6), **overrides}
    return lambda ids: insert("dcr_sessions", values)


def submitted_dcr(**overrides: Any) -> Callable[[dict[str, Any]], Any]:
    """A SUBMITTED day whose count matches the cash collected, unless overridden."""

    def make(ids: dict[str, Any]) -> Any:
        values = {
            "branch_code": "BR001",
            "collection_date": date(2026, 1, 6),
            "status": "SUBMITTED",
            "submitted_by": ids["user"],
            "submitted_at": "2026-01-06T18:00:00+05:30",
            "cash_collected": Decimal("1000.00"),
            "counted_cash": Decimal("1000.00"),
            "variance_amount": Decimal("0.00"),
            **{k: ids["user"] if v is USER else v for k, v in overrides.items()},
        }
        return insert("dcr_sessions", values)

    return make


def collection(**overrides: Any) -> Callable[[dict[str, Any]], Any]:
    """A valid cash EMI collected in the field from the borrower, unless overridden."""

    def make(ids: dict[str, Any]) -> Any:
        values = {
            "transaction_id": "TXN-C-2",
            "receipt_number": "RCPT-C-2",
            "branch_code": "BR001",
            "business_date": date(2026, 1, 5),
            "loan_account_number": "LN-1",
            "customer_id": ids["customer"],
            "amount": Decimal("5000.00"),
            "mode": "CASH",
            "instrument": None,
            "purpose": "EMI",
            "channel": "FIELD",
            "payer_key": f"customer:{ids['customer']}",
            "collected_at": "2026-01-05T10:00:00+05:30",
            "collected_on": date(2026, 1, 5),
            "created_by": ids["user"],
            "idempotency_key_hash": "c" * 64,
            "request_hash": "d" * 64,
            **{k: ids["user"] if v is USER else v for k, v in overrides.items()},
        }
        return insert("collections", values)

    return make


def payment(**overrides: Any) -> tuple[sql.Composed, dict[str, Any]]:
    values: dict[str, Any] = {
        "transaction_id": "TXN-P-1",
        "loan_account_number": "LN-1",
        "branch_code": "BR001",
        "amount": Decimal("5000.00"),
        "status": "CAPTURED",
        "channel": "FIELD",
        "created_at": "2026-01-05T10:00:00+05:30",
        "version": 1,
    }
    values.update(overrides)
    return insert("payments", values)


def hrms_change(**overrides: Any) -> Callable[[dict[str, Any]], Any]:
    def make(ids: dict[str, Any]) -> Any:
        return insert(
            "hrms_changes", {"user_id": ids["user"], "action": "USER_LINKED", **overrides}
        )

    return make


def fixed(statement: tuple[Any, dict[str, Any]]) -> Callable[[dict[str, Any]], Any]:
    return lambda ids: statement


REJECTED = [
    (
        "ifsc-fifth-char-not-zero",
        fixed(mandate(ifsc_code="HDFC1001234")),
        errors.CheckViolation,
        "payment_mandates_ifsc_code_check",
    ),
    (
        "ifsc-lower-case",
        fixed(mandate(ifsc_code="hdfc0001234")),
        errors.CheckViolation,
        "payment_mandates_ifsc_code_check",
    ),
    (
        "ifsc-too-short",
        fixed(mandate(ifsc_code="HDFC000123")),
        errors.CheckViolation,
        "payment_mandates_ifsc_code_check",
    ),
    (
        "negative-mandate-amount",
        fixed(mandate(amount=Decimal("-0.01"))),
        errors.CheckViolation,
        "payment_mandates_amount_check",
    ),
    (
        "unknown-mandate-type",
        fixed(mandate(mandate_type="CARD")),
        errors.CheckViolation,
        "payment_mandates_mandate_type_check",
    ),
    (
        "unknown-mandate-status",
        fixed(mandate(status="DONE")),
        errors.CheckViolation,
        "payment_mandates_status_check",
    ),
    (
        "end-before-start",
        fixed(mandate(end_date=date(2026, 1, 1))),
        errors.CheckViolation,
        "payment_mandates_dates_check",
    ),
    (
        "upi-without-vpa",
        fixed(mandate(mandate_type="UPI", ifsc_code=None)),
        errors.CheckViolation,
        "payment_mandates_upi_details_check",
    ),
    (
        "nach-without-ifsc",
        fixed(mandate(ifsc_code=None)),
        errors.CheckViolation,
        "payment_mandates_nach_details_check",
    ),
    (
        "approved-by-without-when",
        lambda ids: mandate(approved_by=ids["user"]),
        errors.CheckViolation,
        "payment_mandates_approval_check",
    ),
    (
        "mandate-for-unknown-loan",
        fixed(mandate(loan_account_number="LN-404")),
        errors.ForeignKeyViolation,
        "payment_mandates_loan_account_number_fkey",
    ),
    (
        "unknown-loan-type",
        fixed(loan(loan_type="PL")),
        errors.CheckViolation,
        "loan_accounts_loan_type_check",
    ),
    (
        "unknown-loan-status",
        fixed(loan(loan_status="OPEN")),
        errors.CheckViolation,
        "loan_accounts_loan_status_check",
    ),
    (
        "negative-principal",
        fixed(loan(principal_amount=Decimal(-1))),
        errors.CheckViolation,
        "loan_accounts_principal_amount_check",
    ),
    ("null-loan-status", fixed(loan(loan_status=None)), errors.NotNullViolation, None),
    (
        "loan-at-unknown-branch",
        fixed(loan(branch_code="BR404")),
        errors.ForeignKeyViolation,
        "loan_accounts_branch_code_fkey",
    ),
    (
        "duplicate-loan-number",
        fixed(loan(loan_account_number="LN-1")),
        errors.UniqueViolation,
        "loan_accounts_loan_account_number_key",
    ),
    (
        "dbs-total-not-denomination-times-count",
        dbs("500", 3, "1400"),
        errors.CheckViolation,
        "dbs_entries_total_value_check",
    ),
    (
        "dbs-zero-denomination",
        dbs("0", 3, "0"),
        errors.CheckViolation,
        "dbs_entries_denomination_check",
    ),
    (
        "dbs-negative-count",
        dbs("100", -1, "-100"),
        errors.CheckViolation,
        "dbs_entries_count_check",
    ),
    (
        "dcr-negative-closing-balance",
        dcr(closing_balance=Decimal("-5")),
        errors.CheckViolation,
        "dcr_sessions_amounts_check",
    ),
    ("dcr-unknown-status", dcr(status="OPEN"), errors.CheckViolation, "dcr_sessions_status_check"),
    (
        "dcr-submitted-without-time",
        dcr(status="SUBMITTED"),
        errors.CheckViolation,
        "dcr_sessions_submission_check",
    ),
    (
        "dcr-submitted-without-submitter",
        submitted_dcr(submitted_by=None),
        errors.CheckViolation,
        "dcr_sessions_submission_check",
    ),
    (
        "dcr-submitted-without-count",
        submitted_dcr(counted_cash=None, variance_amount=None),
        errors.CheckViolation,
        "dcr_sessions_submission_check",
    ),
    (
        "dcr-draft-with-a-submission",
        submitted_dcr(status="DRAFT"),
        errors.CheckViolation,
        "dcr_sessions_submission_check",
    ),
    (
        "dcr-variance-not-counted-minus-collected",
        submitted_dcr(variance_amount=Decimal("5.00"), variance_reason="extra"),
        errors.CheckViolation,
        "dcr_sessions_counted_check",
    ),
    (
        "dcr-short-without-a-reason",
        submitted_dcr(counted_cash=Decimal("990.00"), variance_amount=Decimal("-10.00")),
        errors.CheckViolation,
        "dcr_sessions_variance_check",
    ),
    (
        "dcr-blank-variance-reason",
        submitted_dcr(
            counted_cash=Decimal("990.00"), variance_amount=Decimal("-10.00"), variance_reason=" "
        ),
        errors.CheckViolation,
        "dcr_sessions_variance_check",
    ),
    (
        "dcr-negative-cash-collected",
        dcr(cash_collected=Decimal("-1")),
        errors.CheckViolation,
        "dcr_sessions_collected_check",
    ),
    ("dcr-version-0", dcr(version=0), errors.CheckViolation, "dcr_sessions_version_check"),
    (
        "dcr-approved-without-approver",
        submitted_dcr(status="APPROVED"),
        errors.CheckViolation,
        "dcr_sessions_approval_check",
    ),
    (
        "dcr-approver-on-a-day-not-approved",
        submitted_dcr(approved_by=USER, approved_at="2026-01-06T19:00:00+05:30"),
        errors.CheckViolation,
        "dcr_sessions_approval_check",
    ),
    (
        "dcr-rejected-without-rejection",
        submitted_dcr(status="REJECTED"),
        errors.CheckViolation,
        "dcr_sessions_rejection_check",
    ),
    (
        "dcr-rejected-with-blank-reason",
        submitted_dcr(
            status="REJECTED",
            rejected_by=USER,
            rejected_at="2026-01-06T19:00:00+05:30",
            rejection_reason="  ",
        ),
        errors.CheckViolation,
        "dcr_sessions_rejection_check",
    ),
    (
        "dcr-reopened-but-never-rejected",
        submitted_dcr(
            status="DRAFT",
            submitted_by=None,
            submitted_at=None,
            counted_cash=None,
            variance_amount=None,
            reopened_by=USER,
            reopened_at="2026-01-06T20:00:00+05:30",
        ),
        errors.CheckViolation,
        "dcr_sessions_reopen_check",
    ),
    (
        "dcr-submitted-by-unknown-user",
        submitted_dcr(submitted_by="00000000-0000-0000-0000-000000000000"),
        errors.ForeignKeyViolation,
        "dcr_sessions_submitted_by_fkey",
    ),
    (
        "collection-zero-amount",
        collection(amount=Decimal("0")),
        errors.CheckViolation,
        "collections_amount_check",
    ),
    (
        "collection-unknown-mode",
        # With an instrument, so only the mode is wrong.
        collection(mode="UPI", instrument=Jsonb({"number": "000123", "bank_name": "HDFC"})),
        errors.CheckViolation,
        "collections_mode_check",
    ),
    (
        "cash-with-an-instrument",
        collection(instrument=Jsonb({"number": "000123", "bank_name": "HDFC"})),
        errors.CheckViolation,
        "collections_instrument_check",
    ),
    (
        "cheque-instrument-not-an-object",
        collection(mode="CHEQUE", instrument=Jsonb(["000123"])),
        errors.CheckViolation,
        "collections_instrument_check",
    ),
    (
        "collection-unknown-purpose",
        collection(purpose="PENALTY"),
        errors.CheckViolation,
        "collections_purpose_check",
    ),
    (
        "collection-unknown-channel",
        collection(channel="ONLINE"),
        errors.CheckViolation,
        "collections_channel_check",
    ),
    (
        "payer-key-a-bare-mobile",
        collection(payer_key="9876543210"),
        errors.CheckViolation,
        "collections_payer_key_check",
    ),
    (
        "payer-key-a-short-mobile",
        collection(payer_key="mobile:98765"),
        errors.CheckViolation,
        "collections_payer_key_check",
    ),
    (
        "idempotency-hash-not-lower-hex",
        collection(idempotency_key_hash="A" * 64),
        errors.CheckViolation,
        "collections_hashes_check",
    ),
    (
        "request-hash-not-hex",
        collection(request_hash="z" * 64),
        errors.CheckViolation,
        "collections_hashes_check",
    ),
    (
        "collection-unknown-status",
        collection(status="REVERSED"),
        errors.CheckViolation,
        "collections_status_check",
    ),
    (
        "cancelled-without-who-when-why",
        collection(status="CANCELLED"),
        errors.CheckViolation,
        "collections_cancellation_check",
    ),
    (
        "cancelled-without-a-reason",
        collection(status="CANCELLED", cancelled_by=USER, cancelled_at="2026-01-05T11:00:00Z"),
        errors.CheckViolation,
        "collections_cancellation_check",
    ),
    (
        "cancelled-with-a-blank-reason",
        collection(
            status="CANCELLED",
            cancelled_by=USER,
            cancelled_at="2026-01-05T11:00:00Z",
            cancellation_reason="   ",
        ),
        errors.CheckViolation,
        "collections_cancellation_check",
    ),
    (
        "captured-with-a-canceller",
        collection(cancelled_by=USER, cancelled_at="2026-01-05T11:00:00Z", cancellation_reason="x"),
        errors.CheckViolation,
        "collections_cancellation_check",
    ),
    (
        "cancel-recorded-while-captured",
        collection(cancel_recorded_at="2026-01-05T11:00:00Z"),
        errors.CheckViolation,
        "collections_cancel_recorded_check",
    ),
    ("collection-without-purpose", collection(purpose=None), errors.NotNullViolation, None),
    (
        "collection-for-unknown-loan",
        collection(loan_account_number="LN-404"),
        errors.ForeignKeyViolation,
        "collections_loan_account_number_fkey",
    ),
    (
        "collection-at-unknown-branch",
        collection(branch_code="BR404"),
        errors.ForeignKeyViolation,
        "collections_branch_code_fkey",
    ),
    (
        "same-idempotency-key-same-staff",
        collection(idempotency_key_hash=SEEDED_COLLECTION["idempotency_key_hash"]),
        errors.UniqueViolation,
        "collections_created_by_idempotency_key_hash_key",
    ),
    (
        "duplicate-collection-transaction-id",
        collection(transaction_id=SEEDED_COLLECTION["transaction_id"]),
        errors.UniqueViolation,
        "collections_transaction_id_key",
    ),
    (
        "duplicate-collection-receipt-number",
        collection(receipt_number=SEEDED_COLLECTION["receipt_number"]),
        errors.UniqueViolation,
        "collections_receipt_number_key",
    ),
    (
        "payment-unknown-purpose",
        fixed(payment(purpose="PENALTY")),
        errors.CheckViolation,
        "payments_purpose_check",
    ),
    (
        "payment-unknown-status",
        fixed(payment(status="REVERSED")),
        errors.CheckViolation,
        "payments_status_check",
    ),
    (
        "duplicate-employee-id",
        fixed(
            (
                "INSERT INTO users (username, email, employee_id) "
                "VALUES ('meena', 'meena@example.in', 'DB-1001')",
                {},
            )
        ),
        errors.UniqueViolation,
        "users_employee_id_key",
    ),
    (
        "blank-employee-id",
        fixed(
            (
                "INSERT INTO users (username, email, employee_id) "
                "VALUES ('meena', 'meena@example.in', ' ')",
                {},
            )
        ),
        errors.CheckViolation,
        "users_employee_id_check",
    ),
    (
        "hrms-change-unknown-action",
        hrms_change(action="USER_DELETED"),
        errors.CheckViolation,
        "hrms_changes_action_check",
    ),
    (
        "hrms-change-unknown-pool-action",
        hrms_change(pool_action="ENABLE"),
        errors.CheckViolation,
        "hrms_changes_pool_action_check",
    ),
    (
        "hrms-change-details-not-an-object",
        hrms_change(details=Jsonb(["BR001"])),
        errors.CheckViolation,
        "hrms_changes_details_check",
    ),
    (
        "hrms-change-negative-attempts",
        hrms_change(attempts=-1),
        errors.CheckViolation,
        "hrms_changes_attempts_check",
    ),
    (
        "hrms-change-for-unknown-user",
        fixed(
            insert(
                "hrms_changes",
                {"user_id": "00000000-0000-0000-0000-000000000000", "action": "USER_LINKED"},
            )
        ),
        errors.ForeignKeyViolation,
        "hrms_changes_user_id_fkey",
    ),
    (
        "hrms-sync-empty-cursor",
        fixed(insert("hrms_sync_state", {"sync_name": "hrms", "watermark": NOW_TS, "cursor": ""})),
        errors.CheckViolation,
        "hrms_sync_state_cursor_check",
    ),
    (
        "hrms-sync-blank-name",
        fixed(insert("hrms_sync_state", {"sync_name": " ", "watermark": NOW_TS})),
        errors.CheckViolation,
        "hrms_sync_state_sync_name_check",
    ),
    (
        "hrms-sync-negative-pages",
        fixed(
            insert("hrms_sync_state", {"sync_name": "hrms", "watermark": NOW_TS, "run_pages": -1})
        ),
        errors.CheckViolation,
        "hrms_sync_state_run_pages_check",
    ),
    (
        "second-dcr-same-branch-same-day",
        dcr(collection_date=date(2026, 1, 5)),
        errors.UniqueViolation,
        "dcr_sessions_branch_code_collection_date_key",
    ),
    (
        "unknown-kyc-status",
        fixed(
            (
                "INSERT INTO customers (customer_number, full_name, "
                "kyc_status) VALUES ('C-2', 'X', 'DONE')",
                {},
            )
        ),
        errors.CheckViolation,
        "customers_kyc_status_check",
    ),
    (
        "bad-mobile-number",
        fixed(
            (
                "INSERT INTO customers (customer_number, full_name, "
                "mobile_number) VALUES ('C-2', 'X', '98765')",
                {},
            )
        ),
        errors.CheckViolation,
        "customers_mobile_number_check",
    ),
    (
        "permissions-not-a-list",
        fixed(("INSERT INTO roles (role_name, permissions) VALUES ('maker', '{\"a\": 1}')", {})),
        errors.CheckViolation,
        "roles_permissions_check",
    ),
]


@pytest.mark.parametrize(
    ("make", "error", "constraint"),
    [pytest.param(make, error, constraint, id=case) for case, make, error, constraint in REJECTED],
)
def test_constraints_reject(
    conn: psycopg.Connection[Any],
    make: Callable[[dict[str, Any]], Any],
    error: type[psycopg.Error],
    constraint: str | None,
) -> None:
    with conn.transaction(force_rollback=True):
        ids = seed(conn)
        statement, params = make(ids)
        with pytest.raises(error) as info, conn.transaction():
            conn.execute(statement, params)
    assert isinstance(info.value, psycopg.IntegrityError)
    if constraint is not None:
        assert info.value.diag.constraint_name == constraint


# Failed before 0011 tested `instrument IS NOT NULL` (jsonb_typeof(NULL) = 'object' is NULL,
# which a CHECK lets through).
@pytest.mark.parametrize("mode", ["CHEQUE", "DEMAND_DRAFT"])
def test_a_cheque_or_draft_without_its_instrument_is_rejected(
    conn: psycopg.Connection[Any], mode: str
) -> None:
    test_constraints_reject(
        conn, collection(mode=mode), errors.CheckViolation, "collections_instrument_check"
    )


def test_login_roles_can_log_in_and_nothing_more_than_their_job(
    conn: psycopg.Connection[Any],
) -> None:
    logins = dict(
        rows(conn, "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'engine\\_%'")
    )
    assert logins == {"engine_health": True, "engine_app": True}
    try:
        conn.execute(b"BEGIN")
        seed(conn)
        conn.execute(b"SET LOCAL ROLE engine_health")
        assert rows(conn, "SELECT 1") == [(1,)]
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(b"SELECT count(*) FROM customers")
    finally:
        conn.execute(b"ROLLBACK")


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("SELECT count(*) FROM branches", True),
        ("UPDATE branches SET branch_name = 'Madurai' WHERE branch_code = 'BR001'", True),
        ("INSERT INTO roles (role_name) VALUES ('viewer')", True),
        ("DELETE FROM branches WHERE branch_code = 'BR001'", False),
        ("SELECT count(*) FROM schema_migrations", False),
        ("DROP TABLE dbs_entries", False),
        ("UPDATE collections SET recorded_at = now()", True),
        ("UPDATE dcr_sessions SET version = version + 1", True),
        (
            "INSERT INTO dbs_entries (dcr_id, denomination, count, total_value) "
            "SELECT dcr_id, 500, 2, 1000 FROM dcr_sessions",
            True,
        ),
        ("UPDATE users SET exited_at = now(), is_active = false", True),
        (
            "INSERT INTO hrms_changes (user_id, action) SELECT user_id, 'USER_LINKED' FROM users",
            True,
        ),
        ("UPDATE hrms_changes SET attempts = attempts + 1", True),
        ("INSERT INTO hrms_sync_state (sync_name, watermark) VALUES ('hrms', now())", True),
        ("DELETE FROM collections", False),
        ("TRUNCATE collections", False),
        ("DELETE FROM dcr_sessions", False),
        ("DELETE FROM dbs_entries", False),
        ("TRUNCATE dbs_entries", False),
        ("DELETE FROM users", False),
        ("DELETE FROM hrms_changes", False),
        ("TRUNCATE hrms_changes", False),
        ("DELETE FROM hrms_sync_state", False),
    ],
)
def test_the_app_role_reads_and_writes_but_never_deletes(
    conn: psycopg.Connection[Any], statement: str, allowed: bool
) -> None:
    try:
        conn.execute(b"BEGIN")
        seed(conn)
        conn.execute(b"SET LOCAL ROLE engine_app")
        if allowed:
            conn.execute(statement.encode())
        else:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement.encode())
    finally:
        conn.execute(b"ROLLBACK")


def test_valid_rows_are_accepted_and_money_stays_exact(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction(force_rollback=True):
        ids = seed(conn)
        statement, params = mandate(
            status="APPROVED", approved_by=ids["user"], approved_at="2026-01-20T10:00:00+05:30"
        )
        conn.execute(statement, params)
        statement, params = mandate(
            mandate_type="UPI", ifsc_code=None, bank_account_number=None, upi_id="lakshmi@okhdfc"
        )
        conn.execute(statement, params)
        for denomination, count in (("500", 3), ("0.50", 7), ("2000", 0)):
            statement, params = dbs(denomination, count, str(Decimal(denomination) * count))(ids)
            conn.execute(statement, params)
        amounts = rows(
            conn,
            "SELECT principal_amount, outstanding_balance, emi_amount FROM loan_accounts",
        )
        assert amounts == [(Decimal("500000.00"), Decimal("420000.50"), Decimal("12500.75"))]
        total = rows(conn, "SELECT sum(total_value) FROM dbs_entries WHERE dcr_id = %s", ids["dcr"])
        assert total == [(Decimal("1503.50"),)]
        defaults = rows(conn, "SELECT frequency, status FROM payment_mandates ORDER BY status")
        assert defaults == [("MONTHLY", "APPROVED"), ("MONTHLY", "PENDING")]


def test_the_new_workflows_rows_are_accepted(conn: psycopg.Connection[Any]) -> None:
    """What the collection, DCR and HRMS code writes passes every constraint above."""
    with conn.transaction(force_rollback=True):
        ids = seed(conn)
        instrument = Jsonb(
            {"number": "000123", "bank_name": "HDFC", "instrument_date": "2026-01-05"}
        )
        cancelled = {"cancelled_by": USER, "cancelled_at": "2026-01-05T11:00:00+05:30"}
        for make in (
            collection(mode="CHEQUE", instrument=instrument, amount=Decimal("12500.75")),
            collection(
                transaction_id="TXN-C-3",
                receipt_number="RCPT-C-3",
                idempotency_key_hash="e" * 64,
                mode="DEMAND_DRAFT",
                instrument=instrument,
                purpose="LEGAL_FEE",
                channel="BRANCH",
                customer_id=None,
                payer_key="mobile:9876543210",
                payer_name="Suresh K",
            ),
            collection(
                transaction_id="TXN-C-4",
                receipt_number="RCPT-C-4",
                idempotency_key_hash="f" * 64,
                status="CANCELLED",
                cancellation_reason="wrong loan",
                recorded_at="2026-01-05T10:00:01+05:30",
                cancel_recorded_at="2026-01-05T11:00:01+05:30",
                **cancelled,
            ),
        ):
            conn.execute(*make(ids))
        assert rows(conn, "SELECT transaction_id, status, amount FROM collections ORDER BY 1") == [
            ("TXN-C-1", "CAPTURED", Decimal("5000.00")),
            ("TXN-C-2", "CAPTURED", Decimal("12500.75")),
            ("TXN-C-3", "CAPTURED", Decimal("5000.00")),
            ("TXN-C-4", "CANCELLED", Decimal("5000.00")),
        ]

        rejection = {
            "rejected_by": USER,
            "rejected_at": "2026-01-07T19:00:00+05:30",
            "rejection_reason": "recount the 500s",
        }
        for make in (
            submitted_dcr(),
            submitted_dcr(
                collection_date=date(2026, 1, 7),
                status="APPROVED",
                counted_cash=Decimal("990.00"),
                variance_amount=Decimal("-10.00"),
                variance_reason="a torn note",
                approved_by=USER,
                approved_at="2026-01-07T19:00:00+05:30",
            ),
            submitted_dcr(collection_date=date(2026, 1, 8), status="REJECTED", **rejection),
            # Reopened: the submission cleared, the last rejection kept for the cashier.
            submitted_dcr(
                collection_date=date(2026, 1, 9),
                status="DRAFT",
                submitted_by=None,
                submitted_at=None,
                counted_cash=None,
                variance_amount=None,
                reopened_by=USER,
                reopened_at="2026-01-09T20:00:00+05:30",
                version=3,
                **rejection,
            ),
        ):
            conn.execute(*make(ids))
        days = rows(
            conn,
            "SELECT collection_date, status, variance_amount FROM dcr_sessions "
            "WHERE collection_date > '2026-01-05' ORDER BY 1",
        )
        assert days == [
            (date(2026, 1, 6), "SUBMITTED", Decimal("0.00")),
            (date(2026, 1, 7), "APPROVED", Decimal("-10.00")),
            (date(2026, 1, 8), "REJECTED", Decimal("0.00")),
            (date(2026, 1, 9), "DRAFT", None),
        ]

        conn.execute(*payment(status="CANCELLED", purpose="CHALLAN"))
        conn.execute(*payment(transaction_id="TXN-P-2", purpose=None))
        assert rows(conn, "SELECT status, purpose FROM payments ORDER BY transaction_id") == [
            ("CANCELLED", "CHALLAN"),
            ("CAPTURED", None),
        ]

        # employee_id is unique only where there is one: hand-made users have none.
        for name in ("meena", "arun"):
            conn.execute(
                b"INSERT INTO users (username, email) VALUES (%s, %s)", (name, f"{name}@example.in")
            )
        for action, pool in (("USER_CREATED", "CREATE"), ("USER_DEACTIVATED", "DISABLE")):
            conn.execute(*hrms_change(action=action, pool_action=pool)(ids))
        defaults = rows(
            conn, "SELECT change_id, details, attempts, done_at FROM hrms_changes ORDER BY 1"
        )
        (first, *_), (second, *_) = defaults
        assert second > first
        assert [row[1:] for row in defaults] == [({}, 0, None), ({}, 0, None)]


# --- the custom resource -------------------------------------------------------------------


def event(request_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:ap-south-1:000000000000:function:provider",
        "ResponseURL": "https://example.invalid/response",
        "StackId": "arn:aws:cloudformation:ap-south-1:000000000000:stack/engine/1",
        "RequestId": "req-1",
        "LogicalResourceId": "EngineSchema",
        "ResourceType": "Custom::EngineSchema",
        "ResourceProperties": {"ServiceToken": "x", "MigrationsHash": "abc"},
        **extra,
    }


def test_custom_resource_create_update_delete(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    # Duck-typed for Powertools' LambdaContext, which the handler is annotated with.
    context: Any = LambdaContext(function_name="EngineSchemaMigrate")

    created = handler.on_event(event("Create"), context)
    assert created == {
        "PhysicalResourceId": "engine-schema",
        "Data": {"Applied": ",".join(ALL_VERSIONS), "Latest": ALL_VERSIONS[-1]},
    }
    with connect(database) as conn:
        before = snapshot(conn)
        assert set(EXPECTED_COLUMNS) <= tables(conn)

    updated = handler.on_event(
        event("Update", PhysicalResourceId="engine-schema", OldResourceProperties={}), context
    )
    assert updated == {
        "PhysicalResourceId": "engine-schema",
        "Data": {"Applied": "", "Latest": ALL_VERSIONS[-1]},
    }

    # Delete never connects (an unreachable URL proves it) and never drops anything.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    deleted = handler.on_event(event("Delete", PhysicalResourceId="engine-schema"), context)
    assert deleted == {"PhysicalResourceId": "engine-schema"}
    with connect(database) as conn:
        assert snapshot(conn) == before


def test_custom_resource_refuses_an_unknown_request_type() -> None:
    with pytest.raises(ValueError, match="Replace"):
        handler.handle(event("Replace"), connect=lambda: pytest.fail("must not connect"))


def test_custom_resource_fails_the_deploy_when_a_migration_fails(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler migrates through engine.db.migrate.migrate, which reads the directory there.
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", write(tmp_path, {"1_bad.sql": "SELEC 1;"}))
    with pytest.raises(MigrationError, match=r"1_bad\.sql failed"):
        handler.handle(event("Create"), connect=lambda: connect(database))


def test_custom_resource_connects_through_rds_proxy_with_an_iam_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    captured: dict[str, Any] = {}
    log = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", log)

    def fake_connect(*args: Any, **kwargs: Any) -> str:
        captured.update(kwargs, args=args)
        return "connection"

    monkeypatch.delenv("DATABASE_URL", raising=False)
    for key, value in {
        "DB_PROXY_ENDPOINT": "engine.proxy-abc.ap-south-1.rds.amazonaws.com",
        "DB_PORT": "5432",
        "DB_NAME": "engine",
        "DB_USER": "engine_migrator",
        "AWS_REGION": "ap-south-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(handler.psycopg, "connect", fake_connect)

    assert handler.connect() == "connection"

    token = captured.pop("password")
    assert token.startswith("engine.proxy-abc.ap-south-1.rds.amazonaws.com:5432/?Action=connect")
    assert "DBUser=engine_migrator" in token
    assert "X-Amz-Signature=" in token
    assert captured == {
        "args": (),
        "host": "engine.proxy-abc.ap-south-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "engine",
        "user": "engine_migrator",
        "sslmode": "require",
        "connect_timeout": handler.CONNECT_TIMEOUT_SECONDS,
        "application_name": "engine-migrate",
        "autocommit": True,
        "prepare_threshold": None,
    }
    assert "connecting through RDS Proxy" in log.getvalue()
    assert "X-Amz" not in log.getvalue()
    assert token not in log.getvalue()


def test_command_line_migrates_the_database_url(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    assert migrate.main([]) == 0
    assert migrate.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"applied: {', '.join(ALL_VERSIONS)}; latest: {ALL_VERSIONS[-1]}",
        f"applied: nothing; latest: {ALL_VERSIONS[-1]}",
    ]


def test_cfn_custom_resource_reports_success_and_failure_to_cloudformation(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as _json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from engine.handlers import migrate as handler_module
    from local.events import LambdaContext

    received: list[dict[str, Any]] = []

    class Capture(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            received.append(_json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = {
        "RequestType": "Create",
        "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/signed",
        "StackId": "arn:aws:cloudformation:ap-south-1:111111111111:stack/s/1",
        "RequestId": "r-1",
        "LogicalResourceId": "Schema",
        "ResourceProperties": {},
    }
    try:
        monkeypatch.setenv("DATABASE_URL", database)
        context: Any = LambdaContext(function_name="SchemaMigrator")
        handler_module.on_cfn_event(event, context)
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
        handler_module.on_cfn_event(
            {**event, "RequestType": "Update", "PhysicalResourceId": "engine-schema"},
            context,
        )
    finally:
        server.shutdown()

    ok, failed = received
    assert ok["Status"] == "SUCCESS"
    assert ok["PhysicalResourceId"] == "engine-schema"
    assert ok["Data"]["Latest"] == ALL_VERSIONS[-1]
    assert (ok["StackId"], ok["RequestId"], ok["LogicalResourceId"]) == (
        event["StackId"],
        "r-1",
        "Schema",
    )
    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == "engine-schema"
    assert "127.0.0.1" not in failed["Reason"]
