"""POST /payouts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import settings, wiring
from payouts.handlers.common import api_resolver, json_response, logger, metrics
from payouts.logic.create_payout import CreatePayout
from payouts.logic.validation import parse_create_request
from shared import jsonutil
from shared.http import ValidationError, header

app = api_resolver()


@app.post("/payouts")
def create_payout() -> Response:
    event = app.current_event
    try:
        body = jsonutil.loads(event.decoded_body or "")
    except jsonutil.InvalidJson as exc:
        raise ValidationError("the body is not valid JSON") from exc
    command = parse_create_request(body, header(event.raw_event, "Idempotency-Key"))
    context = app.lambda_context
    remaining = (lambda: context.get_remaining_time_in_millis() / 1000) if context else None
    service = CreatePayout(
        client=wiring.dynamodb(),
        customers=wiring.customers(),
        transactions=wiring.transactions(),
        idempotency=wiring.idempotency(),
        breaker=wiring.breaker(),
        submitter=wiring.submitter(metrics, wiring.monoova(remaining)),
        metrics=metrics,
        retention_seconds=settings.retention_seconds(),
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds(),
    )
    reply = service(command)
    logger.info(
        "payout request handled",
        extra={"transaction_id": reply.body.get("transaction_id"), "replayed": reply.replayed},
    )
    return json_response(reply.status_code, reply.body)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
