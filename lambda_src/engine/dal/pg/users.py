"""Staff users in PostgreSQL as admins manage them: the listing, a role change, the sign-in
stamp. A role change is conditional on the role its caller read, so of two admins changing
one user at once the second learns of the first (`ConditionFailed`) instead of overwriting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import errors, sql

from engine.dal.pg.db import Cursor, Database
from engine.models.staff import StaffUser
from engine.models.users import ListedUser, UserFilter, UsersPage
from shared import cursors
from shared.store_errors import ConditionFailed

_COLUMNS = """
u.user_id::text, u.username, u.email, u.branch_code, u.is_active, r.role_name, u.last_login_at
FROM users u
LEFT JOIN roles r ON r.role_id = u.role_id
"""
# Composed with psycopg.sql from these constants only; every value is a parameter.
_BY_ID = sql.SQL("SELECT {} WHERE u.user_id = %s::uuid").format(sql.SQL(_COLUMNS))
_PAGE = sql.SQL("""
SELECT {}
WHERE (%(branch)s::text IS NULL OR u.branch_code = %(branch)s::text)
  AND (%(active)s::boolean IS NULL OR u.is_active = %(active)s::boolean)
  AND (%(after)s::text IS NULL OR u.username > %(after)s::text)
ORDER BY u.username
LIMIT %(limit)s
""").format(sql.SQL(_COLUMNS))
# The role read before is the condition: `IS NOT DISTINCT FROM` matches a joiner's NULL too.
_SET_ROLE = """
UPDATE users
SET role_id = (SELECT role_id FROM roles WHERE role_name = %(to)s)
WHERE user_id = %(user_id)s::uuid
  AND is_active
  AND role_id IS NOT DISTINCT FROM (SELECT role_id FROM roles WHERE role_name = %(expected)s)
RETURNING user_id
"""
_ROLE_EXISTS = "SELECT 1 FROM roles WHERE role_name = %s"
_STAMP_LOGIN = "UPDATE users SET last_login_at = %s WHERE user_id = %s::uuid"
_CURSOR_KEYS = ("filter", "username")


class UserChanged(ConditionFailed):
    """The user's role is no longer the one read, or they are inactive: nothing was written.
    `user` is the row as it stands (None: no such user)."""

    def __init__(self, user: StaffUser | None) -> None:
        super().__init__("the user's role or state changed")
        self.user = user


class RoleNotSynced(LookupError):
    """A declared role has no roles row: the migrator's sync has not run on this database."""


class UserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: str) -> StaffUser | None:
        row = self._db.run(lambda cur: cur.execute(_BY_ID, (user_id,)).fetchone())
        return None if row is None else _listed(row).user

    def page(self, where: UserFilter, limit: int, cursor: str | None = None) -> UsersPage:
        """Users in username order; raises shared.cursors.BadCursor for a cursor this
        filter's listing did not issue."""
        after = None
        if cursor:
            last = cursors.decode(cursor, _CURSOR_KEYS, ("filter", where.scope), "filter")
            after = last["username"]
        params = {
            "branch": where.branch_code,
            "active": where.active,
            "after": after,
            "limit": limit + 1,  # one more than asked tells whether another page follows
        }
        rows = self._db.run(lambda cur: cur.execute(_PAGE, params).fetchall())
        items = [_listed(row) for row in rows[:limit]]
        if len(rows) <= limit:
            return UsersPage(items, None)
        end = {"filter": where.scope, "username": items[-1].user.username}
        return UsersPage(items, cursors.encode(end, _CURSOR_KEYS))

    def set_role(self, user_id: str, expected: str | None, role: str) -> StaffUser:
        """`role` for the user, if their role is still `expected` and they are active: one
        unit of work; raises UserChanged when either no longer holds."""

        def work(cur: Cursor) -> StaffUser:
            if cur.execute(_ROLE_EXISTS, (role,)).fetchone() is None:
                raise RoleNotSynced(f"role {role} has no roles row")
            params = {"user_id": user_id, "expected": expected, "to": role}
            changed = cur.execute(_SET_ROLE, params).fetchone() is not None
            row = cur.execute(_BY_ID, (user_id,)).fetchone()
            current = None if row is None else _listed(row).user
            if not changed or current is None:
                raise UserChanged(current)
            return current

        return self._db.run(work)

    def stamp_login(self, user_id: str, at: datetime) -> bool:
        """Record the sign-in on the users row; False where the database is a read-only
        replica (the DR Region before promotion): staff may still sign in there, and the
        sign-in's audit record (a global table) is what names it."""
        try:
            self._db.run(lambda cur: cur.execute(_STAMP_LOGIN, (at, user_id)))
        except errors.ReadOnlySqlTransaction:
            return False
        return True


def _listed(row: tuple[Any, ...]) -> ListedUser:
    user_id, username, email, branch_code, active, role, last_login_at = row
    return ListedUser(
        StaffUser(user_id, username, email, branch_code, bool(active), role), last_login_at
    )
