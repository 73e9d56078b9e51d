"""POST /webhooks/monoova: authenticate, dedupe, move the payout forward, answer 200 fast.

Anything authenticated but not applied (unknown reference, amount mismatch, unreadable
event, a failing table) goes to the DLQ with the raw payload and the error, and still gets
200: Monoova retries only once, so the DLQ is the durable copy. Only if that send fails is
the answer 500, so Monoova's one retry is not wasted.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import wiring
from payouts.handlers.common import api_resolver, json_response, logger, metrics
from payouts.logic import metrics as m
from payouts.logic.dead_letter import DeadLetter
from payouts.logic.webhook_auth import check_signature, check_token
from payouts.logic.webhooks import InvalidEvent, WebhookProcessor, parse_event
from shared import secrets
from shared.aws import client
from shared.http import header, raw_body

app = api_resolver()


@app.post("/webhooks/monoova")
def monoova_webhook() -> Response:
    raw_event = app.current_event.raw_event
    body = raw_body(raw_event)
    expected = secrets.get_json_secret(os.environ["MONOOVA_WEBHOOK_SECRET_ARN"])["authorization"]
    check_token(header(raw_event, "Authorization"), str(expected))
    check_signature(
        body, header(raw_event, "Verification-Signature"), os.environ["MONOOVA_WEBHOOK_PUBLIC_KEYS"]
    )
    webhook_id = header(raw_event, "Webhookid")
    outcome = _process(body, webhook_id)
    return json_response(200, {"received": True, "result": outcome})


def _process(body: bytes, webhook_id: str | None) -> str:
    try:
        event = parse_event(body, webhook_id)
        result = processor().apply(event)
    except InvalidEvent as exc:
        _dead_letter(body, webhook_id, f"invalid event: {exc}")
        return "dead_lettered"
    except Exception as exc:
        _dead_letter(body, webhook_id, f"processing failed: {type(exc).__name__}")
        return "dead_lettered"
    logger.info("webhook handled", extra={"result": result.value, "webhook_id": webhook_id})
    if result.needs_review:
        _dead_letter(body, webhook_id, f"needs review: {result.value}")
        return "dead_lettered"
    return result.value


def processor() -> WebhookProcessor:
    return WebhookProcessor(wiring.dynamodb(), wiring.transactions(), wiring.idempotency(), metrics)


def _dead_letter(body: bytes, webhook_id: str | None, error: str) -> None:
    context = app.lambda_context
    letter = DeadLetter(body, webhook_id, error, getattr(context, "aws_request_id", None))
    client("sqs").send_message(
        QueueUrl=os.environ["WEBHOOK_DLQ_URL"], MessageBody=letter.to_message()
    )
    metrics.add_metric(m.WEBHOOK_DEAD_LETTERED, "Count", 1)
    logger.warning("webhook dead-lettered", extra={"webhook_id": webhook_id, "error": error})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
