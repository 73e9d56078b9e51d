"""A staff member as the internal API knows them: their users row and their roles."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffUser:
    """The users row (seed §6.2.1): who they are, where they work, whether they still do."""

    user_id: str  # the row's UUID, as text
    username: str  # the staff pool's username (the ID token's `cognito:username`)
    email: str
    branch_code: str | None  # None for head office staff
    is_active: bool
    role: str | None = None  # the role an admin granted (roles.role_name); None: a joiner
