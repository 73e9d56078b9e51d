"""Delivers a DynamoDB table's stream records to a handler, as Lambda's event source does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class StreamPump:
    """Reads new records from every shard of a table's stream and hands them over in order."""

    def __init__(self, dynamodb: Any, streams: Any, table_name: str) -> None:
        self._streams = streams
        self._arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}

    def poll(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records.extend(response.get("Records", []))
        return records

    def drain(self, handler: Callable[[dict[str, Any]], Any], batch_size: int = 10) -> int:
        """Deliver every pending record; returns how many were delivered."""
        delivered = 0
        while True:
            records = self.poll()
            if not records:
                return delivered
            for start in range(0, len(records), batch_size):
                batch = [
                    _as_lambda_record(r, self._arn) for r in records[start : start + batch_size]
                ]
                handler({"Records": batch})
                delivered += len(batch)


def _as_lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    out = dict(record)
    out.setdefault("eventSource", "aws:dynamodb")
    out.setdefault("eventSourceARN", arn)
    out.setdefault("awsRegion", "ap-southeast-2")
    dynamodb = dict(out.get("dynamodb", {}))
    if "ApproximateCreationDateTime" in dynamodb and not isinstance(
        dynamodb["ApproximateCreationDateTime"], int | float
    ):
        dynamodb["ApproximateCreationDateTime"] = dynamodb[
            "ApproximateCreationDateTime"
        ].timestamp()
    out["dynamodb"] = dynamodb
    return out
