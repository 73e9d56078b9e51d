"""The users store on a real PostgreSQL: the sign-in stamp, including on a read-only replica
(the DR Region's database before promotion), where staff must still be able to sign in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from engine.dal.pg.db import Database
from engine.dal.pg.roles import sync_roles
from engine.dal.pg.users import UserStore
from tests.engine_pg import EngineDb

AT = datetime(2026, 12, 4, 4, 30, tzinfo=UTC)


def _user(db: EngineDb) -> str:
    with db.admin() as conn:
        with conn.cursor() as cur:
            sync_roles(cur)
        row = conn.execute(
            "INSERT INTO users (username, email, branch_code) VALUES"
            " ('cashier.br001', 'cashier.br001@staff.example.com', 'BR001')"
            " RETURNING user_id::text"
        ).fetchone()
    assert row is not None
    return str(row[0])


def _store(url: str, **options: Any) -> UserStore:
    return UserStore(Database(lambda: psycopg.connect(url, autocommit=True, **options)))


def _last_login(db: EngineDb, user_id: str) -> Any:
    with db.admin() as conn:
        row = conn.execute("SELECT last_login_at FROM users WHERE user_id = %s", (user_id,))
        return row.fetchone()[0]  # type: ignore[index]


def test_a_sign_in_is_stamped_on_the_users_row(engine_db: EngineDb) -> None:
    user_id = _user(engine_db)
    assert _store(engine_db.app_url).stamp_login(user_id, AT) is True
    assert _last_login(engine_db, user_id) == AT


def test_a_read_only_database_skips_the_stamp_instead_of_refusing(engine_db: EngineDb) -> None:
    user_id = _user(engine_db)
    replica = _store(engine_db.app_url, options="-c default_transaction_read_only=on")
    assert replica.stamp_login(user_id, AT) is False
    assert _last_login(engine_db, user_id) is None
