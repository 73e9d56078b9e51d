"""local.streams.StreamPump against moto: it follows the shard moto swaps in when it rolls a
cancelled transaction back, honours batchItemFailures as Lambda's event source mapping does,
and keeps neither delivered records nor used iterators in moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import moto_serial
from local.streams import StreamPump
from shared.tables import Key, TableSpec

REGION = "ap-southeast-2"
TABLE = "pump-test"
SPEC = TableSpec("PumpTest", Key("pk"), stream="NEW_AND_OLD_IMAGES")


@pytest.fixture
def dynamodb(dynamodb: Any) -> Any:
    dynamodb.create_table(**SPEC.create_table_kwargs(TABLE))
    return dynamodb


@pytest.fixture
def streams(dynamodb: Any) -> Any:
    # moto 5.2.5 routes only the classic endpoint, not the account-based one.
    config = Config(account_id_endpoint_mode="disabled")
    return boto3.client("dynamodbstreams", region_name=REGION, config=config)


def put(dynamodb: Any, key: str) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": key}})


def cancel_a_transaction(dynamodb: Any) -> None:
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "never"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            ]
        )


class Recorder:
    """A stream handler that fails the records it is told to, `times` times each."""

    def __init__(self, fail: set[str] | None = None, times: int = 1) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail or set()
        self.left = dict.fromkeys(self.fail, times)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        self.batches.append(keys)
        failures = []
        for record, key in zip(event["Records"], keys, strict=True):
            if key in self.fail and self.left[key] > 0:
                self.left[key] -= 1
                failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
        return {"batchItemFailures": failures}

    @property
    def seen(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


def test_records_written_after_a_cancelled_transaction_are_still_delivered(
    dynamodb: Any, streams: Any
) -> None:
    pump = StreamPump(dynamodb, streams, TABLE)
    handler = Recorder()
    put(dynamodb, "before")
    assert pump.drain(handler) == 1

    cancel_a_transaction(dynamodb)  # moto restores a copy of the table, with a new shard
    put(dynamodb, "after")

    assert pump.drain(handler) == 1
    assert handler.seen == ["before", "after"]


def test_a_failed_record_and_the_ones_after_it_are_delivered_again(
    dynamodb: Any, streams: Any
) -> None:
    for key in ("a", "b", "c", "d"):
        put(dynamodb, key)
    handler = Recorder(fail={"b"}, times=2)

    delivered = StreamPump(dynamodb, streams, TABLE, batch_size=10).drain(handler)

    # "a" is done after the first batch; from "b" on the batch comes back until it passes.
    assert handler.batches == [["a", "b", "c", "d"], ["b", "c", "d"], ["b", "c", "d"]]
    assert delivered == 4


def test_after_the_retries_the_rest_of_the_batch_goes_to_the_failure_destination(
    dynamodb: Any, streams: Any
) -> None:
    for key in ("a", "b", "c"):
        put(dynamodb, key)
    dead: list[list[str]] = []
    handler = Recorder(fail={"b"}, times=100)
    pump = StreamPump(
        dynamodb,
        streams,
        TABLE,
        max_retries=2,
        on_failure=lambda records: dead.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in records]),
    )

    pump.drain(handler)
    put(dynamodb, "d")
    pump.drain(handler)

    assert handler.batches == [["a", "b", "c"], ["b", "c"], ["b", "c"], ["d"]]
    assert dead == [["b", "c"]]


def test_a_handler_that_raises_gets_the_whole_batch_again(dynamodb: Any, streams: Any) -> None:
    put(dynamodb, "a")
    calls: list[int] = []

    def flaky(event: dict[str, Any]) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("the function timed out")

    StreamPump(dynamodb, streams, TABLE).drain(flaky)

    assert calls == [1, 1]


def test_moto_keeps_neither_delivered_records_nor_used_iterators(
    dynamodb: Any, streams: Any
) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    pump = StreamPump(dynamodb, streams, TABLE)
    for key in ("a", "b", "c"):
        put(dynamodb, key)
    pump.drain(Recorder())
    for _ in range(20):
        pump.drain(Recorder())  # polls that find nothing

    shards = [
        b.tables[TABLE].stream_shard
        for regions in dynamodb_backends.values()
        for b in regions.values()
        if TABLE in b.tables
    ]
    assert len(shards) == 1
    assert shards[0].items == []
    iterators = sum(
        len(b.shard_iterators)
        for regions in dynamodbstreams_backends.values()
        for b in regions.values()
    )
    assert iterators == 0
    put(dynamodb, "d")  # numbering goes on after the trim
    handler = Recorder()
    pump.drain(handler)
    assert handler.seen == ["d"]


def test_moto_forgets_the_table_copies_each_transaction_makes(dynamodb: Any) -> None:
    from moto.dynamodb.models.table import Table

    put(dynamodb, "a")
    for _ in range(5):
        cancel_a_transaction(dynamodb)
    assert len(Table.instances_tracked) > 5  # every rollback copy, kept for moto's dashboard

    moto_serial.forget_model_instances()

    assert Table.instances_tracked == []
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})["Item"]  # state intact


def test_the_declared_filter_passes_over_what_lambda_would_drop(
    dynamodb: Any, streams: Any
) -> None:
    from engine.declarations import EVENT_SOURCES, LMS_POSTER

    pattern = next(s for s in EVENT_SOURCES if s.function == LMS_POSTER.name).filter_pattern
    assert pattern is not None
    for key, queue_type, status in (
        ("a", "LMS_RECEIPT", "PENDING"),
        ("b", "OTHER", "PENDING"),
        ("c", "LMS_RECEIPT", "IN_FLIGHT"),
        ("d", "LMS_RECEIPT", "PENDING"),
    ):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": key}, "queue_type": {"S": queue_type}, "status": {"S": status}},
        )
    handler = Recorder(fail={"d"})

    pump = StreamPump(dynamodb, streams, TABLE, batch_size=10, filter_pattern=pattern)
    pump.drain(handler)

    # Only the PENDING LMS receipts reach the handler; a failure re-delivers from it.
    assert handler.batches == [["a", "d"], ["d"]]
