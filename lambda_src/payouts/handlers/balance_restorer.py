"""DynamoDB stream of the transactions table -> balance credits for Rejected/Returned payouts."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payouts import wiring
from payouts.handlers.common import inject_context, logger, metrics
from payouts.logic.restore import BalanceRestorer
from shared import ddb

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def restore(record: DynamoDBRecord) -> bool:
    raw = record.raw_event.get("dynamodb", {})
    old = ddb.from_item(raw.get("OldImage"))
    new = ddb.from_item(raw.get("NewImage"))
    restorer = BalanceRestorer(wiring.ledger(), metrics)
    credited = restorer.on_change(old, new)
    if credited:
        logger.info("balance restored", extra={"transaction_id": (new or {}).get("transaction_id")})
    return credited


@inject_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=restore, processor=processor, context=context
    )
