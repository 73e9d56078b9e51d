"""Staff users in PostgreSQL, as each internal request resolves its caller (one query)."""

from __future__ import annotations

from engine.dal.pg.db import Database
from engine.models.staff import StaffUser

_BY_USERNAME = """
SELECT u.user_id::text, u.username, u.email, u.branch_code, u.is_active, r.role_name
FROM users u
LEFT JOIN roles r ON r.role_id = u.role_id
WHERE u.username = %s
"""


class StaffStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def by_username(self, username: str) -> StaffUser | None:
        row = self._db.run(lambda cur: cur.execute(_BY_USERNAME, (username,)).fetchone())
        if row is None:
            return None
        user_id, name, email, branch_code, active, role = row
        return StaffUser(user_id, name, email, branch_code, bool(active), role)
