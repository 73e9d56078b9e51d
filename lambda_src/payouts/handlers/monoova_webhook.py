"""POST /webhooks/monoova: authenticate, dedupe, move the payout forward, answer 200 fast.

Anything authenticated but not applied (unknown reference, amount mismatch, unreadable
event, a failing table) goes to the DLQ with the raw payload and the error, and still gets
200: Monoova retries only once, so the DLQ is the durable copy. Only if that send fails is
the answer 500, so Monoova's one retry is not wasted.
"""

from __future__ import annotations

import os
from typing import Any

from payouts import wiring
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic import metrics as m
from payouts.logic.dead_letter import DeadLetter
from payouts.logic.webhook_auth import check_signature, check_token
from payouts.logic.webhooks import InvalidEvent, WebhookProcessor, parse_event
from shared import secrets
from shared.api import Reply, Request, Router
from shared.aws import client

router = Router(logger)


@router.route("POST", "/webhooks/monoova")
def monoova_webhook(request: Request) -> Reply:
    body = request.body()
    secret = secrets.get_json_secret(os.environ["MONOOVA_WEBHOOK_SECRET_ARN"])
    accepted = [str(secret.get(k) or "") for k in ("authorization", "previous_authorization")]
    check_token(request.header("Authorization"), accepted)
    check_signature(
        body, request.header("Verification-Signature"), os.environ["MONOOVA_WEBHOOK_PUBLIC_KEYS"]
    )
    webhook_id = request.header("Webhookid")
    outcome = _process(body, webhook_id, getattr(request.context, "aws_request_id", None))
    return Reply(200, {"received": True, "result": outcome})


def _process(body: bytes, webhook_id: str | None, request_id: str | None) -> str:
    try:
        event = parse_event(body, webhook_id)
        result = processor().apply(event)
    except InvalidEvent as exc:
        _dead_letter(DeadLetter(body, webhook_id, f"invalid event: {exc}", request_id))
        return "dead_lettered"
    except Exception as exc:
        _dead_letter(
            DeadLetter(body, webhook_id, f"processing failed: {type(exc).__name__}", request_id)
        )
        return "dead_lettered"
    logger.info("webhook handled", extra={"result": result.value, "webhook_id": webhook_id})
    if result.needs_review:
        _dead_letter(DeadLetter(body, webhook_id, f"needs review: {result.value}", request_id))
        return "dead_lettered"
    return result.value


def processor() -> WebhookProcessor:
    return WebhookProcessor(wiring.ledger(), wiring.transactions(), metrics)


def _dead_letter(letter: DeadLetter) -> None:
    client("sqs").send_message(
        QueueUrl=os.environ["WEBHOOK_DLQ_URL"], MessageBody=letter.to_message()
    )
    metrics.add_metric(m.WEBHOOK_DEAD_LETTERED, "Count", 1)
    logger.warning(
        "webhook dead-lettered", extra={"webhook_id": letter.webhook_id, "error": letter.error}
    )


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return router.resolve(event, context)
