"""A nightly sync's state: one row per sync (watermark, cursor of the run in progress), in the
sync's own table (lms_sync_state for the loan master sync, hrms_sync_state for the HRMS sync;
both tables have the same columns).

A run `start`s from the saved state (a new run when no cursor is saved, else the one in
progress resumes); each page, in the page's own transaction, first `lock_expected`s the row
(another run that moved it since this one read it makes this one stop, nothing written),
writes what it applies, then `save`s: the cursor for the next page, or, after the last page,
the watermark moved to the newest `updated_at` the run read minus the overlap, cursor cleared.

The table name is an identifier composed from the fixed `Table` names, never from input, and
every value is a parameter; the statements are plain (no named prepared statements: the
engine connects with prepare_threshold=None for RDS Proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import sql

from engine.dal.pg.db import Cursor
from shared.store_errors import ConditionFailed

Table = Literal["lms_sync_state", "hrms_sync_state"]


@dataclass(frozen=True)
class SyncState:
    name: str
    watermark: datetime
    cursor: str | None  # the next page of the run in progress; None: none in progress
    run_high_water: datetime | None  # the newest updated_at the run in progress has read
    run_started_at: datetime | None
    run_pages: int
    last_finished_at: datetime | None


_RETURNING = (
    "RETURNING sync_name, watermark, cursor, run_high_water, run_started_at, run_pages,"
    " last_finished_at"
)
_CREATE = """
INSERT INTO {table} (sync_name, watermark) VALUES (%s, %s)
ON CONFLICT (sync_name) DO NOTHING
"""
_READ = """
SELECT sync_name, watermark, cursor, run_high_water, run_started_at, run_pages, last_finished_at
FROM {table} WHERE sync_name = %s
"""
_LOCK = """
SELECT sync_name, watermark, cursor, run_high_water, run_started_at, run_pages, last_finished_at
FROM {table} WHERE sync_name = %s FOR UPDATE
"""
_START_RUN = """
UPDATE {table} SET
    run_started_at = %s, run_pages = 0, run_high_water = NULL, updated_at = now()
WHERE sync_name = %s
{returning}
"""
_RESTART = """
UPDATE {table} SET cursor = NULL, updated_at = now() WHERE sync_name = %s
{returning}
"""
_SAVE = """
UPDATE {table} SET
    cursor = %(next_cursor)s,
    watermark = CASE WHEN %(finished)s
                     THEN GREATEST(watermark,
                                   GREATEST(run_high_water, %(page_high)s) - %(overlap)s)
                     ELSE watermark END,
    run_high_water = CASE WHEN %(finished)s THEN NULL
                          ELSE GREATEST(run_high_water, %(page_high)s) END,
    run_pages = run_pages + 1,
    last_finished_at = CASE WHEN %(finished)s THEN %(now)s ELSE last_finished_at END,
    updated_at = now()
WHERE sync_name = %(name)s
{returning}
"""


class SyncStateTable:
    """One sync table's statements. `moved` is the error a run that finds the state moved
    raises (each sync keeps its own), with `description` naming the sync in its message."""

    def __init__(self, table: Table, moved: type[ConditionFailed], description: str) -> None:
        parts = {"table": sql.Identifier(table), "returning": sql.SQL(_RETURNING)}
        self._create = sql.SQL(_CREATE).format(**parts)
        self._read = sql.SQL(_READ).format(**parts)
        self._lock = sql.SQL(_LOCK).format(**parts)
        self._start_run = sql.SQL(_START_RUN).format(**parts)
        self._restart = sql.SQL(_RESTART).format(**parts)
        self._save = sql.SQL(_SAVE).format(**parts)
        self._moved = moved
        self._description = description

    def start(
        self, cur: Cursor, name: str, initial_watermark: datetime, now: datetime
    ) -> SyncState:
        """The state a run starts from (created at `initial_watermark` the first time). With
        no run in progress (no cursor), a new one starts now; otherwise the run resumes."""
        cur.execute(self._create, (name, initial_watermark))
        state = _state(cur.execute(self._lock, (name,)).fetchone())
        if state.cursor is not None:
            return state
        return _state(cur.execute(self._start_run, (now, name)).fetchone())

    def restart(self, cur: Cursor, expected: SyncState) -> SyncState:
        """The run reads again from the watermark; what it applied stays applied."""
        self.lock_expected(cur, expected)
        return _state(cur.execute(self._restart, (expected.name,)).fetchone())

    def read(self, cur: Cursor, name: str) -> SyncState | None:
        found = cur.execute(self._read, (name,)).fetchone()
        return _state(found) if found else None

    def lock_expected(self, cur: Cursor, expected: SyncState) -> None:
        """Lock the state row for this transaction; raise `moved` unless it still holds the
        watermark and cursor the run read."""
        found = cur.execute(self._lock, (expected.name,)).fetchone()
        current = _state(found) if found else None
        if current is None or (current.watermark, current.cursor) != (
            expected.watermark,
            expected.cursor,
        ):
            raise self._moved(f"{self._description}'s state moved since this run read it")

    def save(
        self,
        cur: Cursor,
        expected: SyncState,
        next_cursor: str | None,
        page_high: datetime | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> SyncState:
        """Save a page applied under `lock_expected`: the next page's cursor, or, with
        `next_cursor` None (the last page), the watermark moved and the cursor cleared."""
        finished = next_cursor is None
        saved = cur.execute(
            self._save,
            {
                "name": expected.name,
                "next_cursor": next_cursor,
                "finished": finished,
                "page_high": page_high,
                "overlap": overlap,
                "now": now,
            },
        ).fetchone()
        return _state(saved)


def _state(row: Any) -> SyncState:
    assert row is not None  # the row exists: created first, or checked under its lock
    name, watermark, cursor, high_water, started, pages, finished = row
    return SyncState(
        name=str(name),
        watermark=watermark,
        cursor=cursor,
        run_high_water=high_water,
        run_started_at=started,
        run_pages=int(pages),
        last_finished_at=finished,
    )
