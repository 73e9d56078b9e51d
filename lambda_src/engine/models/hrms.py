"""The HRMS sync's shapes: an employee as the HRMS holds them (docs/hrms-api.yml), the users row
as the sync sees it, what the sync decided for one employee, and a change still to be carried
to the staff pool and the audit trail.

Official e-mail addresses are kept out of every `repr`, so a log line or a failed assertion
never prints one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

# The audit trail's actor for everything the sync does (no staff member acts).
SYSTEM_ACTOR = "hrms-sync"


class EmployeeStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXITED = "EXITED"


@dataclass(frozen=True)
class Employee:
    employee_id: str
    username: str  # the staff pool's username; read only when the employee first appears
    official_email: str = field(repr=False)
    status: EmployeeStatus
    date_of_exit: date | None
    branch_code: str | None  # None: head office
    designation: str | None
    updated_at: datetime  # timezone-aware

    @property
    def exited(self) -> bool:
        return self.status is EmployeeStatus.EXITED


@dataclass(frozen=True)
class UserRow:
    """A users row as the sync reads it (under its row lock)."""

    user_id: str
    username: str
    employee_id: str | None  # None: made by hand, not yet linked to an employee
    branch_code: str | None
    is_active: bool
    exited_at: datetime | None
    hrms_updated_at: datetime | None  # the employee version last applied
    role: str | None  # roles.role_name; None: no role granted


class Move(StrEnum):
    """What the sync does with one employee."""

    CREATE = "create"  # a joiner: a users row with no role, then a pool user in no group
    DEACTIVATE = "deactivate"  # a leaver: the row inactive, then the pool user disabled
    TRANSFER = "transfer"  # another branch: the row moves, its role goes with it
    REFRESH = "refresh"  # nothing to change but the version applied (and the link)
    NONE = "none"  # nothing at all: a version applied before, an unknown leaver
    SKIP = "skip"  # cannot be applied (see Skip); counted, never fatal


class Skip(StrEnum):
    UNKNOWN_BRANCH = "unknown_branch"  # no such (active) branch in PostgreSQL
    USERNAME_TAKEN = "username_taken"  # the username is another employee's row
    INACTIVE = "inactive"  # ACTIVE at the HRMS, inactive here: an admin reactivates


class Action(StrEnum):
    """The audit trail's actions for the sync's changes."""

    USER_CREATED = "USER_CREATED"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    USER_TRANSFERRED = "USER_TRANSFERRED"
    USER_LINKED = "USER_LINKED"


class PoolAction(StrEnum):
    CREATE = "CREATE"
    DISABLE = "DISABLE"


@dataclass(frozen=True)
class ChangeNote:
    """One change to carry on after PostgreSQL: its audit entry, and the pool's part."""

    action: Action
    pool_action: PoolAction | None
    branch_code: str | None  # the audit chain's: the user's branch after the change
    details: dict[str, Any]  # the audit entry's: ids, branch codes, the role; never PII


@dataclass(frozen=True)
class Decision:
    move: Move
    employee: Employee
    user: UserRow | None = None
    link: bool = False  # the row gets the employee's id (a row made by hand)
    skip: Skip | None = None
    notes: tuple[ChangeNote, ...] = ()


@dataclass(frozen=True)
class PendingChange:
    """A change PostgreSQL holds, still to be carried to the pool and the audit trail."""

    change_id: int
    user_id: str
    username: str
    email: str = field(repr=False)
    action: Action
    pool_action: PoolAction | None
    branch_code: str | None  # the audit chain's: the user's branch after the change
    details: dict[str, Any]
    changed_at: datetime
    attempts: int
