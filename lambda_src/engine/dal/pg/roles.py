"""PostgreSQL's copy of the roles, kept equal to the declaration (engine.models.rbac.ROLES).

No migration types a roles row: the schema migrator runs `sync_roles` after the migrations
on every deploy (engine.db.migrate.migrate), so each declared role has its row, its
description and its permissions (a JSON array, sorted) as the code that is deployed says.
Running it again changes nothing.

A role dropped from the declaration keeps its row (users.role_id may still point at it, and
an old audit record names it) but loses its permissions: its row's array is emptied. The
engine grants nothing from this table anyway (authorize reads the declaration, and ignores a
group it does not declare), so such a user holds no permission until an admin grants them a
declared role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg

from engine.models import rbac

Cursor = psycopg.Cursor[Any]

# Only a real difference is written: a repeated deploy leaves every row (and xmin) alone.
_UPSERT = """
INSERT INTO roles (role_name, description, permissions)
SELECT d.role_name, d.description, d.permissions::jsonb
FROM unnest(%s::text[], %s::text[], %s::text[]) AS d (role_name, description, permissions)
ON CONFLICT (role_name) DO UPDATE
SET description = EXCLUDED.description, permissions = EXCLUDED.permissions
WHERE (roles.description, roles.permissions)
    IS DISTINCT FROM (EXCLUDED.description, EXCLUDED.permissions)
RETURNING role_name
"""
_EMPTY_UNDECLARED = """
UPDATE roles SET permissions = '[]'::jsonb
WHERE role_name <> ALL (%s::text[]) AND permissions <> '[]'::jsonb
RETURNING role_name
"""


@dataclass(frozen=True)
class RolesSynced:
    written: tuple[str, ...]  # declared roles inserted or brought up to date
    emptied: tuple[str, ...]  # undeclared roles whose permissions were taken away

    @property
    def changed(self) -> bool:
        return bool(self.written or self.emptied)


def declared_rows(roles: tuple[rbac.Role, ...] = rbac.ROLES) -> list[tuple[str, str, str]]:
    """(role_name, description, permissions as a sorted JSON array) per declared role."""
    return [(r.name, r.description, json.dumps(sorted(r.permissions))) for r in roles]


def sync_roles(cur: Cursor, roles: tuple[rbac.Role, ...] = rbac.ROLES) -> RolesSynced:
    """Make the roles table say what `roles` declares; run inside the caller's transaction."""
    rows = declared_rows(roles)
    names = [name for name, _, _ in rows]
    columns = [names, [d for _, d, _ in rows], [p for _, _, p in rows]]
    written = [r[0] for r in cur.execute(_UPSERT, columns).fetchall()]
    emptied = [r[0] for r in cur.execute(_EMPTY_UNDECLARED, (names,)).fetchall()]
    return RolesSynced(tuple(sorted(written)), tuple(sorted(emptied)))
