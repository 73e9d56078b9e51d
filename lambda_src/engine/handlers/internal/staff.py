"""Who is calling the internal API, and whether they may: every internal route's first step.

API Gateway's Cognito authorizer has checked the ID token; its claims name the staff member
(`cognito:username`) and their roles (`cognito:groups`, the staff pool's groups). The users
row in PostgreSQL says whether they still work here, at which branch, and which role an admin
granted them: it is read on every request, so a leaver the HRMS sync deactivated, or a role
taken away, is refused at once, whatever token they hold.
The route's declared permission and scope (engine.declarations, engine.models.rbac) decide
the rest; a handler that learns its target's branch or owner only after a read asks again
(`Caller.require_branch`, `Caller.require_record`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Every internal request reads its caller's users row: PostgreSQL's modules belong in the
# cold import of every internal handler (engine.wiring imports them only when built).
import engine.dal.pg.staff  # noqa: F401
from engine import wiring
from engine.models import rbac
from engine.models.audit import Actor
from engine.models.rbac import Scope
from engine.models.staff import StaffUser
from shared.api import Request
from shared.declarations import Route
from shared.http import Forbidden, Unauthorized

Lookup = Callable[[str], StaffUser | None]


@dataclass(frozen=True)
class Caller:
    """An active staff member allowed the route's permission, and how far it reaches."""

    user: StaffUser
    roles: frozenset[str]
    permission: str
    reach: Scope

    @property
    def actor(self) -> Actor:
        return Actor(self.user.user_id, self.user.email, self.user.username, self.user.branch_code)

    def may_branch(self, branch_code: str) -> bool:
        if self.reach is Scope.ALL_BRANCHES:
            return True
        return self.user.branch_code is not None and branch_code == self.user.branch_code

    def require_branch(self, branch_code: str) -> None:
        """Refuse (403) data of a branch beyond the caller's reach."""
        if not self.may_branch(branch_code):
            raise Forbidden(f"{self.permission} does not reach branch {branch_code}")

    def require_record(self, branch_code: str, owner_user_id: str) -> None:
        """Refuse (403) a record beyond the caller's reach: another branch's, or, for an
        own-records reach (a field officer), another staff member's."""
        self.require_branch(branch_code)
        if self.reach is Scope.OWN_RECORDS and owner_user_id != self.user.user_id:
            raise Forbidden(f"{self.permission} reaches only your own records")

    def branch_filter(self, requested: str | None) -> str | None:
        """The branch a listing is confined to: the one asked for if within reach, else the
        caller's own; None (every branch) only for an all-branches reach asking for none."""
        if requested is not None:
            self.require_branch(requested)
            return requested
        if self.reach is Scope.ALL_BRANCHES:
            return None
        if self.user.branch_code is None:
            raise Forbidden("a branch-bound role needs a branch on the users row")
        return self.user.branch_code

    def owner_filter(self) -> str | None:
        """The only creator an own-records reach may list (None: anyone within reach)."""
        return self.user.user_id if self.reach is Scope.OWN_RECORDS else None


def claims_of(request: Request) -> dict[str, str]:
    context = request.event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    return claims if isinstance(claims, dict) else {}


def roles_of(claims: dict[str, str]) -> frozenset[str]:
    """`cognito:groups` as API Gateway passes it: a list, or one string of names separated
    by commas or spaces (and bracketed, as the REST authorizer renders a list)."""
    raw = claims.get("cognito:groups") or ""
    names = raw if isinstance(raw, list) else str(raw).strip("[]").replace(",", " ").split()
    return frozenset(n for n in names if n in rbac.ROLES_BY_NAME)


def granted_roles(token_roles: frozenset[str], user: StaffUser) -> frozenset[str]:
    """The token's groups that the users row still grants: an ID token lives an hour, so a
    role an admin took away (or a joiner never given one) must not outlive its change."""
    return token_roles & {user.role} if user.role else frozenset()


def authorize(request: Request, lookup: Lookup | None = None) -> Caller:
    """The caller of this request's declared route, or 401 (no identity) / 403 (unknown,
    inactive, or without the route's permission)."""
    route = _route_of(request)
    claims = claims_of(request)
    username = claims.get("cognito:username") or claims.get("username")
    if not isinstance(username, str) or not username:
        raise Unauthorized("no staff identity on this request")
    user = (lookup or wiring.staff().by_username)(username)
    if user is None or not user.is_active:
        raise Forbidden("not an active staff member")
    roles = granted_roles(roles_of(claims), user)
    if route.permission is None:
        raise Forbidden("this route declares no permission")
    reach = rbac.reach_for(roles, route.permission)
    if reach is None:
        raise Forbidden(f"your roles do not hold {route.permission}")
    return Caller(user, roles, route.permission, reach)


def _route_of(request: Request) -> Route:
    key = (str(request.event.get("httpMethod", "")).upper(), str(request.event.get("resource")))
    route = _internal_routes().get(key)
    if route is None:  # a handler registered a route the declarations lack: refuse, loudly
        raise Forbidden("no declared permission for this route")
    return route


@cache
def _internal_routes() -> dict[tuple[str, str], Route]:
    from engine.declarations import INTERNAL_ROUTES  # noqa: PLC0415 - declarations import models

    return {(r.method, r.path): r for r in INTERNAL_ROUTES}
