"""The TransactionsSync handler on a real PostgreSQL: partial batch failures name exactly the
records at fault, and a database that goes away mid-batch fails the batch whole, unwritten."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from engine import wiring
from engine.handlers.consumers import transactions_stream
from local.events import LambdaContext
from shared import ddb
from tests.engine_pg import EngineDb
from tests.transactions_support import add_loan, balances, event, item, payment_row, record

LOAN = "LNSTREAM0001"
CONTEXT = LambdaContext(function_name="TransactionsSync")


@pytest.fixture
def admin(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection]:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    monkeypatch.setenv("STATEMENT_TIMEOUT_MS", "5000")
    wiring.reset()
    transactions_stream.syncer.cache_clear()
    with engine_db.admin() as conn:
        add_loan(conn, LOAN, "1000.00")
        yield conn
    wiring.reset()


def handle(*records: dict[str, Any]) -> list[str]:
    answer = transactions_stream.handler(event(*records), CONTEXT)
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def sequence(stream_record: dict[str, Any]) -> str:
    return str(stream_record["dynamodb"]["SequenceNumber"])


def without(image: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in image.items() if k != name}


def test_a_clean_batch_reports_nothing_and_applies_everything(
    admin: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        handle(
            record(item("pay_a1", LOAN, "100.00"), event="INSERT"),
            record(item("pay_a1", LOAN, "100.00", "CAPTURED", 2)),
            record(item("pay_a2", LOAN, "50.50", "CAPTURED", 2)),
        )
        == []
    )

    assert balances(admin, LOAN) == ("849.50", "0.00")
    assert "stream_sync_failed_records" not in capsys.readouterr().out


def test_malformed_records_are_reported_alone(
    admin: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    good = record(item("pay_b1", LOAN, "100.00", "CAPTURED", 2))
    no_amount = record(without(item("pay_b2", LOAN, "1.00", "CAPTURED", 2), "amount"))
    no_version = record(without(item("pay_b3", LOAN, "1.00"), "version"))
    no_image = record(None)
    bad_status = record(item("pay_b4", LOAN, "1.00", "PAID"))
    fraction_of_paisa = record(item("pay_b5", LOAN, "1.005", "CAPTURED", 2))
    bad_time = record(item("pay_b6", LOAN, "1.00", created_date="yesterday"))
    half_version = record(item("pay_b7", LOAN, "1.00"))
    half_version["dynamodb"]["NewImage"]["version"] = {"N": "1.5"}
    not_ddb_json = record(item("pay_b8", LOAN, "1.00"))
    not_ddb_json["dynamodb"]["NewImage"]["amount"] = {"Q": "1"}
    removed = record(None, event="REMOVE", keys=ddb.to_item({"transaction_id": "pay_b9"}))
    bad = [
        no_amount,
        no_version,
        no_image,
        bad_status,
        fraction_of_paisa,
        bad_time,
        half_version,
        not_ddb_json,
    ]

    failed = handle(good, *bad, removed)

    assert failed == [sequence(r) for r in bad]
    assert balances(admin, LOAN) == ("900.00", "0.00")
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    counts = [m["stream_sync_failed_records"] for m in metrics if "stream_sync_failed_records" in m]
    assert counts == [[float(len(bad))]]


def test_records_postgres_refuses_are_isolated_by_splitting(admin: psycopg.Connection) -> None:
    records = [record(item(f"pay_c{i:02d}", LOAN, "10.00", "CAPTURED", 2)) for i in range(16)]
    records[5] = record(item("pay_c05", "LNNOSUCHLOAN", "10.00", "CAPTURED", 2))
    records[11] = record(item("pay_c11", LOAN, "99999999999999.99", "CAPTURED", 2))  # > (15,2)

    failed = handle(*records)

    assert failed == [sequence(records[5]), sequence(records[11])]
    assert balances(admin, LOAN) == ("860.00", "0.00")
    assert payment_row(admin, "pay_c04") is not None
    assert payment_row(admin, "pay_c05") is None


def test_the_database_down_reports_the_whole_batch(
    admin: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://engine_app@127.0.0.1:9/none?connect_timeout=2")
    wiring.reset()
    records = [record(item(f"pay_d{i}", LOAN, "10.00", "CAPTURED", 2)) for i in range(3)]

    assert handle(*records) == [sequence(r) for r in records]


def test_the_database_lost_mid_batch_fails_it_whole_and_writes_none_of_it(
    admin: psycopg.Connection,
) -> None:
    """The consumer's backend dies while its batch statement is half done (waiting on a row
    lock after inserting the others), twice: the reconnect's retry dies too."""
    assert handle(record(item("pay_e9", LOAN, "100.00"))) == []
    records = [record(item(f"pay_e{i}", LOAN, "10.00", "CAPTURED", 2)) for i in range(5)]
    records.append(record(item("pay_e9", LOAN, "100.00", "CAPTURED", 2)))
    failed: list[list[str]] = []
    with psycopg.connect(admin.info.dsn) as holder:
        holder.execute("SELECT 1 FROM payments WHERE transaction_id = 'pay_e9' FOR UPDATE")
        worker = threading.Thread(target=lambda: failed.append(handle(*records)))
        worker.start()
        ended: list[int] = []
        for _ in range(2):
            ended.append(waiting_backend(admin, ended))
            admin.execute("SELECT pg_terminate_backend(%s)", (ended[-1],))
        worker.join(timeout=30)
        holder.rollback()

    assert failed == [[sequence(r) for r in records]]
    assert balances(admin, LOAN) == ("1000.00", "0.00")
    assert [payment_row(admin, f"pay_e{i}") for i in range(5)] == [None] * 5


def waiting_backend(admin: psycopg.Connection, ended: list[int]) -> int:
    """The pid of the batch statement waiting on the held row (not one already ended)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE %s AND NOT pid = ANY(%s)",
            ("%WITH incoming%", ended),
        ).fetchone()
        if found:
            return int(found[0])
        time.sleep(0.02)
    raise AssertionError("the batch never waited on the lock")
