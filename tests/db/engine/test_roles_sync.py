"""The roles table follows the declaration (engine.models.rbac.ROLES) on real PostgreSQL:
the schema migrator writes it after the migrations, a second run changes nothing, a changed
declaration is carried over, and a role dropped from it keeps its row but no permissions."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from engine.dal.pg.roles import sync_roles
from engine.handlers import migrate as migrator
from engine.models import rbac
from tests.engine_pg import EngineDb

ROLES_SQL = "SELECT role_name, description, permissions FROM roles ORDER BY role_name"
# xmin is the transaction that last wrote the row: unchanged means not rewritten at all.
ROW_VERSIONS_SQL = "SELECT role_name, role_id, created_at, xmin::text FROM roles"


def declared() -> list[tuple[str, str, list[str]]]:
    return sorted((r.name, r.description, sorted(r.permissions)) for r in rbac.ROLES)


def table(conn: psycopg.Connection[Any]) -> list[tuple[str, str, list[str]]]:
    return [(n, d, p) for n, d, p in conn.execute(ROLES_SQL).fetchall()]


def sync(conn: psycopg.Connection[Any], roles: tuple[rbac.Role, ...] = rbac.ROLES) -> Any:
    with conn.transaction(), conn.cursor() as cur:
        return sync_roles(cur, roles)


def test_the_rows_equal_the_declaration(engine_db: EngineDb) -> None:
    with engine_db.admin() as conn:
        sync(conn)
        assert table(conn) == declared()
        # Stored sorted, so two deploys of one declaration write the same JSON.
        for _, _, permissions in table(conn):
            assert permissions == sorted(permissions)


def test_a_second_run_changes_nothing(engine_db: EngineDb) -> None:
    with engine_db.admin() as conn:
        sync(conn)
        before = sorted(conn.execute(ROW_VERSIONS_SQL).fetchall())
        again = sync(conn)
        assert not again.changed and again.written == () and again.emptied == ()
        assert sorted(conn.execute(ROW_VERSIONS_SQL).fetchall()) == before


def test_a_changed_permission_set_is_updated_in_place(engine_db: EngineDb) -> None:
    officer = rbac.ROLES_BY_NAME["FieldOfficer"]
    with engine_db.admin() as conn:
        sync(conn)
        found = conn.execute("SELECT role_id FROM roles WHERE role_name = 'FieldOfficer'")
        (role_id,) = found.fetchone() or (None,)
        assert role_id is not None
        wider = replace(officer, permissions=officer.permissions | {rbac.DCR_READ})
        roles = tuple(wider if r.name == officer.name else r for r in rbac.ROLES)
        result = sync(conn, roles)
        assert result.written == ("FieldOfficer",)
        row = conn.execute(
            "SELECT role_id, permissions FROM roles WHERE role_name = 'FieldOfficer'"
        ).fetchone()
        assert row == (role_id, sorted(wider.permissions))  # same row: users keep pointing at it
        # Tampering by hand is put right by the next deploy.
        conn.execute(
            "UPDATE roles SET permissions = '[\"users:manage\"]' WHERE role_name = 'Admin'"
        )
        assert sync(conn).written == ("Admin", "FieldOfficer")
        assert table(conn) == declared()


def test_a_role_dropped_from_the_declaration_keeps_its_row_but_no_permissions(
    engine_db: EngineDb,
) -> None:
    with engine_db.admin() as conn:
        conn.execute(
            "INSERT INTO roles (role_name, description, permissions) VALUES "
            "('Auditor', 'retired role', %s::jsonb)",
            (json.dumps([rbac.AUDIT_READ]),),
        )
        conn.execute(
            "INSERT INTO users (username, email, role_id) SELECT 'old.auditor', "
            "'old.auditor@staff.example.com', role_id FROM roles WHERE role_name = 'Auditor'"
        )
        assert sync(conn).emptied == ("Auditor",)
        row = conn.execute(
            "SELECT r.permissions, u.username FROM roles r JOIN users u USING (role_id) "
            "WHERE r.role_name = 'Auditor'"
        ).fetchone()
        assert row == ([], "old.auditor")


def test_the_schema_migrator_writes_the_roles_after_the_migrations(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    result = migrator.handle({"RequestType": "Create"})
    assert result["Data"]["Latest"]
    with psycopg.connect(database) as conn:
        assert table(conn) == declared()
    # An update (a redeploy) with nothing pending still leaves the roles as declared.
    assert migrator.handle({"RequestType": "Update"})["Data"]["Applied"] == ""
