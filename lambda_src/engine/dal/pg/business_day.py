"""A branch's business day: the DCR date a collection counts in, under that DCR's row lock.

Every writer of a branch's day holds its `dcr_sessions` row (`FOR UPDATE`) for the length of
its unit of work: a collection while it is inserted, a cancellation while it is marked, the
DCR's submit and approve (engine.dal.pg.dcr) while they sum the day. So a collection can
never slip into a day between its totals being read and the day being closed: it either
commits before the submit reads (and is counted) or finds the day closed (and moves on).

A day whose DCR is SUBMITTED or APPROVED is closed; DRAFT and REJECTED days take collections
(a rejected day is corrected and submitted again). A collection written on a closed day goes
to the next date, at most tomorrow: a DCR cannot be submitted for a future date, so tomorrow
is always open unless something is badly wrong, and then the collection is refused.
"""

from __future__ import annotations

from datetime import date, timedelta

from engine.dal.pg.db import Cursor
from engine.models.status import DCR_CLOSED
from shared.store_errors import ConditionFailed

CLOSED = frozenset(status.value for status in DCR_CLOSED)
# How many dates after today a collection may move to.
MAX_DAYS_AHEAD = 1

_ENSURE = """
INSERT INTO dcr_sessions (branch_code, collection_date) VALUES (%s, %s)
ON CONFLICT (branch_code, collection_date) DO NOTHING
"""
# A separate statement: in READ COMMITTED it waits for a holder of the lock, then reads the
# row as that holder committed it (a submit that just closed the day).
_LOCK = """
SELECT status FROM dcr_sessions WHERE branch_code = %s AND collection_date = %s FOR UPDATE
"""


class DayClosed(ConditionFailed):
    """The branch's DCR for `day` is submitted or approved (and so are the next allowed)."""

    def __init__(self, branch_code: str, day: date, status: str) -> None:
        super().__init__(f"the DCR of {branch_code} for {day.isoformat()} is {status}")
        self.branch_code = branch_code
        self.day = day
        self.status = status


def lock_day(cur: Cursor, branch_code: str, day: date) -> str:
    """The status of the branch's DCR for `day` (created DRAFT if it had none), its row
    locked until the caller's transaction ends."""
    cur.execute(_ENSURE, (branch_code, day))
    row = cur.execute(_LOCK, (branch_code, day)).fetchone()
    assert row is not None  # just ensured, and never deleted by the app role
    return str(row[0])


def open_day(cur: Cursor, branch_code: str, today: date) -> date:
    """The business date a collection written `today` (IST) takes: today, or the first open
    date after it; its DCR row (and any closed one passed over) stays locked."""
    status = ""
    for ahead in range(MAX_DAYS_AHEAD + 1):
        day = today + timedelta(days=ahead)
        status = lock_day(cur, branch_code, day)
        if status not in CLOSED:
            return day
    raise DayClosed(branch_code, today + timedelta(days=MAX_DAYS_AHEAD), status)


def require_open(cur: Cursor, branch_code: str, day: date) -> None:
    """Lock the branch's `day` and refuse (`DayClosed`) if its DCR is submitted or approved:
    nothing is added to or taken from a closed day."""
    status = lock_day(cur, branch_code, day)
    if status in CLOSED:
        raise DayClosed(branch_code, day, status)
