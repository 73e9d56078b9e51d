"""The internal API's staff-user shapes: the role an admin sets, and a user as listed.

The request is a `Shape` (one declaration for the gateway model, the OpenAPI schema and the
parser). Its `role` accepts only the declared roles (engine.models.rbac), so an unknown role
is refused at the gateway and by the parser alike. A listed user carries no phone number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engine.models import rbac
from engine.models.lms_admin import REASON
from engine.models.shapes import Field, Shape, Text
from engine.models.staff import StaffUser
from shared import clock

USER_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BRANCH_CODE = r"[A-Za-z0-9_-]{1,20}"  # users.branch_code is VARCHAR(20)
LIST_LIMIT_MAX = 100
ROLE_NAMES = tuple(r.name for r in rbac.ROLES)
MANAGED_GROUPS = frozenset(ROLE_NAMES)  # the staff pool's groups that are roles
SUPER_ADMIN = "SuperAdmin"  # only a SuperAdmin grants it, or changes a SuperAdmin's role

ROLE = Text(
    "|".join(re.escape(name) for name in ROLE_NAMES),
    "one of " + ", ".join(ROLE_NAMES),
    "FieldOfficer",
)


@dataclass(frozen=True)
class SetRoleRequest:
    role: str
    reason: str


SET_ROLE = Shape(
    "SetRoleRequest",
    (Field("role", ROLE), Field("reason", replace(REASON, example="Joined the field team"))),
    SetRoleRequest,
    description="The staff member's one role (their staff pool group too), and why (kept in "
    "the audit record).",
)
REQUESTS = (SET_ROLE,)


@dataclass(frozen=True)
class ListedUser:
    """A users row as `GET /api/v1/users` shows it."""

    user: StaffUser
    last_login_at: datetime | None

    def view(self) -> dict[str, Any]:
        u = self.user
        return {
            "user_id": u.user_id,
            "username": u.username,
            "email": u.email,
            "branch_code": u.branch_code,
            "role": u.role,
            "is_active": u.is_active,
            "last_login_at": clock.iso(self.last_login_at) if self.last_login_at else None,
        }


@dataclass(frozen=True)
class UserFilter:
    branch_code: str | None = None  # None: every branch (an all-branches reach only)
    active: bool | None = None

    @property
    def scope(self) -> str:
        """What a page's cursor is bound to: a cursor never continues another filter's list."""
        active = "*" if self.active is None else str(self.active).lower()
        return f"{self.branch_code or '*'}|{active}"


@dataclass(frozen=True)
class UsersPage:
    items: list[ListedUser]
    cursor: str | None


@dataclass(frozen=True)
class RoleChange:
    """What a role change did: `changed` is False when PostgreSQL and the staff pool already
    held the role (a repeat), and then nothing was audited."""

    user: StaffUser  # as it is now
    previous: str | None
    changed: bool

    def view(self) -> dict[str, Any]:
        return {
            "user_id": self.user.user_id,
            "username": self.user.username,
            "role": self.user.role,
            "previous_role": self.previous,
            "changed": self.changed,
        }
