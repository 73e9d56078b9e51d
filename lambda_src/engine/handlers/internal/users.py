"""The internal API's staff users: list them (a branch manager their branch, head office
every branch), and an admin sets a staff member's role (engine.logic.users: PostgreSQL, then
the staff pool's group, then the audit trail)."""

from __future__ import annotations

import re

from engine import wiring_users
from engine.handlers import common
from engine.handlers.internal.staff import authorize
from engine.logic import users as rules
from engine.models.users import BRANCH_CODE, LIST_LIMIT_MAX, SET_ROLE, USER_ID, UserFilter
from shared import clock
from shared.api import Reply, Request
from shared.cursors import BadCursor
from shared.http import ValidationError

routes = common.router()
DEFAULT_LIMIT = 50
_USER_ID = re.compile(USER_ID, re.IGNORECASE)
_BRANCH = re.compile(BRANCH_CODE)
_ACTIVE = {"true": True, "false": False}
_PRIVATE = {"Cache-Control": "no-store"}  # staff e-mail addresses


@routes.route("GET", "/api/v1/users")
def list_users(request: Request) -> Reply:
    caller = authorize(request)
    query = request.query
    branch = query.get("branch_code")
    if branch is not None and not _BRANCH.fullmatch(branch):
        raise _invalid("branch_code", "1 to 20 letters, digits, _ or -")
    active = query.get("active")
    if active is not None and active not in _ACTIVE:
        raise _invalid("active", "true or false")
    where = UserFilter(caller.branch_filter(branch), None if active is None else _ACTIVE[active])
    try:
        page = wiring_users.users().page(where, _limit(query.get("limit")), query.get("cursor"))
    except BadCursor:
        raise _invalid("cursor", "not valid for this listing") from None
    body = {"items": [u.view() for u in page.items], "next_cursor": page.cursor}
    return Reply(200, body, _PRIVATE)


@routes.route("PUT", "/api/v1/users/{user_id}/role")
def set_role(request: Request) -> Reply:
    caller = authorize(request)
    user_id = request.path_params.get("user_id", "")
    if not _USER_ID.fullmatch(user_id):
        raise _invalid("user_id", "a UUID")
    body = SET_ROLE.parse(request.body())
    change = rules.change_role(
        caller.user,
        caller.roles,
        user_id.lower(),
        body,
        users=wiring_users.users(),
        pool=wiring_users.staff_pool(),
        audit=wiring_users.audit_log(),
        at=clock.iso(clock.now()),
    )
    return Reply(200, change.view(), _PRIVATE)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise _invalid("limit", f"an integer from 1 to {LIST_LIMIT_MAX}")
    return int(raw)


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


handler = common.api_handler(routes)
