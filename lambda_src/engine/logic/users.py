"""Staff roles and sign-ins: the rules, with the stores, the staff pool and the audit trail
passed in (no AWS here).

A role change goes PostgreSQL first (the users row is what authorize trusts, so it takes
effect at once), then the staff pool's group (so the next token carries it), then the audit
entry. Each step is idempotent, so a request that failed part-way (503 from Cognito) is
completed by sending it again; a request that finds everything done already changes nothing
and records nothing. What a request changed, it audits: a repeat that only fixed the group
records the change it completed, with the group the pool held before as `from`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from engine.clients.staff_pool import NotInPool
from engine.dal.pg.users import UserChanged
from engine.models.audit import AuditEntry, AuditSink
from engine.models.staff import StaffUser
from engine.models.users import MANAGED_GROUPS, SUPER_ADMIN, RoleChange, SetRoleRequest
from shared import clock
from shared.http import Conflict, Forbidden, NotFound

logger = logging.getLogger(__name__)
ROLE_CHANGED = "ROLE_CHANGED"
LOGIN = "LOGIN"
ENTITY_USER = "user"
# What Cognito shows a refused staff member: the same whatever the reason.
SIGN_IN_REFUSED = "sign-in is not permitted"


class UserDirectory(Protocol):
    def get(self, user_id: str) -> StaffUser | None: ...

    def set_role(self, user_id: str, expected: str | None, role: str) -> StaffUser: ...


class LoginStamp(Protocol):
    def stamp_login(self, user_id: str, at: datetime) -> bool: ...


class RoleGroups(Protocol):
    def set_only_group(
        self, username: str, group: str, managed: frozenset[str]
    ) -> frozenset[str]: ...


class SignInRefused(Exception):
    """Raised from the post-authentication trigger: Cognito then refuses the sign-in."""


def change_role(
    actor: StaffUser,
    actor_roles: frozenset[str],
    user_id: str,
    request: SetRoleRequest,
    *,
    users: UserDirectory,
    pool: RoleGroups,
    audit: AuditSink,
    at: str,
) -> RoleChange:
    """Give `user_id` the one role `request.role`, as `actor` (who holds users:manage)."""
    target = users.get(user_id)
    if target is None:
        raise NotFound("no such user")
    _check_may_change(actor, actor_roles, target, request.role)
    previous, changed = target.role, False
    if target.role != request.role:
        target, changed = _set_in_postgres(users, target, request.role)
    try:
        held = pool.set_only_group(target.username, request.role, MANAGED_GROUPS)
    except NotInPool:
        raise Conflict(
            "the user has no staff pool account yet; the role is recorded: send the request "
            "again once the account exists",
            code="NOT_IN_STAFF_POOL",
        ) from None
    if not changed:
        if held == {request.role}:
            return RoleChange(target, previous, changed=False)
        previous = min(held - {request.role}, default=None)
    details = {"user_id": target.user_id, "from": previous, "to": request.role}
    audit.append(_entry(ROLE_CHANGED, actor, target, at, details | {"reason": request.reason}))
    return RoleChange(target, previous, changed=True)


def _check_may_change(
    actor: StaffUser, actor_roles: frozenset[str], target: StaffUser, role: str
) -> None:
    if target.user_id == actor.user_id:
        raise Forbidden("nobody changes their own role (segregation of duties)")
    if SUPER_ADMIN not in actor_roles and SUPER_ADMIN in (role, target.role):
        raise Forbidden("only a SuperAdmin grants SuperAdmin or changes a SuperAdmin's role")
    if not target.is_active:
        raise Conflict("the user is inactive: roles are granted to active staff only")


def _set_in_postgres(users: UserDirectory, target: StaffUser, role: str) -> tuple[StaffUser, bool]:
    """The user with `role`, and whether this request wrote it."""
    try:
        return users.set_role(target.user_id, target.role, role), True
    except UserChanged as moved:
        current = moved.user
    if current is None:
        raise NotFound("no such user")
    if not current.is_active:
        raise Conflict("the user is inactive: roles are granted to active staff only")
    if current.role != role:
        raise Conflict(f"the user's role was changed meanwhile (now {current.role}): read again")
    return current, False  # another request set the same role: it audits its change


def sign_in(
    username: str,
    client_id: str | None,
    source: str | None,
    *,
    lookup: Callable[[str], StaffUser | None],
    users: LoginStamp,
    audit: AuditSink,
    now: datetime,
) -> StaffUser:
    """An active staff member's sign-in, stamped and audited; anyone else is refused."""
    user = lookup(username)
    if user is None or not user.is_active:
        logger.warning("sign-in refused: %s", "inactive" if user else "unknown user")
        raise SignInRefused(SIGN_IN_REFUSED)
    stamped = users.stamp_login(user.user_id, now)
    details = {"client_id": client_id, "source": source, "last_login_stamped": stamped}
    audit.append(_entry(LOGIN, user, user, clock.iso(now), details))
    return user


def _entry(
    action: str, actor: StaffUser, target: StaffUser, at: str, details: Mapping[str, Any]
) -> AuditEntry:
    return AuditEntry(
        action,
        ENTITY_USER,
        target.user_id,
        actor.user_id,
        actor.username,
        target.branch_code,
        at,
        dict(details),
    )
