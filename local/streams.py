"""Delivers a DynamoDB table's stream records to a handler, as Lambda's event source does.

Three things moto does not do as DynamoDB Streams and Lambda do, handled here:

- moto rolls back a cancelled TransactWriteItems by putting back a deep copy of the table,
  and the copy carries a new stream shard object (same shard id). An iterator handed out
  before keeps reading the discarded shard and never sees another record. So the pump keeps
  its position as the last sequence number it delivered and asks for a fresh iterator
  after it on every poll: it always reads the table's current shard.
- Lambda's event source mapping retries a batch whose function reports
  `batchItemFailures`, from the first failed record on (the records before it are done),
  and after `max_retries` sends the rest of the batch to the on-failure destination and
  moves on. The pump does the same; `on_failure` receives what AWS would dead-letter.
- moto keeps every stream record (and every shard iterator ever issued) forever; DynamoDB
  keeps records 24 hours. With the pump as the only reader, what it has delivered is
  dropped from the shard, and its used iterators are forgotten, so the runner's memory
  stays flat however many payouts it serves (and moto's per-transaction table copies stay
  small).

An event source mapping's filter (`filter_pattern`, the stacks' Lambda FilterCriteria
pattern) is applied as Lambda applies it: a record that does not match is passed over
without an invocation, and counts as done.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from local import moto_serial

Handler = Callable[[dict[str, Any]], Any]
MAX_RETRIES = 5  # the stack's event source mapping: retry_attempts=5


class StreamPump:
    """Reads new records from every shard of a table's stream and hands them over in order."""

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table_name: str,
        *,
        batch_size: int = 10,
        max_retries: int = MAX_RETRIES,
        on_failure: Callable[[list[dict[str, Any]]], None] | None = None,
        filter_pattern: Mapping[str, Any] | None = None,
    ) -> None:
        self._streams = streams
        self._pattern = check_pattern(filter_pattern) if filter_pattern else None
        self._table = table_name
        self._arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._on_failure = on_failure or _report_dropped
        self._delivered: dict[str, int] = {}  # shard id -> last sequence number handled
        self._attempts: dict[str, int] = {}  # sequence number -> failed deliveries so far

    def poll(self) -> list[tuple[str, dict[str, Any]]]:
        """Records after the delivered position, per shard, as (shard id, record)."""
        records: list[tuple[str, dict[str, Any]]] = []
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            iterator = self._iterator(shard_id)
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            _forget_iterators(iterator, response.get("NextShardIterator"))
            records.extend((shard_id, r) for r in response.get("Records", []))
        return records

    def drain(self, handler: Handler) -> int:
        """Deliver every pending record; returns how many are done with (the handler took
        them, or the filter passed them over)."""
        delivered = 0
        while True:
            records = self.poll()
            if not records:
                return delivered
            for span in self._spans(records):
                taken = self._deliver(span, handler)
                delivered += taken
                if taken < len(span):
                    break  # read again from the first record not done, as Lambda does

    def _spans(
        self, records: list[tuple[str, dict[str, Any]]]
    ) -> list[list[tuple[str, dict[str, Any]]]]:
        """Consecutive runs of records holding up to `batch_size` that the filter passes
        (every record, without one), the records it drops between them included."""
        spans: list[list[tuple[str, dict[str, Any]]]] = [[]]
        taken = 0
        for entry in records:
            if taken == self._batch_size:
                spans.append([])
                taken = 0
            spans[-1].append(entry)
            taken += int(self._passes(entry[1]))
        return [span for span in spans if span]

    def _passes(self, record: dict[str, Any]) -> bool:
        return self._pattern is None or matches(self._pattern, record)

    def _iterator(self, shard_id: str) -> str:
        last = self._delivered.get(shard_id)
        kwargs: dict[str, Any] = {"StreamArn": self._arn, "ShardId": shard_id}
        if last is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": str(last)}
        return str(self._streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _deliver(self, span: list[tuple[str, dict[str, Any]]], handler: Handler) -> int:
        """Hand one batch (the span's records the filter passes) over; returns how many of
        the span's records are done with."""
        chosen = [i for i, (_, r) in enumerate(span) if self._passes(r)]
        if not chosen:
            self._done(span)  # filtered out: Lambda never invokes for them
            return len(span)
        batch = [span[i] for i in chosen]
        event = {"Records": [_as_lambda_record(r, self._arn) for _, r in batch]}
        try:
            result = handler(event)
        except Exception as exc:  # a function error fails the whole batch
            print(f"[stream] batch failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            failed: int | None = 0
        else:
            failed = _first_failure(batch, result)
        if failed is None:
            self._done(span)
            return len(span)
        failed_at = chosen[failed]
        self._done(span[:failed_at])
        first = _sequence(span[failed_at][1])
        self._attempts[first] = self._attempts.get(first, 0) + 1
        if self._attempts[first] <= self._max_retries:
            return failed_at
        self._on_failure([r for _, r in batch[failed:]])  # AWS: the on-failure destination
        self._done(span[failed_at:])
        return len(span)

    def _done(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        for shard_id, record in batch:
            sequence = _sequence(record)
            self._attempts.pop(str(sequence), None)
            self._delivered[shard_id] = int(sequence)
        if batch:
            _trim_delivered(self._table, max(int(_sequence(r)) for _, r in batch))


def _first_failure(batch: list[tuple[str, dict[str, Any]]], result: Any) -> int | None:
    failures = (result or {}).get("batchItemFailures") or []
    failed = {str(f.get("itemIdentifier")) for f in failures}
    return next((i for i, (_, r) in enumerate(batch) if _sequence(r) in failed), None)


_OPERATORS = frozenset({"exists", "prefix", "anything-but"})


def check_pattern(pattern: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pattern, if every rule in it is one `matches` models (else ValueError: a filter
    the runner would apply wrongly is refused at start, not ignored)."""
    for key, rule in pattern.items():
        if key.startswith("$"):
            raise ValueError(f"filter operator {key} is not modelled locally")
        if isinstance(rule, Mapping):
            check_pattern(rule)
        elif isinstance(rule, list):
            for value in rule:
                if isinstance(value, Mapping) and not set(value) <= _OPERATORS:
                    raise ValueError(f"filter rule {dict(value)} is not modelled locally")
        else:
            raise ValueError(f"a filter's leaf is a list of values, got {rule!r}")
    return pattern


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Lambda event filtering: every key of the pattern matches (nested objects recurse; a
    list holds the values allowed: literals, or `exists`, `prefix`, `anything-but`)."""
    if not isinstance(value, Mapping):
        return False
    for key, rule in pattern.items():
        present = key in value
        if isinstance(rule, Mapping):
            if not present or not matches(rule, value[key]):
                return False
            continue
        if not any(_allows(option, present, value.get(key)) for option in rule):
            return False
    return True


def _allows(option: Any, present: bool, actual: Any) -> bool:
    if isinstance(option, Mapping):
        if "exists" in option:
            return present is bool(option["exists"])
        if not present:
            return False
        if "prefix" in option:
            return isinstance(actual, str) and actual.startswith(str(option["prefix"]))
        excluded = option["anything-but"]
        return actual not in (excluded if isinstance(excluded, list) else [excluded])
    return present and actual == option


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _report_dropped(records: list[dict[str, Any]]) -> None:
    numbers = ", ".join(_sequence(r) for r in records)
    print(f"[stream] retries exhausted; dropped to the DLQ: {numbers}", file=sys.stderr)


def _moto_state() -> tuple[Any, Any] | None:
    try:
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - runner only
        from moto.dynamodbstreams.models import dynamodbstreams_backends  # noqa: PLC0415
    except ImportError:  # not against moto
        return None
    return dynamodb_backends, dynamodbstreams_backends


def _forget_iterators(*arns: str | None) -> None:
    """moto stores every iterator it issues, each holding its shard (and so its table)."""
    state = _moto_state()
    if state is None:
        return
    with moto_serial.paused():
        for regions in state[1].values():
            for backend in regions.values():
                for arn in arns:
                    if arn:
                        backend.shard_iterators.pop(arn, None)


def _trim_delivered(table_name: str, through: int) -> None:
    """Drop the records up to `through` from moto's shard: only the pump reads them."""
    state = _moto_state()
    if state is None:
        return
    with moto_serial.paused():
        for regions in state[0].values():
            for backend in regions.values():
                table = backend.tables.get(table_name)
                shard = getattr(table, "stream_shard", None)
                if shard is None:
                    continue
                count = min(len(shard.items), through - shard.starting_sequence_number + 1)
                if count > 0:
                    del shard.items[:count]
                    shard.starting_sequence_number += count


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
