"""shared.breaker_store on moto: the engine's LMS breaker in its Counters table (`counter_id`,
no TTL, name `lms`) and payouts' Monoova breaker in its own table (`pk`, `expiration`).

Closing is an UpdateItem: the engine's IAM grants no DeleteItem, and neither does payouts'.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.tables import COUNTERS
from payouts.tables import CIRCUIT_BREAKER
from shared import breaker as rules
from shared import ddb, ddb_writes
from shared.breaker import PROBE_SECONDS, BreakerSettings
from shared.breaker_store import BUCKET_TTL_SECONDS, BreakerStore
from shared.store_errors import Conflict
from shared.tables import TableSpec

SETTINGS = BreakerSettings(
    min_volume=3, failure_ratio=Decimal("0.5"), window_seconds=300, open_seconds=600
)
NOW = 1_800_000_000.0  # on a minute boundary
MINUTE = int(NOW // 60)
NO_WAIT = ddb_writes.Retry(attempts=4, base_seconds=0)


class Recording:
    """The real client, with every operation's name recorded; `fail` makes named operations
    raise the given error code instead (a throttle, or AccessDenied for what IAM denies)."""

    def __init__(self, client: Any, fail: dict[str, str] | None = None) -> None:
        self._client = client
        self.fail = dict(fail or {"delete_item": "AccessDeniedException"})
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operation = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            # One call at a time, as DynamoDB serialises the writes to one item (moto itself
            # has no lock: two threads could interleave inside its condition check).
            with self.lock:
                self.calls.append(name)
                if name in self.fail:
                    code = self.fail[name]
                    raise ClientError({"Error": {"Code": code, "Message": code}}, name)
                return operation(**kwargs)

        return call


def make_table(dynamodb: Any, spec: TableSpec, name: str) -> str:
    dynamodb.create_table(**spec.create_table_kwargs(name))
    return name


@pytest.fixture
def counters(dynamodb: Any) -> str:
    return make_table(dynamodb, COUNTERS, "engine-test-counters")


@pytest.fixture
def recording(dynamodb: Any) -> Recording:
    return Recording(dynamodb)


@pytest.fixture
def lms(recording: Recording, counters: str) -> BreakerStore:
    return lms_store(recording, counters)


def lms_store(client: Any, table: str) -> BreakerStore:
    return BreakerStore(
        client,
        table,
        SETTINGS,
        name="lms",
        key_attribute=COUNTERS.partition_key.name,
        expiry_attribute=COUNTERS.ttl_attribute,
        retry=NO_WAIT,
    )


def items(dynamodb: Any, table: str, key: str) -> dict[str, dict[str, Any]]:
    found = [ddb.from_item(i) or {} for i in dynamodb.scan(TableName=table)["Items"]]
    return {i[key]: i for i in found}


# --- the engine's shape: counter_id, no TTL, lms ----------------------------------------------


def test_for_table_reads_the_key_and_the_ttl_from_the_declaration(dynamodb: Any) -> None:
    engine = BreakerStore.for_table(dynamodb, COUNTERS, "t", SETTINGS, name="lms")
    payouts = BreakerStore.for_table(dynamodb, CIRCUIT_BREAKER, "t", SETTINGS, name="monoova")

    assert (engine.key_attribute, engine.expiry_attribute) == ("counter_id", "expires_at")
    assert (payouts.key_attribute, payouts.expiry_attribute) == ("pk", "expiration")
    assert engine.keys(NOW)[:2] == [
        {"counter_id": "lms#state"},
        {"counter_id": f"lms#bucket#{MINUTE - 4}"},
    ]


def test_a_snapshot_counts_the_window_only(dynamodb: Any, lms: BreakerStore, counters: str) -> None:
    dynamodb.put_item(  # the Counters table's own items stay as they are
        TableName=counters, Item={"counter_id": {"S": "receipt#BR001#2026-27"}, "n": {"N": "7"}}
    )
    lms.record(NOW - 360, ok=50, failed=50)  # six minutes ago: out of a 300 s window
    lms.record(NOW - 240, ok=1, failed=0)  # four minutes ago: the oldest bucket in it
    lms.record(NOW - 30, ok=2, failed=1)
    lms.record(NOW + 5, ok=0, failed=3)
    lms.record(NOW + 10, ok=1, failed=0)

    snapshot = lms.read(NOW + 10)

    assert snapshot == rules.Snapshot(opened_at=None, probe_until=None, ok=4, failed=4)
    stored = items(dynamodb, counters, "counter_id")
    assert stored[f"lms#bucket#{MINUTE}"] == {
        "counter_id": f"lms#bucket#{MINUTE}",
        "ok": 1,
        "failed": 3,
        "expires_at": MINUTE * 60 + BUCKET_TTL_SECONDS,  # Counters' TTL removes old buckets
    }
    assert stored["receipt#BR001#2026-27"]["n"] == 7


def test_open_is_idempotent_within_open_seconds(lms: BreakerStore) -> None:
    lms.open(NOW)
    lms.open(NOW + 10)  # another container, same failures: the first opening stands
    lms.open(NOW + SETTINGS.open_seconds - 1)

    assert lms.read(NOW + 20).opened_at == NOW
    assert rules.decide(lms.read(NOW + 20), NOW + 20, SETTINGS) == rules.Decision(
        rules.State.OPEN, SETTINGS.open_seconds - 20
    )

    lms.open(NOW + SETTINGS.open_seconds + 1)  # a stale opening is replaced

    assert lms.read(NOW + SETTINGS.open_seconds + 1).opened_at == NOW + SETTINGS.open_seconds + 1


def test_exactly_one_of_two_concurrent_probes_wins(lms: BreakerStore) -> None:
    lms.open(NOW)
    half_open = NOW + SETTINGS.open_seconds
    assert rules.decide(lms.read(half_open), half_open, SETTINGS).state is rules.State.HALF_OPEN
    start = threading.Barrier(2)
    won: list[bool] = []

    def container() -> None:
        start.wait()
        won.append(lms.claim_probe(half_open))

    threads = [threading.Thread(target=container) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(won) == [False, True]
    after = lms.read(half_open + 1)
    assert after.probe_until == half_open + PROBE_SECONDS
    assert rules.decide(after, half_open + 1, SETTINGS).state is rules.State.OPEN
    # The probe's time runs out: the next caller may probe.
    assert lms.claim_probe(half_open + PROBE_SECONDS + 1)


def test_no_probe_is_claimed_on_a_closed_circuit(lms: BreakerStore) -> None:
    assert not lms.claim_probe(NOW)

    lms.open(NOW)
    lms.close()

    assert not lms.claim_probe(NOW + SETTINGS.open_seconds)


def test_close_by_update_leaves_the_circuit_closed_without_delete_item(
    dynamodb: Any, recording: Recording, lms: BreakerStore, counters: str
) -> None:
    lms.record(NOW, ok=0, failed=3)
    lms.open(NOW)
    probe_at = NOW + SETTINGS.open_seconds
    assert lms.claim_probe(probe_at)

    lms.close()

    snapshot = lms.read(probe_at + 1)
    assert (snapshot.opened_at, snapshot.probe_until) == (None, None)
    assert rules.decide(snapshot, probe_at + 1, SETTINGS).state is rules.State.CLOSED
    # The state item stays, without the open marks; the buckets are not touched.
    stored = items(dynamodb, counters, "counter_id")
    assert stored["lms#state"] == {"counter_id": "lms#state"}
    assert stored[f"lms#bucket#{MINUTE}"]["failed"] == 3
    assert "delete_item" not in recording.calls
    assert recording.calls.count("update_item") >= 3  # record, claim_probe, close

    lms.open(probe_at + 2)  # a closed circuit opens again at once
    assert lms.read(probe_at + 3).opened_at == probe_at + 2


def test_closing_a_circuit_never_opened_is_harmless(lms: BreakerStore) -> None:
    lms.close()
    lms.close()

    assert lms.read(NOW) == rules.Snapshot(None, None, 0, 0)


# --- a throttle is never read as "someone else did it" -----------------------------------------

THROTTLED = "ProvisionedThroughputExceededException"


@pytest.mark.parametrize("operation", ["put_item", "update_item"])
def test_a_throttled_open_or_probe_propagates(dynamodb: Any, counters: str, operation: str) -> None:
    lms_store(dynamodb, counters).open(NOW)
    throttled = lms_store(Recording(dynamodb, {operation: THROTTLED}), counters)

    with pytest.raises(ClientError) as raised:
        if operation == "put_item":
            throttled.open(NOW + SETTINGS.open_seconds + 1)
        else:
            throttled.claim_probe(NOW + SETTINGS.open_seconds)

    assert raised.value.response["Error"]["Code"] == THROTTLED


def test_a_throttled_count_or_close_is_retried_then_a_conflict(
    dynamodb: Any, counters: str
) -> None:
    client = Recording(dynamodb, {"update_item": THROTTLED})
    throttled = lms_store(client, counters)

    with pytest.raises(Conflict):
        throttled.record(NOW, ok=1, failed=0)
    with pytest.raises(Conflict):
        throttled.close()

    assert client.calls == ["update_item"] * (2 * NO_WAIT.attempts)


# --- payouts' shape: pk, expiration, monoova ----------------------------------------------------


@pytest.fixture
def monoova(dynamodb: Any) -> tuple[BreakerStore, Recording, str]:
    table = make_table(dynamodb, CIRCUIT_BREAKER, "payouts-test-breaker")
    client = Recording(dynamodb)
    store = BreakerStore.for_table(client, CIRCUIT_BREAKER, table, SETTINGS, name="monoova")
    return store, client, table


def test_payouts_items_keep_their_ids_and_expiry(
    dynamodb: Any, monoova: tuple[BreakerStore, Recording, str]
) -> None:
    store, _, table = monoova

    store.record(NOW + 1, ok=2, failed=1)
    store.open(NOW + 2)

    stored = items(dynamodb, table, "pk")
    assert stored == {
        f"monoova#bucket#{MINUTE}": {
            "pk": f"monoova#bucket#{MINUTE}",
            "ok": 2,
            "failed": 1,
            "expiration": (MINUTE + 60) * 60,
        },
        "monoova#state": {"pk": "monoova#state", "opened_at": Decimal(str(NOW + 2))},
    }


def test_close_works_for_payouts_as_before(
    dynamodb: Any, monoova: tuple[BreakerStore, Recording, str]
) -> None:
    store, client, table = monoova
    store.record(NOW, ok=0, failed=3)
    assert rules.should_trip(store.read(NOW), 0, 0, SETTINGS)
    store.open(NOW)
    probe_at = NOW + SETTINGS.open_seconds
    assert rules.decide(store.read(probe_at), probe_at, SETTINGS).state is rules.State.HALF_OPEN
    assert store.claim_probe(probe_at)

    store.close()  # the probe went through

    # Read as the create path reads it (its own batch over `keys`) and as the jobs do.
    response = dynamodb.batch_get_item(
        RequestItems={table: {"Keys": [{"pk": {"S": k["pk"]}} for k in store.keys(probe_at)]}}
    )
    found = [ddb.from_item(i) or {} for i in response["Responses"][table]]
    for snapshot in (store.snapshot(found), store.read(probe_at)):
        assert (snapshot.opened_at, snapshot.probe_until) == (None, None)
        assert rules.decide(snapshot, probe_at, SETTINGS) == rules.Decision(rules.State.CLOSED)
    assert items(dynamodb, table, "pk")["monoova#state"] == {"pk": "monoova#state"}
    assert "delete_item" not in client.calls
    assert not store.claim_probe(probe_at + PROBE_SECONDS + 1)  # nothing left to probe
