"""Applies RazorPay webhooks an operator re-drove from their DLQ to the replay queue.

Each message is verified again (its raw body against its signature: the same bytes RazorPay
sent) and applied as the webhook function would. One that still cannot be applied fails, and
after the queue's receive limit returns to the DLQ for a person; the batch reports each
failure on its own (Powertools partial batch responses), so one bad message holds up no other.
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

from engine import wiring_payments
from engine.clients.razorpay import webhook_signature_ok
from engine.handlers.common import inject_context, logger
from engine.logic.dead_letters import DeadLetter
from engine.logic.webhooks import parse

processor = BatchProcessor(event_type=EventType.SQS)


class ReplayFailed(Exception):
    """The message still cannot be applied: leave it to return to the DLQ."""


def replay(record: SQSRecord) -> str:
    letter = DeadLetter.from_message(record.body)
    if not webhook_signature_ok(
        letter.raw_body, letter.signature, wiring_payments.webhook_secrets()
    ):
        raise ReplayFailed("the signature does not verify with the current or previous secret")
    event = parse(letter.raw_body, letter.event_id)
    result = wiring_payments.webhook_processor(job=True).apply(event)
    logger.info("webhook replayed", extra={"event_id": letter.event_id, "result": result.value})
    return result.value


@inject_context
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=replay, processor=processor, context=context
    )
