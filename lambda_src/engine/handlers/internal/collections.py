"""The internal API's staff collections: take one, list them, read one, cancel a wrong one.

Each route resolves its caller first (engine.handlers.internal.staff.authorize), then parses,
then hands over to engine.logic.collections. Answers are never cached.
"""

from __future__ import annotations

import re
from datetime import date

from engine import wiring_collections
from engine.dal.pg.collections import Filters
from engine.handlers import common
from engine.handlers.internal.staff import authorize
from engine.models.collections import (
    BRANCH_CODE,
    CANCEL,
    COLLECT,
    COLLECTION_ID,
    IDEMPOTENCY_KEY,
    LIST_LIMIT_MAX,
    STATUSES,
    parse_day,
)
from shared.api import Reply, Request
from shared.cursors import BadCursor
from shared.http import NotFound, ValidationError

routes = common.router()
DEFAULT_LIMIT = 50
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PRIVATE = {"Cache-Control": "no-store"}
_ID = re.compile(COLLECTION_ID)
_KEY = re.compile(IDEMPOTENCY_KEY)
_BRANCH = re.compile(BRANCH_CODE)


@routes.route("POST", "/api/v1/collections")
def collect(request: Request) -> Reply:
    caller = authorize(request)
    body = COLLECT.parse(request.body())
    key = request.header(IDEMPOTENCY_HEADER)
    if key is None or not _KEY.fullmatch(key):
        raise _invalid(IDEMPOTENCY_HEADER, "required: 8-128 of [A-Za-z0-9_-]")
    done = wiring_collections.service().collect(caller, body, key)
    common.logger.info(
        "collection taken",
        extra={"collection_id": done.collection.collection_id, "replayed": done.replayed},
    )
    return Reply(201, done.collection.view(), _PRIVATE)


@routes.route("GET", "/api/v1/collections")
def list_collections(request: Request) -> Reply:
    caller = authorize(request)
    query = request.query
    filters = Filters(
        branch_code=_branch(query.get("branch_code")),
        business_date=_day(query.get("business_date")),
        status=_status(query.get("status")),
    )
    try:
        found, cursor = wiring_collections.service().page(
            caller, filters, _limit(query.get("limit")), query.get("cursor")
        )
    except BadCursor:
        raise _invalid("cursor", "not valid for this listing") from None
    body = {"items": [c.view() for c in found], "next_cursor": cursor}
    return Reply(200, body, _PRIVATE)


@routes.route("GET", "/api/v1/collections/{collection_id}")
def get_collection(request: Request) -> Reply:
    caller = authorize(request)
    found = wiring_collections.service().get(caller, _collection_id(request))
    return Reply(200, found.view(), _PRIVATE)


@routes.route("POST", "/api/v1/collections/{collection_id}/cancel")
def cancel(request: Request) -> Reply:
    caller = authorize(request)
    body = CANCEL.parse(request.body())
    collection_id = _collection_id(request)
    cancelled = wiring_collections.service().cancel(caller, collection_id, body.reason)
    common.logger.info("collection cancelled", extra={"collection_id": collection_id})
    return Reply(200, cancelled.view(), _PRIVATE)


def _collection_id(request: Request) -> str:
    value = request.path_params.get("collection_id", "")
    if not _ID.fullmatch(value):
        raise NotFound("no such collection")  # a malformed id names none
    return value


def _branch(raw: str | None) -> str | None:
    if raw is not None and not _BRANCH.fullmatch(raw):
        raise _invalid("branch_code", "2 to 20 capital letters or digits")
    return raw


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return parse_day(raw)
    except ValueError as exc:
        raise _invalid("business_date", str(exc)) from None


def _status(raw: str | None) -> str | None:
    if raw is not None and raw not in STATUSES:
        raise _invalid("status", f"one of {', '.join(STATUSES)}")
    return raw


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise _invalid("limit", f"an integer from 1 to {LIST_LIMIT_MAX}")
    return int(raw)


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


handler = common.api_handler(routes)
