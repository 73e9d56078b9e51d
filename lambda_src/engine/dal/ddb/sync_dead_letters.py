"""TransactionsSyncDLQ's messages, and the transactions each one names.

Lambda's on-failure destination for a stream records where the lost batch was, not what it
held: `DDBStreamBatchInfo` (stream, shard, first and last sequence number). The records stay
readable in the stream for 24 hours, long enough for the hourly repair job to read their
keys back. The local runner writes the keys themselves (`records`); both are understood.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ParamValidationError

from shared import ddb

MAX_MESSAGES = 10  # SQS's most per receive
BATCH_GET_LIMIT = 100  # DynamoDB's most keys per BatchGetItem
UNPROCESSED_ATTEMPTS = 5


class PositionsGone(Exception):
    """The stream no longer holds the records a message points at (older than 24 hours), or
    the message names no position the stream API accepts."""


@dataclass(frozen=True)
class DeadLetter:
    receipt_handle: str
    body: dict[str, Any]


class SyncDeadLetters:
    def __init__(self, sqs: Any, streams: Any, dynamodb: Any, queue_url: str, table: str) -> None:
        self._sqs = sqs
        self._streams = streams
        self._dynamodb = dynamodb
        self._queue_url = queue_url
        self._table = table

    def receive(self) -> list[DeadLetter]:
        """Up to MAX_MESSAGES messages; an unreadable body is kept as {} (it names nothing)."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=MAX_MESSAGES, WaitTimeSeconds=0
        )
        letters = []
        for message in response.get("Messages", []):
            try:
                body = json.loads(message.get("Body") or "{}")
            except json.JSONDecodeError:
                body = {}
            handle = message["ReceiptHandle"]
            letters.append(DeadLetter(handle, body if isinstance(body, dict) else {}))
        return letters

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=letter.receipt_handle)

    def transaction_ids(self, letter: DeadLetter) -> list[str]:
        """The transaction ids of the records the message names, in stream order, once each;
        raises PositionsGone when the stream no longer has them."""
        body = letter.body
        if isinstance(body.get("records"), list):
            keys = [r.get("keys") or {} for r in body["records"] if isinstance(r, dict)]
        else:
            keys = list(self._stream_keys(body.get("DDBStreamBatchInfo") or {}))
        found = [str((ddb.from_item(k) or {}).get("transaction_id", "")) for k in keys]
        return list(dict.fromkeys(i for i in found if i))

    def current_items(self, transaction_ids: list[str]) -> list[dict[str, Any]]:
        """The items as they are now (strongly consistent); a deleted one is simply absent."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(transaction_ids), BATCH_GET_LIMIT):
            chunk = transaction_ids[start : start + BATCH_GET_LIMIT]
            items += self._batch_get([ddb.to_item({"transaction_id": i}) for i in chunk])
        return items

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(UNPROCESSED_ATTEMPTS):
            response = self._dynamodb.batch_get_item(RequestItems=request)
            items += [ddb.from_item(i) or {} for i in response["Responses"].get(self._table, [])]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(0.1 * 2**attempt)  # throttled: back off before asking again
        raise RuntimeError("DynamoDB left keys unprocessed; the message is kept for next run")

    def _stream_keys(self, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            arn, shard = info["streamArn"], info["shardId"]
            first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PositionsGone(f"no stream position in the message: {exc!r}") from exc
        gone = (
            self._streams.exceptions.TrimmedDataAccessException,
            self._streams.exceptions.ResourceNotFoundException,
            ParamValidationError,
        )
        try:
            iterator = self._streams.get_shard_iterator(
                StreamArn=arn,
                ShardId=shard,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=str(first),
            )["ShardIterator"]
            while iterator:
                response = self._streams.get_records(ShardIterator=iterator)
                for record in response.get("Records", []):
                    if int(record["dynamodb"]["SequenceNumber"]) > last:
                        return
                    yield record["dynamodb"].get("Keys") or {}
                if not response.get("Records"):
                    return
                iterator = response.get("NextShardIterator")
        except gone as exc:
            raise PositionsGone(f"{shard} from {first}: {type(exc).__name__}") from exc
