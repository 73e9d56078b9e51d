"""The stream sync against a real PostgreSQL, as engine_app: each payment's effect on its loan
happens exactly once whatever the stream does (redeliver, reorder, replay), overpayments
become advances, refunds come back once, and a batch costs the same round trips at any size."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from engine.dal.pg import payments
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.payments import PaymentRow, SyncOutcome
from engine.logic.sync import StreamSync, row_from_item
from tests import pg_round_trips
from tests.engine_pg import EngineDb
from tests.transactions_support import add_loan, balances, item, payment_row, record

LOAN = "LNSYNC000001"


@pytest.fixture
def db(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    database = Database(lambda: connect_engine("engine-sync-test", 5000))
    yield database
    database.close()


@pytest.fixture
def admin(engine_db: EngineDb) -> Iterator[psycopg.Connection[Any]]:
    with engine_db.admin() as conn:
        add_loan(conn, LOAN, "1000.00")
        yield conn


def sync_with(db: Database) -> StreamSync:
    def apply(rows: Sequence[PaymentRow]) -> SyncOutcome:
        return db.run(lambda cur: payments.sync_payments(cur, rows))

    return StreamSync(apply)


def stream(db: Database, *items: dict[str, Any]) -> list[str]:
    """Deliver `items` as one stream batch; the sequence numbers reported failed."""
    return sync_with(db).process([record(i) for i in items]).failed


def test_a_capture_lowers_the_outstanding_once_under_redelivery(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    batch = [item("pay_a", LOAN, "250.00"), item("pay_a", LOAN, "250.00", "CAPTURED", 2)]
    for _ in range(3):
        assert stream(db, *batch) == []

    assert balances(admin, LOAN) == ("750.00", "0.00")
    assert payment_row(admin, "pay_a") == {
        "status": "CAPTURED",
        "version": 2,
        "balance_applied": "250.00",
        "advance_amount": "0.00",
        "balance_restored": "0.00",
        "refunded_amount": "0.00",
    }


def test_a_newer_image_first_then_the_older_changes_nothing(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    assert stream(db, item("pay_b", LOAN, "100.00", "CAPTURED", 3)) == []
    assert stream(db, item("pay_b", LOAN, "100.00", "AUTHORIZED", 2)) == []
    assert stream(db, item("pay_b", LOAN, "100.00", "CAPTURED", 2)) == []

    assert balances(admin, LOAN) == ("900.00", "0.00")
    found = payment_row(admin, "pay_b")
    assert found is not None
    assert (found["status"], found["version"]) == ("CAPTURED", 3)


def test_a_replayed_old_image_changes_nothing(db: Database, admin: psycopg.Connection[Any]) -> None:
    stream(db, item("pay_c", LOAN, "300.00"), item("pay_c", LOAN, "300.00", "CAPTURED", 2))
    stream(db, item("pay_c", LOAN, "300.00", "CAPTURED", 3, refunded="300.00"))

    assert stream(db, item("pay_c", LOAN, "300.00")) == []
    assert stream(db, item("pay_c", LOAN, "300.00", "CAPTURED", 2)) == []

    assert balances(admin, LOAN) == ("1000.00", "0.00")


def test_every_version_in_one_batch_is_the_last_one_once(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    assert (
        stream(
            db,
            item("pay_d", LOAN, "400.00"),
            item("pay_d", LOAN, "400.00", "AUTHORIZED", 2),
            item("pay_d", LOAN, "400.00", "CAPTURED", 3),
            item("pay_d", LOAN, "400.00", "CAPTURED", 2),
        )
        == []
    )

    assert balances(admin, LOAN) == ("600.00", "0.00")


def test_partial_then_full_refund_restores_each_delta_once(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, item("pay_e", LOAN, "500.00", "CAPTURED", 2))
    assert balances(admin, LOAN) == ("500.00", "0.00")

    for _ in range(2):
        stream(db, item("pay_e", LOAN, "500.00", "CAPTURED", 3, refunded="200.00"))
    assert balances(admin, LOAN) == ("700.00", "0.00")

    for _ in range(2):
        stream(db, item("pay_e", LOAN, "500.00", "REFUNDED", 4, refunded="500.00"))
    assert balances(admin, LOAN) == ("1000.00", "0.00")
    found = payment_row(admin, "pay_e")
    assert found is not None
    assert (found["balance_applied"], found["balance_restored"]) == ("500.00", "500.00")


def test_two_captures_beyond_the_outstanding_leave_an_advance(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """Two orders created concurrently, both paid: the second capture exceeds what is left."""
    assert (
        stream(
            db,
            item("pay_f", LOAN, "700.00", "CAPTURED", 2),
            item("pay_g", LOAN, "700.00", "CAPTURED", 2),
        )
        == []
    )

    assert balances(admin, LOAN) == ("0.00", "400.00")
    first, second = payment_row(admin, "pay_f"), payment_row(admin, "pay_g")
    assert first is not None and second is not None
    assert (first["balance_applied"], first["advance_amount"]) == ("700.00", "0.00")
    assert (second["balance_applied"], second["advance_amount"]) == ("300.00", "400.00")
    with db.connection().cursor() as cur:
        assert payments.captures_applied(cur, LOAN) == Decimal("1400.00")


def test_captures_in_separate_batches_take_in_turn(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, item("pay_h", LOAN, "900.00", "CAPTURED", 2))
    stream(db, item("pay_i", LOAN, "250.00", "CAPTURED", 2))

    assert balances(admin, LOAN) == ("0.00", "150.00")


def test_refunding_an_overpayment_takes_the_advance_back_first(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, item("pay_j", LOAN, "1200.00", "CAPTURED", 2))
    assert balances(admin, LOAN) == ("0.00", "200.00")

    stream(db, item("pay_j", LOAN, "1200.00", "CAPTURED", 3, refunded="150.00"))
    assert balances(admin, LOAN) == ("0.00", "50.00")

    stream(db, item("pay_j", LOAN, "1200.00", "REFUNDED", 4, refunded="1200.00"))
    assert balances(admin, LOAN) == ("1000.00", "0.00")


def test_an_advance_used_elsewhere_never_goes_negative_on_refund(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, item("pay_k", LOAN, "1100.00", "CAPTURED", 2))
    admin.execute(
        "UPDATE loan_accounts SET advance_balance = 0 WHERE loan_account_number = %s", (LOAN,)
    )

    assert stream(db, item("pay_k", LOAN, "1100.00", "REFUNDED", 3, refunded="1100.00")) == []

    assert balances(admin, LOAN) == ("1100.00", "0.00")


def test_first_seen_refunded_takes_and_gives_back(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    assert stream(db, item("pay_l", LOAN, "300.00", "REFUNDED", 4, refunded="300.00")) == []

    assert balances(admin, LOAN) == ("1000.00", "0.00")
    found = payment_row(admin, "pay_l")
    assert found is not None
    assert (found["balance_applied"], found["balance_restored"]) == ("300.00", "300.00")
    with db.connection().cursor() as cur:
        assert payments.captures_applied(cur, LOAN) == Decimal("300.00")


def test_payments_that_take_nothing_leave_the_loan_alone(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(
        db,
        item("pay_m", LOAN, "10.00", "FAILED", 2),
        item("pay_n", LOAN, "20.00", "EXPIRED", 2),
        item("pay_o", LOAN, "30.00", "AUTHORIZED", 2),
    )

    assert balances(admin, LOAN) == ("1000.00", "0.00")
    with db.connection().cursor() as cur:
        assert payments.captures_applied(cur, LOAN) == Decimal("0")


def test_a_capture_after_a_failure_applies(db: Database, admin: psycopg.Connection[Any]) -> None:
    stream(db, item("pay_p", LOAN, "100.00", "FAILED", 2))
    stream(db, item("pay_p", LOAN, "100.00", "CAPTURED", 3))

    assert balances(admin, LOAN) == ("900.00", "0.00")


def test_a_payment_for_an_unknown_loan_fails_alone(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    good, bad = (
        record(item("pay_q", LOAN, "100.00", "CAPTURED", 2)),
        record(item("pay_r", "LNUNKNOWN0001", "100.00", "CAPTURED", 2)),
    )

    report = sync_with(db).process([good, bad])

    assert report.failed == [bad["dynamodb"]["SequenceNumber"]]
    assert balances(admin, LOAN) == ("900.00", "0.00")
    assert payment_row(admin, "pay_r") is None


def test_round_trips_per_batch_do_not_grow_with_the_batch(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    add_loan(admin, "LNSYNCBIG001", "1000000.00")

    def trips(count: int, prefix: str) -> int:
        rows = [
            row_from_item(item(f"pay_{prefix}{i:05d}", "LNSYNCBIG001", "10.00", "CAPTURED", 2))
            for i in range(count)
        ]
        with pg_round_trips.counting(db.connection()) as counted:
            db.run(lambda cur: payments.sync_payments(cur, rows))
        return counted.count

    assert trips(1, "one") == trips(100, "hundred") == trips(1000, "many") == 3
    assert balances(admin, "LNSYNCBIG001") == ("988990.00", "0.00")


def test_two_consumers_at_once_take_a_capture_once(
    engine_db: EngineDb, admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream and the repair job syncing the same new capture at the same moment."""
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    rows = [row_from_item(item(f"pay_s{i}", LOAN, "100.00", "CAPTURED", 2)) for i in range(5)]
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def consumer() -> None:
        database = Database(lambda: connect_engine("engine-sync-race", 5000))
        try:
            barrier.wait(timeout=10)
            database.run(lambda cur: payments.sync_payments(cur, rows))
        except BaseException as exc:
            failures.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=consumer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert balances(admin, LOAN) == ("500.00", "0.00")


def test_stored_versions_name_only_what_postgres_holds(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, item("pay_t", LOAN, "1.00", "CAPTURED", 4))

    with db.connection().cursor() as cur:
        assert payments.stored_versions(cur, ["pay_t", "pay_missing"]) == {"pay_t": 4}
