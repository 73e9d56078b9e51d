"""POST /payouts."""

from __future__ import annotations

from typing import Any

from payouts import settings, wiring
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic.create_payout import CreatePayout
from payouts.logic.validation import parse_create_request
from shared import jsonutil
from shared.api import Reply, Request, Router
from shared.http import ValidationError

router = Router(logger)


@router.route("POST", "/payouts")
def create_payout(request: Request) -> Reply:
    try:
        body = jsonutil.loads(request.body())
    except jsonutil.InvalidJson as exc:
        raise ValidationError("the body is not valid JSON") from exc
    command = parse_create_request(body, request.header("Idempotency-Key"))
    monoova = wiring.monoova(request.remaining_seconds, for_create=True)
    service = CreatePayout(
        customers=wiring.customers(),
        idempotency=wiring.idempotency(),
        ledger=wiring.ledger(),
        destinations=wiring.payout_destinations(),
        breaker=wiring.breaker(),
        submitter=wiring.submitter(metrics, monoova),
        metrics=metrics,
        retention_seconds=settings.retention_seconds(),
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds(),
    )
    reply = service(command)
    if reply.submission_error:
        logger.error(
            "payout recorded but its submission did not complete; the reconciler will finish it",
            extra={"transaction_id": reply.body["transaction_id"], "error": reply.submission_error},
        )
    logger.info(
        "payout request handled",
        extra={"transaction_id": reply.body.get("transaction_id"), "replayed": reply.replayed},
    )
    return Reply(reply.status_code, reply.body)


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return router.resolve(event, context)
