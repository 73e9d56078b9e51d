"""GET /api/v1/customer/loans/{loan_account_number} and its payment history.

A session reads its own loan only: any other account number, well-formed or not, existing or
not, is the same 404.
"""

from __future__ import annotations

import re

from engine import wiring, wiring_payments
from engine.handlers import common
from engine.handlers.portal.auth import customer_session
from engine.models.portal import LOAN_ACCOUNT_NUMBER
from engine.models.session import CustomerSession, loan_not_found
from shared.api import Reply, Request
from shared.cursors import BadCursor
from shared.http import ValidationError

routes = common.router()
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_LOAN = re.compile(LOAN_ACCOUNT_NUMBER)
_PRIVATE = {"Cache-Control": "no-store"}


@routes.route("GET", "/api/v1/customer/loans/{loan_account_number}")
def get_loan(request: Request) -> Reply:
    number = _own_loan(request, customer_session(request))
    loan = wiring.loans().loan_by_number(number)
    if loan is None:  # the session outlived its loan record: the same 404 as any other
        raise loan_not_found()
    return Reply(200, loan.portal_view(), _PRIVATE)


@routes.route("GET", "/api/v1/customer/loans/{loan_account_number}/payments")
def list_payments(request: Request) -> Reply:
    number = _own_loan(request, customer_session(request))
    limit = _limit(request.query.get("limit"))
    try:
        payments, cursor = wiring_payments.payments().history(
            number, request.query.get("cursor"), limit
        )
    except BadCursor:
        raise ValidationError(
            "the cursor is not valid", details=[{"field": "cursor", "issue": "not valid"}]
        ) from None
    body = {"items": [p.status_view() for p in payments], "next_cursor": cursor}
    return Reply(200, body, _PRIVATE)


def _own_loan(request: Request, session: CustomerSession) -> str:
    number = request.path_params.get("loan_account_number", "")
    if not _LOAN.fullmatch(number):
        raise ValidationError(
            "loan_account_number is not valid",
            details=[
                {"field": "loan_account_number", "issue": "6 to 20 capital letters or digits"}
            ],
        )
    session.require_loan(number)
    return number


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError(
            f"limit must be an integer from 1 to {MAX_LIMIT}",
            details=[{"field": "limit", "issue": f"an integer from 1 to {MAX_LIMIT}"}],
        )
    return int(raw)


handler = common.api_handler(routes)
