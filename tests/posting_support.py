"""What the LMS poster tests share: the moto tables and stores the poster runs on, a clock the
test moves, and the shapes a scripted LMS answers with."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.dal.ddb.posting import PostingStore
from engine.logic.lms_posting import Poster, PostingPolicy
from engine.models.posting import QueueItem
from engine.tables import COUNTERS, TRANSACTION_QUEUE, TRANSACTIONS
from shared import ddb, ddb_writes
from shared.breaker import BreakerSettings
from shared.breaker_store import BreakerStore

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
NO_WAIT = ddb_writes.Retry(attempts=2, base_seconds=0)
POLICY = PostingPolicy(lease_seconds=120, max_attempts=3, backoff_base_seconds=30)
TIME_LEFT = 60.0


@dataclass
class Receipt:
    receipt_id: str
    status: str = "POSTED"
    cancelled_at: str | None = None


@dataclass
class Posted:
    receipt: Receipt
    created: bool = True


class Clock:
    def __init__(self) -> None:
        self.t = float(NOW)

    def __call__(self) -> float:
        return self.t


def stores(dynamodb: Any) -> tuple[PostingStore, BreakerStore]:
    """The poster's tables on moto, and its queue and breaker stores over them."""
    for spec in (TRANSACTIONS, TRANSACTION_QUEUE, COUNTERS):
        dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
    store = PostingStore(
        dynamodb, TRANSACTION_QUEUE.logical_name, TRANSACTIONS.logical_name, NO_WAIT
    )
    settings = BreakerSettings(
        min_volume=2, failure_ratio=Decimal("0.5"), window_seconds=120, open_seconds=60
    )
    breaker = BreakerStore.for_table(
        dynamodb, COUNTERS, COUNTERS.logical_name, settings, name="lms"
    )
    return store, breaker


@dataclass
class PosterHarness:
    """The poster over the real stores, with the test's LMS and clock."""

    dynamodb: Any
    store: PostingStore
    breaker: BreakerStore
    lms: Any
    clock: Clock

    def poster(self, policy: PostingPolicy = POLICY) -> Poster:
        return Poster(self.store, self.lms, self.breaker, policy, now=self.clock, rand=lambda: 0.0)

    def captured(self, n: int = 1) -> str:
        """A CAPTURED transaction row (version 3) for the n-th receipt; its id."""
        txn = f"pay_{'a' * 19}{chr(ord('a') + n)}"
        self.dynamodb.put_item(
            TableName=TRANSACTIONS.logical_name,
            Item=ddb.to_item({"transaction_id": txn, "status": "CAPTURED", "version": 3}),
        )
        return txn

    def item(self, queue_id: str) -> QueueItem:
        found = self.store.get(queue_id)
        assert found is not None
        return found

    def transaction(self, txn: str) -> dict[str, Any]:
        raw = self.dynamodb.get_item(
            TableName=TRANSACTIONS.logical_name, Key=ddb.to_item({"transaction_id": txn})
        )["Item"]
        return ddb.from_item(raw) or {}

    def later(self, seconds: float) -> None:
        self.clock.t += seconds
