"""Circuit-breaker state shared by every container, in DynamoDB."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from payouts.logic.breaker import PROBE_SECONDS, Snapshot, bucket_minutes
from payouts.settings import BreakerSettings
from shared import ddb, ddb_writes

STATE_ID = "monoova#state"


def bucket_id(minute: int) -> str:
    return f"monoova#bucket#{minute}"


class BreakerStore:
    def __init__(self, client: Any, table: str, settings: BreakerSettings) -> None:
        self.client = client
        self.table = table
        self.settings = settings

    def keys(self, now: float) -> list[dict[str, str]]:
        minutes = bucket_minutes(now, self.settings.window_seconds)
        return [{"pk": STATE_ID}] + [{"pk": bucket_id(m)} for m in minutes]

    def snapshot(self, items: list[dict[str, Any]]) -> Snapshot:
        state = next((i for i in items if i["pk"] == STATE_ID), {})
        buckets = [i for i in items if i["pk"] != STATE_ID]
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
        request = {
            "TableName": self.table,
            "Key": ddb.to_item({"pk": bucket_id(minute)}),
            "UpdateExpression": "ADD ok :ok, failed :failed SET expiration = :exp",
            "ExpressionAttributeValues": ddb.values(
                {":ok": ok, ":failed": failed, ":exp": (minute + 60) * 60}
            ),
        }
        ddb_writes.update(self.client, request)

    def open(self, now: float) -> None:
        """Open the circuit unless another container already did in this period."""
        stale = now - self.settings.open_seconds
        try:
            self.client.put_item(
                TableName=self.table,
                Item=ddb.to_item({"pk": STATE_ID, "opened_at": _num(now)}),
                ConditionExpression="attribute_not_exists(opened_at) OR opened_at < :stale",
                ExpressionAttributeValues=ddb.values({":stale": _num(stale)}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return

    def claim_probe(self, now: float) -> bool:
        """Half-open: exactly one caller at a time gets to try Monoova."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=ddb.to_item({"pk": STATE_ID}),
                UpdateExpression="SET probe_until = :until",
                ConditionExpression=(
                    "attribute_exists(opened_at) AND "
                    "(attribute_not_exists(probe_until) OR probe_until < :now)"
                ),
                ExpressionAttributeValues=ddb.values(
                    {":until": _num(now + PROBE_SECONDS), ":now": _num(now)}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def close(self) -> None:
        self.client.delete_item(TableName=self.table, Key=ddb.to_item({"pk": STATE_ID}))


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))
