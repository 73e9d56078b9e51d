"""GET /payouts/{transaction_id} and GET /customers/{customer_id}/payouts."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import wiring
from payouts.dal.transactions import BadCursor
from payouts.handlers.common import api_resolver, json_response, logger
from payouts.models.api import CUSTOMER_ID_PATTERN
from payouts.models.payout import public_view
from shared.http import NotFound, ValidationError

app = api_resolver()
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_CUSTOMER = re.compile(CUSTOMER_ID_PATTERN)


@app.get("/payouts/<transaction_id>")
def get_payout(transaction_id: str) -> Response:
    if not _REFERENCE.fullmatch(transaction_id):
        raise ValidationError("transaction_id is not valid")
    item = wiring.transactions().get(transaction_id)
    if item is None:
        raise NotFound(f"payout {transaction_id} does not exist")
    return json_response(200, public_view(item))


@app.get("/customers/<customer_id>/payouts")
def list_payouts(customer_id: str) -> Response:
    if not _CUSTOMER.fullmatch(customer_id):
        raise ValidationError("customer_id is not valid")
    params = app.current_event.query_string_parameters or {}
    limit = _limit(params.get("limit"))
    if not wiring.customers(with_crypto=False).exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    try:
        items, cursor = wiring.transactions().list_for_customer(
            customer_id, limit, params.get("cursor")
        )
    except BadCursor as exc:
        raise ValidationError(str(exc)) from exc
    return json_response(200, {"items": [public_view(i) for i in items], "next_cursor": cursor})


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
