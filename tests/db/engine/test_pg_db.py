"""engine.dal.pg.db on a real PostgreSQL: one connection reused, one reconnect, one transaction
per unit of work, the statement timeout, no named prepared statements, the engine's role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from engine.dal.pg.db import CommitOutcomeUnknown, Database, DatabaseUnavailable, connect_engine
from engine.dal.pg.loans import LoanStore
from engine.db import connection
from tests.engine_pg import ACTIVE, CLOSED, OVERDUE, EngineDb


@pytest.fixture
def db(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    database = Database(lambda: connect_engine("engine-test", 5000))
    yield database
    database.close()


def backend_pid(db: Database) -> int:
    return int(db.run(lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()[0]))


def terminate(engine_db: EngineDb, pid: int) -> None:
    with engine_db.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_one_connection_is_reused_across_calls(db: Database) -> None:
    pids = {backend_pid(db) for _ in range(5)}

    assert len(pids) == 1
    assert db.connects == 1


def test_connects_as_the_engine_role_with_the_statement_timeout(db: Database) -> None:
    user, timeout = db.run(
        lambda cur: cur.execute(
            "SELECT current_user, current_setting('statement_timeout')"
        ).fetchone()
    )

    assert (user, timeout) == ("engine_app", "5s")


def test_the_role_carries_the_timeouts_so_no_session_set_pins_the_proxy(
    engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    database = Database(lambda: connect_engine("engine-test", 0))  # the deployed setting
    try:
        timeouts = database.run(
            lambda cur: cur.execute(
                "SELECT current_setting('statement_timeout'),"
                " current_setting('idle_in_transaction_session_timeout'),"
                " (SELECT setting FROM pg_settings WHERE name = 'statement_timeout') AS s,"
                " (SELECT source FROM pg_settings WHERE name = 'statement_timeout')"
            ).fetchone()
        )
    finally:
        database.close()

    assert timeouts[:2] == ("5s", "30s")
    # From the role's setting, not from a SET the session sent ("session").
    assert timeouts[3] == "user"


def test_named_prepared_statements_are_never_created(db: Database) -> None:
    for _ in range(10):  # psycopg would prepare from the 5th run with its default threshold
        db.run(lambda cur: cur.execute("SELECT %s::int + 1", (1,)).fetchone())

    assert db.connection().prepare_threshold is None
    prepared = db.run(
        lambda cur: cur.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    )
    assert prepared == (0,)


def test_a_killed_backend_is_replaced_once_and_the_work_runs(
    db: Database, engine_db: EngineDb
) -> None:
    first = backend_pid(db)
    terminate(engine_db, first)

    second = backend_pid(db)

    assert second != first
    assert db.connects == 2


def test_work_broken_mid_transaction_runs_again_on_a_new_connection(
    db: Database, engine_db: EngineDb
) -> None:
    calls: list[int] = []

    def work(cur: psycopg.Cursor[Any]) -> str:
        calls.append(1)
        cur.execute("UPDATE loan_accounts SET overdue_amount = overdue_amount + 1")
        if len(calls) == 1:
            pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
            terminate(engine_db, pid)
            cur.execute("SELECT 1")  # the server has gone: this raises
        return "done"

    assert db.run(work) == "done"
    assert len(calls) == 2
    with engine_db.admin() as admin:
        total = admin.execute("SELECT sum(overdue_amount) FROM loan_accounts").fetchone()[0]
    seeded = ACTIVE.overdue_amount + OVERDUE.overdue_amount + CLOSED.overdue_amount
    assert total == seeded + 3  # applied once: the first attempt was rolled back


def test_a_second_break_is_not_retried_again(db: Database, engine_db: EngineDb) -> None:
    calls: list[int] = []

    def work(cur: psycopg.Cursor[Any]) -> None:
        calls.append(1)
        terminate(engine_db, cur.execute("SELECT pg_backend_pid()").fetchone()[0])
        cur.execute("SELECT 1")

    with pytest.raises(DatabaseUnavailable):
        db.run(work)
    assert len(calls) == 2


def test_a_break_at_commit_is_reported_unknown_and_not_run_again(
    db: Database, engine_db: EngineDb
) -> None:
    calls: list[int] = []

    def work(cur: psycopg.Cursor[Any]) -> None:
        calls.append(1)
        cur.execute("UPDATE loan_accounts SET overdue_amount = 1")
        # Gone after the last statement: the next thing sent is COMMIT.
        terminate(engine_db, cur.execute("SELECT pg_backend_pid()").fetchone()[0])

    with pytest.raises(CommitOutcomeUnknown):
        db.run(work)
    assert len(calls) == 1
    assert backend_pid(db) > 0  # and the next unit of work has a fresh connection
    assert db.connects == 2


def test_the_statement_timeout_cancels_a_slow_statement_and_keeps_the_connection(
    engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    db = Database(lambda: connect_engine("engine-test", 100))

    with pytest.raises(psycopg.errors.QueryCanceled):
        db.run(lambda cur: cur.execute("SELECT pg_sleep(2)"))

    assert backend_pid(db) > 0
    assert db.connects == 1  # a timeout is the statement's failure, not the connection's
    db.close()


def test_an_error_in_the_work_rolls_the_whole_unit_back(db: Database, engine_db: EngineDb) -> None:
    def work(cur: psycopg.Cursor[Any]) -> None:
        cur.execute("UPDATE loan_accounts SET overdue_amount = 99")
        raise ValueError("business rule")

    with pytest.raises(ValueError, match="business rule"):
        db.run(work)
    with pytest.raises(RuntimeError), db.unit_of_work() as cur:
        cur.execute("UPDATE loan_accounts SET overdue_amount = 98")
        raise RuntimeError("also rolled back")

    with engine_db.admin() as admin:
        values = admin.execute("SELECT DISTINCT overdue_amount FROM loan_accounts").fetchall()
    assert {v for (v,) in values} == {ACTIVE.overdue_amount, OVERDUE.overdue_amount}


def test_unit_of_work_commits_when_the_block_ends(db: Database, engine_db: EngineDb) -> None:
    with db.unit_of_work() as cur:
        cur.execute(
            "UPDATE loan_accounts SET overdue_amount = 7 WHERE loan_account_number = %s",
            (ACTIVE.loan_account_number,),
        )

    loan = LoanStore(db).loan_by_number(ACTIVE.loan_account_number)
    assert loan is not None
    assert str(loan.overdue_amount) == "7.00"


def test_an_unreachable_database_is_unavailable_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://engine_app@127.0.0.1:1/none")
    db = Database(lambda: connect_engine("engine-test", 5000))

    with pytest.raises(DatabaseUnavailable):
        db.run(lambda cur: cur.execute("SELECT 1"))


def test_loan_by_number_reads_the_loan_and_its_customer(db: Database) -> None:
    loans = LoanStore(db)

    loan = loans.loan_by_number(OVERDUE.loan_account_number)

    assert loan is not None
    assert loan.loan_account_number == OVERDUE.loan_account_number
    assert loan.customer_name == OVERDUE.customer_name
    assert loan.mobile_number == "9123456780"  # registered with +91: compared as 10 digits
    assert loan.loan_type == "LAP"
    assert loan.outstanding_balance == OVERDUE.outstanding
    assert str(loan.outstanding_balance) == "480000.50"
    assert loan.emi == OVERDUE.emi
    assert loan.next_due_date == OVERDUE.next_due_date
    assert loan.overdue_amount == OVERDUE.overdue_amount
    assert loan.status == "NPA"
    assert loan.branch_code == "BR002"
    assert loan.customer_id
    assert not loan.is_closed
    assert loans.loan_by_number(CLOSED.loan_account_number).is_closed  # type: ignore[union-attr]
    assert loans.loan_by_number("LN9999999999") is None


def test_every_engine_connection_prepares_nothing(
    engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one connect helper the functions and the migrator share, not only Database's.
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    with connection.connect("engine-test") as conn:
        for _ in range(10):
            conn.execute("SELECT %s::int + 1", (1,)).fetchone()
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()

    assert conn.prepare_threshold is None
    assert prepared == (0,)
