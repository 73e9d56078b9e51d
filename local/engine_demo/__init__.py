"""The engine's PostgreSQL for the runner: found or started, migrated, seeded with demo data.

`DATABASE_URL`, when set, is used as it is (migrations applied, demo data added only where
missing; the functions connect with that URL). Otherwise a private server is started
(local/postgres.py), a database `engine` created on it, and the functions connect as the
`engine_app` role the migrations create, as they do in AWS, so a missing grant fails here
too. With --data-dir the server's cluster is kept there, next to moto's state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.db.migrate import migrate
from local import postgres

SEED = Path(__file__).with_name("seed.sql")
DATABASE = "engine"
APP_ROLE = "engine_app"
DEMO_LOANS_SQL = """
SELECT l.loan_account_number, c.full_name, c.mobile_number, l.loan_type, l.loan_status,
       l.branch_code, l.outstanding_balance, l.overdue_amount, l.days_past_due, l.next_due_date
FROM loan_accounts l JOIN customers c ON c.customer_id = l.customer_id
WHERE c.customer_number LIKE 'DEMO%%'
ORDER BY l.loan_account_number
"""


@dataclass
class EngineDatabase:
    admin_url: str  # migrations, the seed, the demo listing
    app_url: str  # what the functions get as DATABASE_URL
    source: str  # "DATABASE_URL" or "started"
    server: postgres.Server | None = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def prepare(data_dir: Path | None) -> EngineDatabase:
    url = os.environ.get("DATABASE_URL")
    if url:
        database = EngineDatabase(url, url, "DATABASE_URL")
    else:
        server = postgres.start_server(data_dir / "postgres" if data_dir else None)
        admin = _ensure_database(server.admin_url, DATABASE)
        database = EngineDatabase(admin, _as_role(admin, APP_ROLE), "started", server)
    with psycopg.connect(database.admin_url, autocommit=True, prepare_threshold=None) as conn:
        migrate(conn)
        conn.execute(SEED.read_bytes())
    return database


def demo_loans(admin_url: str) -> list[dict[str, Any]]:
    """The seeded loans as they are now (outstanding moves as payments sync)."""
    with psycopg.connect(admin_url, prepare_threshold=None) as conn:
        rows = conn.execute(DEMO_LOANS_SQL).fetchall()
    return [
        {
            "loan_account_number": number,
            "customer_name": name,
            "mobile_number": mobile,
            "loan_type": loan_type,
            "status": status,
            "branch_code": branch,
            "outstanding": f"{outstanding:.2f}",
            "overdue_amount": f"{overdue:.2f}",
            "days_past_due": dpd,
            "next_due_date": due.isoformat() if due else None,
        }
        for number, name, mobile, loan_type, status, branch, outstanding, overdue, dpd, due in rows
    ]


STAFF_SQL = """
SELECT u.email, r.role_name FROM users u LEFT JOIN roles r ON r.role_id = u.role_id
WHERE u.username = %s
"""


def staff_member(admin_url: str, username: str) -> tuple[str, str | None] | None:
    """A staff member's e-mail and role (None: no role granted); None when unknown."""
    with psycopg.connect(admin_url, prepare_threshold=None) as conn:
        row = conn.execute(STAFF_SQL, (username,)).fetchone()
    return None if row is None else (row[0], row[1])


def post_authentication_event(username: str, email: str, client_id: str) -> dict[str, Any]:
    """What the staff pool sends its PostAuthentication trigger after a sign-in."""
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": "ap-south-1",
        "userPoolId": "local-staff",
        "userName": username,
        "callerContext": {"awsSdkVersion": "local", "clientId": client_id},
        "request": {"userAttributes": {"email": email}, "newDeviceUsed": False},
        "response": {},
    }


def _ensure_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True, prepare_threshold=None) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(admin_url, dbname=name)


def _as_role(url: str, role: str) -> str:
    """The same database as `role` (the private server trusts local connections)."""
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params.pop("password", None)
    return make_conninfo(**{**params, "user": role})
