"""GET a payout, a customer (balance, destination hints) and a customer's payouts."""

from __future__ import annotations

import re
from typing import Any

from payouts import wiring
from payouts.dal.customers import public_customer
from payouts.dal.transactions import BadCursor
from payouts.handlers.common import inject_context, logger
from payouts.models.api import CUSTOMER_ID_PATTERN
from payouts.models.payout import public_view
from shared.api import Reply, Request, Router
from shared.http import NotFound, ValidationError

router = Router(logger)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_CUSTOMER = re.compile(CUSTOMER_ID_PATTERN)


@router.route("GET", "/payouts/{transaction_id}")
def get_payout(request: Request) -> Reply:
    transaction_id = request.path_params.get("transaction_id", "")
    if not _REFERENCE.fullmatch(transaction_id):
        raise ValidationError("transaction_id is not valid")
    item = wiring.transactions().get(transaction_id)
    if item is None:
        raise NotFound(f"payout {transaction_id} does not exist")
    return Reply(200, public_view(item))


@router.route("GET", "/customers/{customer_id}")
def get_customer(request: Request) -> Reply:
    customer_id = _customer_id(request)
    customer = wiring.customers(with_crypto=False).get(customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return Reply(200, public_customer(customer))


@router.route("GET", "/customers/{customer_id}/payouts")
def list_payouts(request: Request) -> Reply:
    customer_id = _customer_id(request)
    limit = _limit(request.query.get("limit"))
    if not wiring.customers(with_crypto=False).exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    try:
        items, cursor = wiring.transactions().list_for_customer(
            customer_id, limit, request.query.get("cursor")
        )
    except BadCursor as exc:
        raise ValidationError(str(exc)) from exc
    return Reply(200, {"items": [public_view(i) for i in items], "next_cursor": cursor})


def _customer_id(request: Request) -> str:
    customer_id = request.path_params.get("customer_id", "")
    if not _CUSTOMER.fullmatch(customer_id):
        raise ValidationError("customer_id is not valid")
    return customer_id


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return router.resolve(event, context)
