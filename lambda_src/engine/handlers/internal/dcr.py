"""The internal API's DCR routes: read a day's reconciliation (or list them), and its steps:
submit (the cashier's DBS count), approve or reject (a branch manager, never the submitter),
reopen a rejected one. Rules in engine.logic.dcr; each caller is checked against the path's
branch before anything is read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine import wiring_dcr
from engine.handlers import common
from engine.handlers.internal.staff import Caller, authorize
from engine.models.dcr import (
    BRANCH_CODE,
    REJECT_DCR,
    SUBMIT_DCR,
    DcrKey,
    Snapshot,
    UnknownBranch,
    dcr_view,
    parse_day,
    parse_key,
)
from engine.models.status import DcrStatus
from shared.api import Reply, Request
from shared.http import NotFound, ValidationError

routes = common.router()
_DAY = "/api/v1/dcr/{branch_code}/{collection_date}"
_PRIVATE = {"Cache-Control": "no-store"}


@routes.route("GET", "/api/v1/dcr")
def list_dcrs(request: Request) -> Reply:
    caller = authorize(request)
    query = request.query
    branch = query.get("branch_code")
    if branch is not None and not BRANCH_CODE.fullmatch(branch):
        raise _invalid("branch_code", "2 to 20 capital letters or digits")
    listing = wiring_dcr.service().listing(
        caller.branch_filter(branch),
        _query_day(query.get("from"), "from"),
        _query_day(query.get("to"), "to"),
        _status(query.get("status")),
    )
    body = {
        "from": listing.start.isoformat(),
        "to": listing.end.isoformat(),
        "items": [dcr_view(s) for s in listing.items],
        "truncated": listing.truncated,
    }
    return Reply(200, body, _PRIVATE)


@routes.route("GET", _DAY)
def read_dcr(request: Request) -> Reply:
    key = _key(request, authorize(request))
    return _answer(lambda: wiring_dcr.service().read(key))


@routes.route("POST", _DAY + "/submit")
def submit_dcr(request: Request) -> Reply:
    caller = authorize(request)
    key = _key(request, caller)
    body = SUBMIT_DCR.parse(request.body())
    return _answer(lambda: wiring_dcr.service().submit(key, body, caller.actor))


@routes.route("POST", _DAY + "/approve")
def approve_dcr(request: Request) -> Reply:
    caller = authorize(request)
    key = _key(request, caller)
    return _answer(lambda: wiring_dcr.service().approve(key, caller.actor))


@routes.route("POST", _DAY + "/reject")
def reject_dcr(request: Request) -> Reply:
    caller = authorize(request)
    key = _key(request, caller)
    body = REJECT_DCR.parse(request.body())
    return _answer(lambda: wiring_dcr.service().reject(key, body.reason, caller.actor))


@routes.route("POST", _DAY + "/reopen")
def reopen_dcr(request: Request) -> Reply:
    caller = authorize(request)
    key = _key(request, caller)
    return _answer(lambda: wiring_dcr.service().reopen(key, caller.actor))


def _key(request: Request, caller: Caller) -> DcrKey:
    params = request.path_params
    key = parse_key(params.get("branch_code", ""), params.get("collection_date", ""))
    caller.require_branch(key.branch_code)
    return key


def _answer(act: Callable[[], Snapshot]) -> Reply:
    try:
        snapshot = act()
    except UnknownBranch as unknown:
        raise NotFound(f"no branch {unknown}") from None
    return Reply(200, dcr_view(snapshot), _PRIVATE)


def _query_day(raw: str | None, field: str) -> date | None:
    if raw is None:
        return None
    day = parse_day(raw)
    if day is None:
        raise _invalid(field, "a date, YYYY-MM-DD")
    return day


def _status(raw: str | None) -> DcrStatus | None:
    if raw is None:
        return None
    try:
        return DcrStatus(raw)
    except ValueError:
        raise _invalid("status", "one of " + ", ".join(s.value for s in DcrStatus)) from None


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


handler = common.api_handler(routes)
