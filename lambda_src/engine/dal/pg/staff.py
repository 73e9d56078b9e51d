"""Staff users in PostgreSQL, as each internal request resolves its caller (one query)."""

from __future__ import annotations

from engine.dal.pg.db import Database
from engine.models.staff import StaffUser

_BY_USERNAME = """
SELECT user_id::text, username, email, branch_code, is_active
FROM users
WHERE username = %s
"""


class StaffStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def by_username(self, username: str) -> StaffUser | None:
        row = self._db.run(lambda cur: cur.execute(_BY_USERNAME, (username,)).fetchone())
        if row is None:
            return None
        user_id, name, email, branch_code, active = row
        return StaffUser(user_id, name, email, branch_code, bool(active))
