"""The HRMS sync's SQL: a page of employees applied to the users rows in one transaction, with
the sync's state (watermark, cursor) saved in the same transaction; and the changes still to
be carried to the staff pool and the audit trail (hrms_changes, migration 0013).

`apply_page`, in one transaction:

1. locks the sync's state row and checks it is still what the run read (another run that
   moved it in between makes this one stop: `StateMoved`, nothing written);
2. locks the users rows of the page's employees (by employee id, and by username for rows
   made by hand), in user_id order, and reads which of their branches exist;
3. asks the caller's `decide` (the rules, engine.logic.hrms_sync) what to do with each
   employee, newest version only, oldest change first, and writes it: the users row, and a
   pending hrms_changes row per change to carry on;
4. saves the cursor for the next page, or, after the last page, moves the watermark to the
   newest `updated_at` the run read minus the overlap and clears the cursor.

A pending change is claimed for a lease (`claim`), then `complete`d, or `fail`ed until a
later time: two runs never carry one change at once, and a run that dies mid-way leaves it
to the next once the lease is over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from engine.dal.pg.db import Cursor, Database
from engine.dal.pg.sync_state import SyncState, SyncStateTable
from engine.models.hrms import (
    Action,
    ChangeNote,
    Decision,
    Employee,
    Move,
    PendingChange,
    PoolAction,
    UserRow,
)
from shared.store_errors import ConditionFailed

SYNC_NAME = "hrms_employees"

Decide = Callable[[Employee, UserRow | None, UserRow | None, frozenset[str]], Decision]


class StateMoved(ConditionFailed):
    """The sync's state is no longer what this run read: another run moved it."""


_STATE = SyncStateTable("hrms_sync_state", StateMoved, "the HRMS sync")


@dataclass(frozen=True)
class PageOutcome:
    state: SyncState  # as saved with the page
    moves: Counter[str] = field(default_factory=Counter)  # Move value -> employees
    skips: Counter[str] = field(default_factory=Counter)  # Skip value -> employees
    linked: int = 0  # rows made by hand, now linked to their employee
    finished: bool = False  # the last page: the watermark moved, the cursor is cleared


_LOCK_USERS = """
SELECT u.user_id::text, u.username, u.employee_id, u.branch_code, u.is_active, u.exited_at,
       u.hrms_updated_at, r.role_name
FROM users u
LEFT JOIN roles r ON r.role_id = u.role_id
WHERE u.employee_id = ANY(%s::text[]) OR u.username = ANY(%s::text[])
ORDER BY u.user_id
FOR UPDATE OF u
"""
_BRANCHES = "SELECT branch_code FROM branches WHERE branch_code = ANY(%s::text[]) AND is_active"
_CREATE_USER = """
INSERT INTO users (username, email, branch_code, employee_id, hrms_updated_at)
VALUES (%s, %s, %s, %s, %s)
RETURNING user_id::text
"""
_DEACTIVATE = """
UPDATE users SET is_active = false, exited_at = COALESCE(exited_at, %(now)s),
                 employee_id = %(employee_id)s, hrms_updated_at = %(version)s
WHERE user_id = %(user_id)s
"""
_TRANSFER = """
UPDATE users SET branch_code = %(branch_code)s,
                 employee_id = %(employee_id)s, hrms_updated_at = %(version)s
WHERE user_id = %(user_id)s
"""
_REFRESH = """
UPDATE users SET employee_id = %(employee_id)s, hrms_updated_at = %(version)s
WHERE user_id = %(user_id)s
"""
_NOTE = """
INSERT INTO hrms_changes (user_id, action, pool_action, branch_code, details, changed_at)
VALUES (%s, %s, %s, %s, %s, %s)
"""

_CLAIM = """
UPDATE hrms_changes c SET claimed_until = %(until)s, attempts = c.attempts + 1
FROM users u
WHERE c.change_id = (
        SELECT change_id FROM hrms_changes
        WHERE done_at IS NULL AND (claimed_until IS NULL OR claimed_until <= %(now)s)
        ORDER BY change_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
  AND u.user_id = c.user_id
RETURNING c.change_id, c.user_id::text, u.username, u.email, c.action, c.pool_action,
          c.branch_code, c.details, c.changed_at, c.attempts
"""
_COMPLETE = """
UPDATE hrms_changes SET done_at = %s, claimed_until = NULL, last_error = NULL
WHERE change_id = %s AND done_at IS NULL
"""
_FAIL = """
UPDATE hrms_changes SET claimed_until = %s, last_error = %s
WHERE change_id = %s AND done_at IS NULL
"""
_PENDING = "SELECT count(*) FROM hrms_changes WHERE done_at IS NULL"


# ---------------------------------------------------------------------- the state


def start(cur: Cursor, name: str, initial_watermark: datetime, now: datetime) -> SyncState:
    """The state a run starts from (created at `initial_watermark` the first time). With no
    run in progress (no cursor), a new one starts now; otherwise the run resumes."""
    return _STATE.start(cur, name, initial_watermark, now)


def restart(cur: Cursor, expected: SyncState) -> SyncState:
    """Read again from the watermark (the HRMS refused the saved cursor)."""
    return _STATE.restart(cur, expected)


def read_state(cur: Cursor, name: str = SYNC_NAME) -> SyncState | None:
    return _STATE.read(cur, name)


# ---------------------------------------------------------------------- a page


def apply_page(
    cur: Cursor,
    expected: SyncState,
    employees: Sequence[Employee],
    decide: Decide,
    next_cursor: str | None,
    *,
    now: datetime,
    overlap: timedelta,
) -> PageOutcome:
    """Apply one page read with `expected`'s watermark and cursor, and save the state."""
    _STATE.lock_expected(cur, expected)
    newest = _newest_versions(employees)
    page = _Page(cur, now, newest)
    for employee in newest:
        page.apply(decide(employee, *page.rows_for(employee), page.branches))
    page_high = max((e.updated_at for e in newest), default=None)
    saved = _STATE.save(cur, expected, next_cursor, page_high, now=now, overlap=overlap)
    return PageOutcome(saved, page.moves, page.skips, page.linked, next_cursor is None)


def _newest_versions(employees: Sequence[Employee]) -> list[Employee]:
    """Each employee once (its newest version on the page), oldest change first."""
    newest: dict[str, Employee] = {}
    for employee in employees:
        seen = newest.get(employee.employee_id)
        if seen is None or employee.updated_at > seen.updated_at:
            newest[employee.employee_id] = employee
    return sorted(newest.values(), key=lambda e: (e.updated_at, e.employee_id))


class _Page:
    """One page's rows under their locks, kept current as the page is applied (an employee
    hired under a username another employee on the page takes is seen as taken)."""

    def __init__(self, cur: Cursor, now: datetime, employees: Sequence[Employee]) -> None:
        self._cur = cur
        self._now = now
        ids, names = [e.employee_id for e in employees], [e.username for e in employees]
        rows = [_user(r) for r in cur.execute(_LOCK_USERS, (ids, names)).fetchall()] if ids else []
        self._by_employee = {r.employee_id: r for r in rows if r.employee_id is not None}
        self._by_username = {r.username: r for r in rows}
        codes = sorted({e.branch_code for e in employees if e.branch_code is not None})
        found = cur.execute(_BRANCHES, (codes,)).fetchall() if codes else []
        self.branches = frozenset(str(code) for (code,) in found)
        self.moves: Counter[str] = Counter()
        self.skips: Counter[str] = Counter()
        self.linked = 0

    def rows_for(self, employee: Employee) -> tuple[UserRow | None, UserRow | None]:
        """(the row linked to the employee, the row holding their username)."""
        return self._by_employee.get(employee.employee_id), self._by_username.get(employee.username)

    def apply(self, decision: Decision) -> None:
        self.moves[decision.move.value] += 1
        if decision.skip is not None:
            self.skips[decision.skip.value] += 1
        if decision.move in (Move.NONE, Move.SKIP):
            return
        employee = decision.employee
        if decision.move is Move.CREATE:
            user = self._create(employee)
        else:
            assert decision.user is not None
            user = self._update(decision.move, decision.user, employee)
        self.linked += int(decision.link)
        for note in decision.notes:
            self._note(user.user_id, note)
        self._by_employee[employee.employee_id] = user
        self._by_username[user.username] = user

    def _create(self, employee: Employee) -> UserRow:
        created = self._cur.execute(
            _CREATE_USER,
            (
                employee.username,
                employee.official_email,
                employee.branch_code,
                employee.employee_id,
                employee.updated_at,
            ),
        ).fetchone()
        assert created is not None
        return UserRow(
            user_id=str(created[0]),
            username=employee.username,
            employee_id=employee.employee_id,
            branch_code=employee.branch_code,
            is_active=True,
            exited_at=None,
            hrms_updated_at=employee.updated_at,
            role=None,
        )

    def _update(self, move: Move, user: UserRow, employee: Employee) -> UserRow:
        params = {
            "user_id": user.user_id,
            "employee_id": employee.employee_id,
            "version": employee.updated_at,
            "branch_code": employee.branch_code,
            "now": self._now,
        }
        if move is Move.DEACTIVATE:
            self._cur.execute(_DEACTIVATE, params)
            return replace(
                user,
                employee_id=employee.employee_id,
                is_active=False,
                exited_at=user.exited_at or self._now,
                hrms_updated_at=employee.updated_at,
            )
        self._cur.execute(_TRANSFER if move is Move.TRANSFER else _REFRESH, params)
        branch = employee.branch_code if move is Move.TRANSFER else user.branch_code
        return replace(
            user,
            employee_id=employee.employee_id,
            branch_code=branch,
            hrms_updated_at=employee.updated_at,
        )

    def _note(self, user_id: str, note: ChangeNote) -> None:
        pool = note.pool_action.value if note.pool_action else None
        self._cur.execute(
            _NOTE,
            (user_id, note.action.value, pool, note.branch_code, Jsonb(note.details), self._now),
        )


# ---------------------------------------------------------------------- pending changes


def claim(cur: Cursor, now: datetime, lease: timedelta) -> PendingChange | None:
    """The oldest pending change no run holds, held now until `now + lease`."""
    found = cur.execute(_CLAIM, {"now": now, "until": now + lease}).fetchone()
    if found is None:
        return None
    change_id, user_id, username, email, action, pool, branch, details, changed_at, tries = found
    return PendingChange(
        change_id=int(change_id),
        user_id=str(user_id),
        username=str(username),
        email=str(email),
        action=Action(action),
        pool_action=PoolAction(pool) if pool else None,
        branch_code=branch,
        details=dict(details or {}),
        changed_at=changed_at,
        attempts=int(tries),
    )


class HrmsSyncStore:
    """The sync's units of work on the engine's database, one transaction each."""

    def __init__(self, db: Database, name: str = SYNC_NAME) -> None:
        self._db = db
        self.name = name

    def start(self, initial_watermark: datetime, now: datetime) -> SyncState:
        return self._db.run(lambda cur: start(cur, self.name, initial_watermark, now))

    def restart(self, expected: SyncState) -> SyncState:
        return self._db.run(lambda cur: restart(cur, expected))

    def apply_page(
        self,
        expected: SyncState,
        employees: Sequence[Employee],
        decide: Decide,
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome:
        return self._db.run(
            lambda cur: apply_page(
                cur, expected, employees, decide, next_cursor, now=now, overlap=overlap
            )
        )

    def claim(self, now: datetime, lease: timedelta) -> PendingChange | None:
        return self._db.run(lambda cur: claim(cur, now, lease))

    def complete(self, change_id: int, now: datetime) -> None:
        self._db.run(lambda cur: cur.execute(_COMPLETE, (now, change_id)))

    def fail(self, change_id: int, error: str, retry_at: datetime) -> None:
        self._db.run(lambda cur: cur.execute(_FAIL, (retry_at, error[:100], change_id)))

    def pending(self) -> int:
        found = self._db.run(lambda cur: cur.execute(_PENDING).fetchone())
        return int(found[0]) if found else 0


def _user(row: Any) -> UserRow:
    user_id, username, employee_id, branch, active, exited_at, version, role = row
    return UserRow(
        user_id=str(user_id),
        username=str(username),
        employee_id=employee_id,
        branch_code=branch,
        is_active=bool(active),
        exited_at=exited_at,
        hrms_updated_at=version,
        role=role,
    )
