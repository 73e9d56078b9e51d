"""The receipt counters carried over after a failover: PostgreSQL's receipts (a migrated
database, read as engine_app) into the regional Counters table (moto).

The Region taking over starts with its own Counters table, empty or behind; the carry-over
raises every (branch, financial year) counter PostgreSQL has receipts for to the last
sequence plus the gap, never lowers one, and changes nothing when run again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from engine import settings, wiring
from engine.dal.ddb.counters import CounterStore, receipt_counter_id
from engine.dal.pg.receipts import IssuedSequence, last_sequences
from engine.handlers.jobs import receipt_counters as handler_module
from engine.logic.receipt_counters import carry_over
from engine.tables import COUNTERS
from local.events import LambdaContext
from shared import ddb, ddb_writes
from shared.store_errors import Conflict
from tests.engine_pg import ACTIVE, OVERDUE, EngineDb

REGION = "ap-southeast-1"  # the Region taking over
TABLE = "engine-test-counters"
GAP = 1000
NO_WAIT = ddb_writes.Retry(base_seconds=0)
_ids = itertools.count(1)


@dataclass
class Carry:
    dynamodb: Any
    admin: psycopg.Connection[Any]

    def receipt(self, number: str | None, loan: str = ACTIVE.loan_account_number) -> None:
        """A payments row as the stream sync leaves it (captured, with its receipt)."""
        self.admin.execute(
            "INSERT INTO payments (transaction_id, loan_account_number, branch_code, amount,"
            " status, receipt_number, channel, created_at, captured_at, version)"
            " VALUES (%s, %s, %s, 100.00, 'CAPTURED', %s, 'PORTAL', now(), now(), 3)",
            (f"pay_carry{next(_ids):013d}", loan, (number or "BR001/").split("/")[0], number),
        )

    def run(self) -> dict[str, Any]:
        context = LambdaContext(function_name="ReceiptCountersCarryOver", timeout_seconds=240)
        result: dict[str, Any] = handler_module.handler({}, context)
        return result

    def counters(self) -> dict[str, dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return {i["counter_id"]["S"]: ddb.from_item(i) or {} for i in items}

    def seq(self, branch: str, year: str) -> int | None:
        item = self.counters().get(receipt_counter_id(branch, year))
        return None if item is None else int(item["seq"])

    def store(self, client: Any = None) -> CounterStore:
        return CounterStore(client or self.dynamodb, TABLE)


@pytest.fixture
def carry(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Carry]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": engine_db.app_url,  # engine_app: a missing grant fails here
        "COUNTERS_TABLE": TABLE,
        "RECEIPT_COUNTER_GAP": str(GAP),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(ddb_writes, "_sleep", lambda _seconds: None)
    with mock_aws(), engine_db.admin() as admin:
        wiring.reset()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**COUNTERS.create_table_kwargs(TABLE))
        yield Carry(dynamodb, admin)
        wiring.reset()
        settings.reset()


def test_an_empty_regions_counters_are_raised_above_postgresqls_receipts(carry: Carry) -> None:
    carry.receipt("BR001/2026-27/000042")
    carry.receipt("BR001/2026-27/000007")
    carry.receipt("BR001/2025-26/000900")
    carry.receipt("BR002/2026-27/000100", loan=OVERDUE.loan_account_number)

    answer = carry.run()

    assert answer == {"outcome": "carried-over", "counters_raised": 3, "counters_already_higher": 0}
    # Each branch and each financial year its own counter, from its own last sequence.
    assert carry.seq("BR001", "2026-27") == 42 + GAP
    assert carry.seq("BR001", "2025-26") == 900 + GAP
    assert carry.seq("BR002", "2026-27") == 100 + GAP
    assert set(carry.counters()) == {
        "receipt#BR001#2026-27",
        "receipt#BR001#2025-26",
        "receipt#BR002#2026-27",
    }


def test_a_counter_already_higher_is_never_lowered(carry: Carry) -> None:
    carry.receipt("BR001/2026-27/000042")
    carry.receipt("BR002/2026-27/000100", loan=OVERDUE.loan_account_number)
    # This Region has issued far past the floor already (say, a later run's captures).
    carry.dynamodb.put_item(
        TableName=TABLE, Item=ddb.to_item({"counter_id": "receipt#BR001#2026-27", "seq": 5000})
    )
    # Exactly at the floor is not lower either.
    carry.dynamodb.put_item(
        TableName=TABLE, Item=ddb.to_item({"counter_id": "receipt#BR002#2026-27", "seq": 1100})
    )

    answer = carry.run()

    assert (answer["counters_raised"], answer["counters_already_higher"]) == (0, 2)
    assert carry.seq("BR001", "2026-27") == 5000
    assert carry.seq("BR002", "2026-27") == 1100
    assert "carried_over_at" not in carry.counters()["receipt#BR001#2026-27"]


def test_a_counter_below_its_floor_is_raised_to_it(carry: Carry) -> None:
    carry.receipt("BR001/2026-27/000042")
    carry.dynamodb.put_item(
        TableName=TABLE, Item=ddb.to_item({"counter_id": "receipt#BR001#2026-27", "seq": 3})
    )
    assert carry.run()["counters_raised"] == 1
    assert carry.seq("BR001", "2026-27") == 1042


def test_running_it_twice_changes_nothing_the_second_time(carry: Carry) -> None:
    carry.receipt("BR001/2026-27/000042")
    carry.receipt("BR002/2026-27/000100", loan=OVERDUE.loan_account_number)
    first = carry.run()
    after_first = carry.counters()

    second = carry.run()

    assert (first["counters_raised"], first["counters_already_higher"]) == (2, 0)
    assert (second["counters_raised"], second["counters_already_higher"]) == (0, 2)
    assert carry.counters() == after_first  # not even the carried_over_at stamp moved


def test_the_next_number_issued_after_the_carry_over_is_above_the_old_regions(
    carry: Carry,
) -> None:
    carry.receipt("BR001/2026-27/000042")
    carry.run()
    store = carry.store()
    assert store.next_receipt_sequence("BR001", "2026-27") == 42 + GAP + 1
    # A branch or year PostgreSQL has no receipt for starts where it always did.
    assert store.next_receipt_sequence("BR003", "2026-27") == 1


def test_malformed_receipt_numbers_are_left_out_never_cast(carry: Carry) -> None:
    carry.receipt("BR001/2026-27/000042")
    for odd in ("MANUAL-0001", "BR001/2026-27/ABC", "BR001/26-27/000099", "BR001/2026-27/"):
        carry.receipt(odd)
    carry.receipt(None)  # a payment never captured has no receipt

    with psycopg.connect(carry.admin.info.dsn) as conn, conn.cursor() as cur:
        assert last_sequences(cur, 10_000) == [IssuedSequence("BR001", "2026-27", 42)]
    assert carry.run()["counters_raised"] == 1


def test_no_receipts_in_postgresql_raises_nothing(carry: Carry) -> None:
    assert carry.run() == {
        "outcome": "carried-over",
        "counters_raised": 0,
        "counters_already_higher": 0,
    }
    assert carry.counters() == {}


class Throttled:
    """The moto client, throttled on the first `times` UpdateItem calls."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.left = times
        self.calls = 0

    def update_item(self, **request: Any) -> Any:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            error = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
            raise ClientError(error, "UpdateItem")
        return self._client.update_item(**request)


def test_a_throttle_is_retried_not_taken_for_already_higher(carry: Carry) -> None:
    client = Throttled(carry.dynamodb, times=2)
    store = carry.store(client)
    assert store.raise_receipt_sequence("BR001", "2026-27", 1042, "t", NO_WAIT) is True
    assert client.calls == 3
    assert carry.seq("BR001", "2026-27") == 1042


def test_a_throttle_that_persists_fails_the_run(carry: Carry) -> None:
    client = Throttled(carry.dynamodb, times=100)
    summary_before = carry.counters()
    with pytest.raises(Conflict):
        carry_over(
            [IssuedSequence("BR001", "2026-27", 42)],
            carry.store(client),
            GAP,
            "t",
        )
    assert carry.counters() == summary_before == {}


def test_the_handler_fails_loudly_when_postgresql_cannot_be_read(
    carry: Carry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://engine_app@127.0.0.1:1/none")
    wiring.reset()
    with pytest.raises(Exception, match="connect"):
        carry.run()
    assert carry.counters() == {}


def test_a_negative_gap_is_refused() -> None:
    class Never:
        def raise_receipt_sequence(self, *_: Any) -> bool:
            raise AssertionError("no write")

    with pytest.raises(ValueError, match="negative"):
        carry_over([IssuedSequence("BR001", "2026-27", 1)], Never(), -1, "t")
