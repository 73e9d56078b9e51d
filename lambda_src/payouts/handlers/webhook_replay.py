"""Re-processes webhook dead letters that an operator re-drove to the replay queue.

A message that still cannot be applied fails again and, after the queue's maxReceiveCount,
lands back in the DLQ for a person to look at.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import wiring
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic.dead_letter import DeadLetter
from payouts.logic.webhooks import WebhookProcessor, parse_event

processor = BatchProcessor(event_type=EventType.SQS)


class ReplayFailed(Exception):
    """The event still needs a person: leave it for the DLQ."""


def replay(record: SQSRecord) -> str:
    letter = DeadLetter.from_message(record.body)
    event = parse_event(letter.raw_body, letter.webhook_id)
    webhooks = WebhookProcessor(wiring.ledger(), wiring.transactions(), metrics)
    result = webhooks.apply(event)
    logger.info("webhook replayed", extra={"result": result.value, "webhook_id": letter.webhook_id})
    if result.needs_review:
        raise ReplayFailed(result.value)
    return result.value


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=replay, processor=processor, context=context
    )
