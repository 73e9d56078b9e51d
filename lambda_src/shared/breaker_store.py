"""A circuit breaker's state in DynamoDB, shared by every container of a system.

One table may hold several breakers, and other items besides: each breaker's items are named
by its `name` (payouts' Monoova breaker is `monoova`, the engine's LMS poster's `lms`):

- `<name>#state`: `opened_at` while the circuit is open, `probe_until` while a half-open
  probe is out. Opened by a conditional put, the probe claimed by a conditional update, and
  closed by an update that removes both: the item stays, without `opened_at`, which every
  reader takes as closed. Closing never needs DeleteItem.
- `<name>#bucket#<minute>`: the calls counted in that minute (`ok`, `failed`, by ADD). When
  the table has a TTL attribute each bucket expires an hour after its minute; without one
  (`expiry_attribute=None`) the buckets stay, one small item per minute with calls.

A false condition on open or claim_probe means another container got there first; anything
else (a throttle, a conflict) propagates, never read as "someone else already did it".
Counting goes through `shared.ddb_writes.update`: retried, then `Conflict`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from shared import ddb, ddb_writes
from shared.breaker import PROBE_SECONDS, BreakerSettings, Snapshot, bucket_minutes
from shared.tables import TableSpec

_CONDITION_FAILED = "ConditionalCheckFailedException"
BUCKET_TTL_SECONDS = 3600


class BreakerStore:
    def __init__(
        self,
        client: Any,
        table: str,
        settings: BreakerSettings,
        *,
        name: str,
        key_attribute: str,
        expiry_attribute: str | None,
        retry: ddb_writes.Retry = ddb_writes.DEFAULT_RETRY,
    ) -> None:
        self.client = client
        self.table = table
        self.settings = settings
        self.name = name
        self.key_attribute = key_attribute
        self.expiry_attribute = expiry_attribute
        self.retry = retry
        self.state_id = f"{name}#state"
        self._bucket_prefix = f"{name}#bucket#"

    @classmethod
    def for_table(
        cls, client: Any, spec: TableSpec, table: str, settings: BreakerSettings, *, name: str
    ) -> BreakerStore:
        """A breaker in a table declared by `spec`: its partition key and its TTL attribute
        (if it has one) name the key and the buckets' expiry."""
        if spec.sort_key is not None:
            raise ValueError(f"{spec.logical_name} has a sort key: a breaker needs a plain key")
        return cls(
            client,
            table,
            settings,
            name=name,
            key_attribute=spec.partition_key.name,
            expiry_attribute=spec.ttl_attribute,
        )

    def bucket_id(self, minute: int) -> str:
        return f"{self._bucket_prefix}{minute}"

    def _key(self, item_id: str) -> dict[str, str]:
        return {self.key_attribute: item_id}

    def keys(self, now: float) -> list[dict[str, str]]:
        """The items a snapshot at `now` is made of (plain keys), for a caller's own read."""
        minutes = bucket_minutes(now, self.settings.window_seconds)
        return [self._key(self.state_id)] + [self._key(self.bucket_id(m)) for m in minutes]

    def snapshot(self, items: list[dict[str, Any]]) -> Snapshot:
        """The snapshot made of `items` (plain values) read at `keys`; others are ignored."""
        ids = [(str(i.get(self.key_attribute, "")), i) for i in items]
        state = next((i for item_id, i in ids if item_id == self.state_id), {})
        buckets = [i for item_id, i in ids if item_id.startswith(self._bucket_prefix)]
        opened = state.get("opened_at")
        probe = state.get("probe_until")
        return Snapshot(
            opened_at=float(opened) if opened is not None else None,
            probe_until=float(probe) if probe is not None else None,
            ok=sum(int(b.get("ok", 0)) for b in buckets),
            failed=sum(int(b.get("failed", 0)) for b in buckets),
        )

    def read(self, now: float) -> Snapshot:
        response = self.client.batch_get_item(
            RequestItems={
                self.table: {
                    "Keys": [ddb.to_item(k) for k in self.keys(now)],
                    "ConsistentRead": True,
                }
            }
        )
        items = [ddb.from_item(i) or {} for i in response.get("Responses", {}).get(self.table, [])]
        return self.snapshot(items)

    def record(self, now: float, ok: int, failed: int) -> None:
        """Count calls in the current minute's bucket; raises Conflict if it stays throttled."""
        minute = int(now // 60)
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": ddb.to_item(self._key(self.bucket_id(minute))),
            "UpdateExpression": "ADD ok :ok, failed :failed",
        }
        values: dict[str, Any] = {":ok": ok, ":failed": failed}
        if self.expiry_attribute is not None:
            request["UpdateExpression"] += " SET #expiry = :expiry"
            request["ExpressionAttributeNames"] = {"#expiry": self.expiry_attribute}
            values[":expiry"] = minute * 60 + BUCKET_TTL_SECONDS
        request["ExpressionAttributeValues"] = ddb.values(values)
        ddb_writes.update(self.client, request, self.retry)

    def open(self, now: float) -> None:
        """Open the circuit unless another container already did in this period."""
        stale = now - self.settings.open_seconds
        try:
            self.client.put_item(
                TableName=self.table,
                Item=ddb.to_item({**self._key(self.state_id), "opened_at": _num(now)}),
                ConditionExpression="attribute_not_exists(opened_at) OR opened_at < :stale",
                ExpressionAttributeValues=ddb.values({":stale": _num(stale)}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != _CONDITION_FAILED:
                raise

    def claim_probe(self, now: float) -> bool:
        """Half-open: exactly one caller at a time gets to try the provider."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=ddb.to_item(self._key(self.state_id)),
                UpdateExpression="SET probe_until = :until",
                ConditionExpression=(
                    "attribute_exists(opened_at) AND "
                    "(attribute_not_exists(probe_until) OR probe_until < :now)"
                ),
                ExpressionAttributeValues=ddb.values(
                    {":until": _num(now + PROBE_SECONDS), ":now": _num(now)}
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != _CONDITION_FAILED:
                raise
            return False
        return True

    def close(self) -> None:
        """Close the circuit: the state item loses `opened_at` and `probe_until` (an
        UpdateItem, never a DeleteItem); raises Conflict if it stays throttled."""
        request = {
            "TableName": self.table,
            "Key": ddb.to_item(self._key(self.state_id)),
            "UpdateExpression": "REMOVE opened_at, probe_until",
        }
        ddb_writes.update(self.client, request, self.retry)


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))
