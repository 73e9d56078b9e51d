"""The Transactions table's stream (moto) into PostgreSQL, and the repair job behind it.

Items are written to moto's table as the payments store writes them (version +1 on every
change); the stream records moto produces are delivered as Lambda's event source would
(local/streams.py: retries from the first reported failure, then the on-failure
destination). The repair job reads the same table through its StatusIndex.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from moto import mock_aws

from engine import settings, wiring
from engine.handlers.consumers import transactions_stream
from engine.handlers.jobs import transactions_repair
from engine.tables import TRANSACTIONS
from local.events import LambdaContext
from local.streams import StreamPump
from shared import clock, ddb
from tests.engine_pg import EngineDb, engine_db, engine_pg_template  # noqa: F401
from tests.transactions_support import add_loan, balances, item, payment_row

REGION = "ap-south-1"
TABLE = "engine-test-transactions"
LOAN = "LNREPAIR0001"


@dataclass
class Sync:
    dynamodb: Any
    streams: Any
    pump: StreamPump
    admin: psycopg.Connection[Any]
    app_url: str
    dead_lettered: list[dict[str, Any]]

    def put(self, values: dict[str, Any]) -> None:
        self.dynamodb.put_item(TableName=TABLE, Item=ddb.to_item(values))

    def deliver(self) -> int:
        context = LambdaContext(function_name="TransactionsSync")
        return self.pump.drain(lambda event: transactions_stream.handler(event, context))

    def repair(self, **event: Any) -> dict[str, Any]:
        context = LambdaContext(function_name="TransactionsRepair", timeout_seconds=300)
        return transactions_repair.handler(event, context)


@pytest.fixture
def sync(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sync]:  # noqa: F811
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": engine_db.app_url,
        "TRANSACTIONS_TABLE": TABLE,
        # The repair job's last step (DCR audit records still owed) names the audit table,
        # as the stacks configure it; nothing here is owed, so it is never written.
        "AUDIT_TABLE": "engine-test-audit",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(), engine_db.admin() as admin:
        wiring.reset()
        transactions_stream.syncer.cache_clear()
        transactions_repair.repairer.cache_clear()
        transactions_repair.dead_letters.cache_clear()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**TRANSACTIONS.create_table_kwargs(TABLE))
        # moto routes only the classic streams endpoint, not the account-based one.
        classic = Config(account_id_endpoint_mode="disabled")
        streams = boto3.client("dynamodbstreams", region_name=REGION, config=classic)
        lost: list[dict[str, Any]] = []
        pump = StreamPump(dynamodb, streams, TABLE, batch_size=100, on_failure=lost.extend)
        add_loan(admin, LOAN, "1000.00")
        yield Sync(dynamodb, streams, pump, admin, engine_db.app_url, lost)
        transactions_repair.dead_letters.cache_clear()
        transactions_repair.repairer.cache_clear()
        transactions_stream.syncer.cache_clear()
        wiring.reset()
        settings.reset()


def ago(**delta: float) -> str:
    return clock.iso(clock.now() - timedelta(**delta))


def recent(transaction_id: str, amount: str, status: str = "CREATED", version: int = 1, **kw: Any):
    """An item created an hour ago and last changed ten minutes ago (settled)."""
    values = item(transaction_id, LOAN, amount, status, version, created_date=ago(hours=1), **kw)
    values["updated_at"] = ago(minutes=10)
    return values


def test_the_stream_lowers_the_outstanding_once_per_capture(sync: Sync) -> None:
    sync.put(recent("pay_s1", "250.00"))
    sync.put(recent("pay_s1", "250.00", "AUTHORIZED", 2))
    sync.put(recent("pay_s1", "250.00", "CAPTURED", 3))
    sync.put(recent("pay_s2", "900.00", "CAPTURED", 2))

    assert sync.deliver() == 4

    assert balances(sync.admin, LOAN) == ("0.00", "150.00")
    assert payment_row(sync.admin, "pay_s1")["version"] == 3  # type: ignore[index]
    assert sync.dead_lettered == []


def test_a_lost_batch_is_repaired_from_the_table(
    sync: Sync, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL down until the stream gives up: the batch goes to the DLQ; the repair job
    then finds the payments missing and syncs them, once."""
    sync.put(recent("pay_l1", "100.00", "CAPTURED", 2))
    sync.put(recent("pay_l2", "200.00", "CAPTURED", 2))
    monkeypatch.setenv("DATABASE_URL", "postgresql://engine_app@127.0.0.1:9/none")
    wiring.reset()
    sync.deliver()
    assert len(sync.dead_lettered) == 2
    assert payment_row(sync.admin, "pay_l1") is None

    monkeypatch.setenv("DATABASE_URL", sync.app_url)
    wiring.reset()
    capsys.readouterr()
    summary = sync.repair()

    assert (summary["repaired"], summary["failed"], summary["complete"]) == (2, [], True)
    assert balances(sync.admin, LOAN) == ("700.00", "0.00")
    assert sync.repair()["repaired"] == 0
    assert balances(sync.admin, LOAN) == ("700.00", "0.00")
    repaired = [
        json.loads(line)["transactions_repaired"]
        for line in capsys.readouterr().out.splitlines()
        if '"transactions_repaired"' in line and '"_aws"' in line
    ]
    assert repaired == [[2.0], [0.0]]  # one datapoint per run, zeros included


def test_repair_syncs_missing_and_stale_rows_and_leaves_current_ones(sync: Sync) -> None:
    sync.put(recent("pay_r1", "100.00", "CAPTURED", 2))  # current: delivered below
    sync.put(recent("pay_r2", "150.00"))  # stale: PostgreSQL keeps v1
    sync.deliver()
    current_synced_at = synced_at(sync.admin, "pay_r1")
    # Changes whose stream records never arrive (written straight to moto's backend state
    # would be the same: the table moves on, PostgreSQL does not).
    sync.pump.drain(lambda event: {"batchItemFailures": []})  # nothing pending
    sync.put(recent("pay_r2", "150.00", "CAPTURED", 2))
    sync.put(recent("pay_r3", "50.00", "CAPTURED", 3))  # missing
    sync.pump.drain(lambda event: {"batchItemFailures": []})  # consumed, not applied: lost

    summary = sync.repair()

    assert (summary["examined"], summary["repaired"]) == (3, 2)
    assert payment_row(sync.admin, "pay_r2")["version"] == 2  # type: ignore[index]
    assert payment_row(sync.admin, "pay_r3")["version"] == 3  # type: ignore[index]
    assert synced_at(sync.admin, "pay_r1") == current_synced_at
    assert balances(sync.admin, LOAN) == ("700.00", "0.00")


def test_repair_leaves_what_just_changed_to_the_stream(sync: Sync) -> None:
    fresh = recent("pay_f1", "100.00", "CAPTURED", 2)
    fresh["updated_at"] = ago(seconds=30)
    sync.put(fresh)
    old = item("pay_f2", LOAN, "100.00", "CAPTURED", 2, created_date=ago(hours=100))
    old["updated_at"] = ago(hours=99)
    sync.put(old)
    sync.pump.drain(lambda event: {"batchItemFailures": []})

    assert sync.repair()["repaired"] == 0
    assert sync.repair(window_hours=24 * 7)["repaired"] == 1  # the old one, on request
    assert payment_row(sync.admin, "pay_f1") is None


def test_repair_reports_what_it_cannot_sync(sync: Sync) -> None:
    unknown = recent("pay_u1", "100.00", "CAPTURED", 2)
    unknown["loan_account_number"] = "LNNOSUCHLOAN"
    sync.put(unknown)
    broken = recent("pay_u2", "100.00", "CAPTURED", 2)
    del broken["branch_code"]
    sync.put(broken)
    sync.put(recent("pay_u3", "100.00", "CAPTURED", 2))
    sync.pump.drain(lambda event: {"batchItemFailures": []})

    summary = sync.repair()

    assert sorted(summary["failed"]) == ["pay_u1", "pay_u2"]
    assert summary["repaired"] == 1
    assert balances(sync.admin, LOAN) == ("900.00", "0.00")


@pytest.mark.parametrize("hours", [0, -1, "72", 24 * 91, True])
def test_a_bad_window_is_refused(sync: Sync, hours: Any) -> None:
    with pytest.raises(ValueError, match="window_hours"):
        sync.repair(window_hours=hours)


def synced_at(admin: psycopg.Connection[Any], transaction_id: str) -> Any:
    found = admin.execute(
        "SELECT synced_at FROM payments WHERE transaction_id = %s", (transaction_id,)
    ).fetchone()
    return found[0] if found else None


def test_money_from_the_table_stays_decimal(sync: Sync) -> None:
    sync.put(recent("pay_m1", "0.10", "CAPTURED", 2))
    sync.put(recent("pay_m2", "0.20", "CAPTURED", 2))
    sync.deliver()

    found = sync.admin.execute(
        "SELECT outstanding_balance FROM loan_accounts WHERE loan_account_number = %s", (LOAN,)
    ).fetchone()
    assert found is not None and found[0] == Decimal("999.70")


# --- the DLQ: lost batches named by their stream positions --------------------------------


@pytest.fixture
def dlq(sync: Sync, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="sync-dlq")[
        "QueueUrl"
    ]
    monkeypatch.setenv("TRANSACTIONS_SYNC_DLQ_URL", url)
    transactions_repair.dead_letters.cache_clear()
    return url


def stream_records(sync: Sync) -> tuple[str, str, list[dict[str, Any]]]:
    """(stream ARN, shard id, every record in the shard) straight from moto's stream."""
    arn = sync.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    (shard,) = sync.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = sync.streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return arn, shard["ShardId"], sync.streams.get_records(ShardIterator=iterator)["Records"]


def batch_info(arn: str, shard: str, first: dict[str, Any], last: dict[str, Any]) -> str:
    """The message Lambda's on-failure destination receives for a stream batch."""
    return json.dumps(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "batchSize": 2,
                "streamArn": arn,
            },
        }
    )


def queued(url: str) -> int:
    """Messages still in the queue, visible or in flight (not deleted)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=names
    )["Attributes"]
    return sum(int(found[n]) for n in names)


def old(transaction_id: str, amount: str, status: str, version: int, **kw: Any) -> Any:
    """A payment created long before any repair window (its late refund was lost)."""
    values = item(transaction_id, LOAN, amount, status, version, created_date=ago(days=40), **kw)
    values["updated_at"] = ago(minutes=1)
    return values


def test_a_dead_lettered_batch_is_read_back_from_the_stream_and_applied(
    sync: Sync, dlq: str
) -> None:
    sync.put(old("pay_q1", "400.00", "CAPTURED", 2))
    sync.put(old("pay_q2", "100.00", "CAPTURED", 2))
    sync.deliver()
    assert balances(sync.admin, LOAN) == ("500.00", "0.00")
    sync.put(old("pay_q2", "100.00", "REFUNDED", 3, refunded="100.00"))  # this batch is lost
    sync.put(old("pay_q1", "400.00", "CAPTURED", 3, refunded="150.00"))
    arn, shard, records = stream_records(sync)  # never delivered: the batch went to the DLQ
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=dlq, MessageBody=batch_info(arn, shard, records[-2], records[-1])
    )

    summary = sync.repair()

    assert (summary["dead_letters"], summary["repaired"], summary["failed"]) == (1, 2, [])
    assert balances(sync.admin, LOAN) == ("750.00", "0.00")
    assert queued(dlq) == 0


def test_the_local_runners_dead_letters_name_their_keys(sync: Sync, dlq: str) -> None:
    sync.put(old("pay_k1", "100.00", "CAPTURED", 2))
    sync.pump.drain(lambda event: {"batchItemFailures": []})
    body = {"records": [{"keys": ddb.to_item({"transaction_id": "pay_k1"}), "sequence": "1"}]}
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=dlq, MessageBody=json.dumps(body))

    assert sync.repair()["dead_letters"] == 1
    assert balances(sync.admin, LOAN) == ("900.00", "0.00")


def test_a_dead_letter_that_still_fails_is_kept_for_the_next_run(sync: Sync, dlq: str) -> None:
    orphan = old("pay_o1", "100.00", "CAPTURED", 2)
    orphan["loan_account_number"] = "LNNOSUCHLOAN"
    sync.put(orphan)
    sync.pump.drain(lambda event: {"batchItemFailures": []})
    body = {"records": [{"keys": ddb.to_item({"transaction_id": "pay_o1"})}]}
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=dlq, MessageBody=json.dumps(body))

    summary = sync.repair()

    assert (summary["dead_letters"], summary["failed"]) == (0, ["pay_o1"])
    assert queued(dlq) == 1  # in flight until its visibility timeout, then back


def test_positions_the_stream_no_longer_has_are_reported_and_dropped(sync: Sync, dlq: str) -> None:
    shard = "shardId-00000001573689847184-864758bb"
    gone = batch_info(
        "arn:aws:dynamodb:ap-south-1:123456789012:table/gone/stream/2026-01-01T00:00:00.000",
        shard,
        {"dynamodb": {"SequenceNumber": "800000000003126276362"}},
        {"dynamodb": {"SequenceNumber": "800000000003126276363"}},
    )
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=dlq, MessageBody=gone)
    sqs.send_message(QueueUrl=dlq, MessageBody='{"DDBStreamBatchInfo": {"shardId": "x"}}')
    sqs.send_message(QueueUrl=dlq, MessageBody="not json")

    summary = sync.repair()

    reasons = sorted(f.split(" ")[0] for f in summary["failed"])
    assert reasons == ["positions-gone:no", "positions-gone:no", f"positions-gone:{shard}"]
    assert queued(dlq) == 0
