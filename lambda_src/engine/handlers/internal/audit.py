"""The internal API's audit trail (head office and finance): records by day, entity or actor,
and a day's hash chains recomputed against their anchors (engine.logic.audit).

A listing names one key to read by (date, entity_id or actor_id): the trail is never scanned.
"""

from __future__ import annotations

import re
from datetime import date as calendar_date

import engine.dal.pg.staff  # noqa: F401 - every invocation resolves its caller in PostgreSQL
from engine import wiring_audit
from engine.handlers import common
from engine.handlers.internal.staff import authorize
from engine.logic.audit import verify
from engine.models import audit as shapes
from shared.api import Reply, Request
from shared.cursors import BadCursor
from shared.http import ValidationError

routes = common.router()
_PRIVATE = {"Cache-Control": "no-store"}
_KEYS = ("date", "entity_id", "actor_id")
_PATTERNS = {
    "entity_id": re.compile(shapes.ENTITY_ID),
    "actor_id": re.compile(shapes.ACTOR_ID),
    "action": re.compile(shapes.ACTION),
    "branch_code": re.compile(shapes.BRANCH_CODE),
}
_ISSUES = {
    "entity_id": "1 to 256 characters, no control characters",
    "actor_id": "1 to 128 letters, digits or . _ : @ -",
    "action": "capital letters, digits and _ (2 to 64)",
    "branch_code": "1 to 20 letters, digits, _ or - (HO: head office)",
}


@routes.route("GET", "/api/v1/audit")
def list_records(request: Request) -> Reply:
    caller = authorize(request)
    query = request.query
    given = [k for k in _KEYS if query.get(k) is not None]
    if len(given) != 1:
        raise _invalid("date", "give exactly one of date, entity_id or actor_id")
    by = given[0]
    value = _date(query[by]) if by == "date" else _text(by, query[by])
    if by == "entity_id" and value.startswith("chain#"):
        raise _invalid("entity_id", "chain# ids are the chains' own")
    action = _optional("action", query.get("action"))
    branch = caller.branch_filter(_optional("branch_code", query.get("branch_code")))
    limit = _limit(query.get("limit"))
    try:
        page = wiring_audit.audit_log().page(
            by, value, limit, cursor=query.get("cursor"), action=action, branch_code=branch
        )
    except BadCursor:
        raise _invalid("cursor", "not valid") from None
    body = {"items": [r.view() for r in page.records], "next_cursor": page.cursor}
    return Reply(200, body, _PRIVATE)


@routes.route("GET", "/api/v1/audit/verify")
def verify_day(request: Request) -> Reply:
    authorize(request)
    raw = request.query.get("date")
    if raw is None:
        raise _invalid("date", "required: YYYY-MM-DD (IST)")
    day = _date(raw)
    anchors = wiring_audit.anchors()
    verdict = verify(
        day, wiring_audit.audit_log().on_date(day), anchors.for_date(day) if anchors else {}
    )
    # Without anchors, a deleted newest record cannot be told from one never written.
    body = verdict.view() | {"anchors_checked": anchors is not None}
    return Reply(200, body, _PRIVATE)


def _date(raw: str) -> str:
    try:
        if re.fullmatch(shapes.DATE, raw):
            return calendar_date.fromisoformat(raw).isoformat()
    except ValueError:
        pass
    raise _invalid("date", "a calendar date, YYYY-MM-DD (IST)")


def _text(name: str, raw: str) -> str:
    if not _PATTERNS[name].fullmatch(raw):
        raise _invalid(name, _ISSUES[name])
    return raw


def _optional(name: str, raw: str | None) -> str | None:
    return None if raw is None else _text(name, raw)


def _limit(raw: str | None) -> int:
    if raw is None:
        return shapes.LIST_LIMIT_DEFAULT
    top = shapes.LIST_LIMIT_MAX
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
        raise _invalid("limit", f"an integer from 1 to {top}")
    return int(raw)


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


handler = common.api_handler(routes)
