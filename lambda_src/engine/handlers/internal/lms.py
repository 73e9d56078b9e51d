"""The internal API's manual intervention on LMS postings (staff; the staff-engine issue adds
roles): list items by status, retry an EXCEPTION item now, or mark it resolved. Each action
is recorded with the staff member and the reason (engine.dal.ddb.intervention). Retry and
resolve act on the receipt's posting unless the body names the reversal (queue_type)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from engine import wiring_lms
from engine.dal.ddb.intervention import Action, Actor, NotActionable
from engine.handlers import common
from engine.handlers.internal.staff import authorize
from engine.models.lms_admin import LIST_LIMIT_MAX, RESOLVE_POSTING, RETRY_POSTING, posting_view
from engine.models.portal import LOAN_ACCOUNT_NUMBER, PAYMENT_ID
from engine.models.status import PostingStatus
from shared import clock
from shared.api import Reply, Request
from shared.cursors import BadCursor
from shared.http import Conflict, ValidationError

routes = common.router()
DEFAULT_LIMIT = 50
_PAYMENT = re.compile(PAYMENT_ID)
_LOAN = re.compile(LOAN_ACCOUNT_NUMBER)
_PRIVATE = {"Cache-Control": "no-store"}


@routes.route("GET", "/api/v1/lms/postings")
def list_postings(request: Request) -> Reply:
    authorize(request)
    query = request.query
    status = _status(query.get("status", PostingStatus.EXCEPTION.value))
    loan = query.get("loan_account_number")
    if loan is not None and not _LOAN.fullmatch(loan):
        raise _invalid("loan_account_number", "6 to 20 capital letters or digits")
    try:
        page = wiring_lms.interventions().in_status(
            status, _limit(query.get("limit")), query.get("cursor"), loan
        )
    except BadCursor:
        raise _invalid("cursor", "not valid") from None
    body = {"items": [posting_view(i) for i in page.items], "next_cursor": page.cursor}
    return Reply(200, body, _PRIVATE)


@routes.route("POST", "/api/v1/lms/postings/{transaction_id}/retry")
def retry_posting(request: Request) -> Reply:
    actor = authorize(request).actor
    body = RETRY_POSTING.parse(request.body())
    action = _action(request, actor, body.reason, body.item_type)
    _acting(lambda: wiring_lms.interventions().retry_now(action))
    return Reply(202, _answer(action, "PENDING"))


@routes.route("POST", "/api/v1/lms/postings/{transaction_id}/resolve")
def resolve_posting(request: Request) -> Reply:
    actor = authorize(request).actor
    body = RESOLVE_POSTING.parse(request.body())
    action = _action(request, actor, body.reason, body.item_type)
    _acting(lambda: wiring_lms.interventions().resolve(action, body.lms_receipt_id))
    return Reply(200, _answer(action, "RESOLVED"))


def _action(request: Request, actor: Actor, reason: str, queue_type: str) -> Action:
    transaction_id = request.path_params.get("transaction_id", "")
    if not _PAYMENT.fullmatch(transaction_id):
        raise _invalid("transaction_id", "pay_ and 20 base32 characters")
    moment = datetime.now(UTC)
    at, now = clock.iso(moment), int(moment.timestamp())
    return Action(transaction_id, actor, reason, at, now, queue_type)


def _answer(action: Action, status: str) -> dict[str, str]:
    return {
        "transaction_id": action.transaction_id,
        "queue_type": action.queue_type,
        "status": status,
    }


def _acting(act: Callable[[], None]) -> None:
    try:
        act()
    except NotActionable as refused:
        raise Conflict(f"only an EXCEPTION item can be acted on: {refused}") from None


def _status(raw: str) -> PostingStatus:
    try:
        return PostingStatus(raw)
    except ValueError:
        names = ", ".join(s.value for s in PostingStatus)
        raise _invalid("status", f"one of {names}") from None


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise _invalid("limit", f"an integer from 1 to {LIST_LIMIT_MAX}")
    return int(raw)


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


handler = common.api_handler(routes)
