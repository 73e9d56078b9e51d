"""Staff collections on a real PostgreSQL, as engine_app (engine.dal.pg.collections through
engine.logic.collections; DynamoDB's side faked): the cash limit per payer per day across
branches, also for two collections at once; the business date moving past a submitted or
approved day, and waiting for a submit in progress; the idempotent replay; the cancellation
windows; and what the stream sync does with a collection and its cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from engine.dal.pg import payments
from engine.dal.pg.collections import CollectionLedger, Filters
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.payments import PaymentRow
from engine.handlers.internal.staff import Caller
from engine.logic.collections import CollectionService, Limits, ist_date
from engine.models.collections import Collection
from engine.models.rbac import Scope
from engine.models.staff import StaffUser
from shared import clock
from shared.cursors import BadCursor
from shared.http import ApiError, Conflict, Forbidden
from tests.collections_support import FakeCounters, FakeRecords, body
from tests.engine_pg import EngineDb
from tests.transactions_support import add_loan, balances, payment_row

NOW = clock.now()
TODAY = ist_date(NOW)
AT = clock.iso(NOW - timedelta(minutes=5))
LIMIT = Decimal("200000")
THIRD_PARTY = {"name": "Suresh Kumar", "mobile": "9123456789"}


@dataclass(frozen=True)
class People:
    cashier1: Caller
    cashier2: Caller
    officer1: Caller
    manager1: Caller
    manager2: Caller
    submitter: str  # a user id, for closing days by hand


def _user(admin: psycopg.Connection[Any], name: str, branch: str, role: str) -> StaffUser:
    row = admin.execute(
        "INSERT INTO users (username, email, branch_code) VALUES (%s, %s, %s)"
        " RETURNING user_id::text",
        (name, f"{name}@staff.example.com", branch),
    ).fetchone()
    assert row is not None
    return StaffUser(row[0], name, f"{name}@staff.example.com", branch, True, role)


def _caller(user: StaffUser, permission: str) -> Caller:
    reach = Scope.OWN_RECORDS if user.role == "FieldOfficer" else Scope.OWN_BRANCH
    return Caller(user, frozenset({user.role or ""}), permission, reach)


@pytest.fixture
def admin(engine_db: EngineDb) -> Iterator[psycopg.Connection[Any]]:
    with engine_db.admin() as conn:
        yield conn


@pytest.fixture
def people(admin: psycopg.Connection[Any]) -> People:
    create = "collections:create"
    return People(
        _caller(_user(admin, "cashier.br001", "BR001", "BranchCashier"), create),
        _caller(_user(admin, "cashier.br002", "BR002", "BranchCashier"), create),
        _caller(_user(admin, "officer.br001", "BR001", "FieldOfficer"), create),
        _caller(_user(admin, "manager.br001", "BR001", "BranchManager"), "collections:cancel"),
        _caller(_user(admin, "manager.br002", "BR002", "BranchManager"), "collections:cancel"),
        _user(admin, "submitter.br001", "BR001", "BranchCashier").user_id,
    )


@pytest.fixture
def db(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    database = Database(lambda: connect_engine("engine-collections-test", 5000))
    yield database
    database.close_all()


@pytest.fixture
def records() -> FakeRecords:
    return FakeRecords()


@pytest.fixture
def counters() -> FakeCounters:
    return FakeCounters()


@pytest.fixture
def service(db: Database, records: FakeRecords, counters: FakeCounters) -> CollectionService:
    limits = Limits(cash_per_payer_per_day=LIMIT, max_age_days=7)
    return CollectionService(CollectionLedger(db), records, counters, limits, now=lambda: NOW)


def cash(amount: str, loan: str = "LN0000000001", **changes: Any) -> Any:
    return body(loan_account_number=loan, amount=amount, collected_at=AT, **changes)


def close_day(admin: psycopg.Connection[Any], branch: str, day: date, status: str, by: str) -> None:
    """The branch's DCR for `day` in `status`, as the DCR's submit/approve would leave it."""
    admin.execute(
        "INSERT INTO dcr_sessions (branch_code, collection_date) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (branch, day),
    )
    admin.execute(
        "UPDATE dcr_sessions SET status = %(s)s::text, submitted_at = now(), submitted_by = %(by)s,"
        " counted_cash = 0, variance_amount = 0,"
        " approved_by = CASE WHEN %(s)s::text = 'APPROVED' THEN %(by)s::uuid END,"
        " approved_at = CASE WHEN %(s)s::text = 'APPROVED' THEN now() END,"
        " rejected_by = CASE WHEN %(s)s::text = 'REJECTED' THEN %(by)s::uuid END,"
        " rejected_at = CASE WHEN %(s)s::text = 'REJECTED' THEN now() END,"
        " rejection_reason = CASE WHEN %(s)s::text = 'REJECTED' THEN 'recount' END"
        " WHERE branch_code = %(b)s AND collection_date = %(d)s",
        {"s": status, "by": by, "b": branch, "d": day},
    )


def refusal(action: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        action()
    return refused.value


# --- the cash limit (s.269ST)


def test_a_payers_cash_is_limited_per_day_across_branches(
    service: CollectionService, people: People
) -> None:
    first = service.collect(
        people.cashier1, cash("150000.00", payer=THIRD_PARTY, purpose="OTHER_FEE"), "key-0001"
    )
    assert first.collection.payer_key == "mobile:9123456789"
    at_the_limit = cash("50000.00", "LN0000000002", payer=THIRD_PARTY)
    refused = refusal(lambda: service.collect(people.cashier2, at_the_limit, "key-0002"))
    assert (refused.status, refused.code) == (422, "CASH_LIMIT_EXCEEDED")
    assert "150000" not in refused.message  # nothing of what else the payer paid
    below = cash("49999.99", "LN0000000002", payer=THIRD_PARTY)
    assert service.collect(people.cashier2, below, "key-0003").collection.branch_code == "BR002"
    # A cheque is not cash, and another payer has a limit of their own.
    cheque = cash(
        "90000.00",
        "LN0000000002",
        payer=THIRD_PARTY,
        mode="CHEQUE",
        instrument={"number": "004512", "bank_name": "SBI", "instrument_date": TODAY.isoformat()},
    )
    assert service.collect(people.cashier2, cheque, "key-0004")
    assert service.collect(people.cashier1, cash("150000.00"), "key-0005")  # the borrower


def test_a_cancelled_collection_no_longer_counts(
    service: CollectionService, people: People
) -> None:
    first = service.collect(people.cashier1, cash("150000.00"), "key-0001").collection
    refused = refusal(lambda: service.collect(people.cashier1, cash("60000.00"), "key-0002"))
    assert refused.code == "CASH_LIMIT_EXCEEDED"
    service.cancel(people.manager1, first.collection_id, "entered twice")
    assert service.collect(people.cashier1, cash("60000.00"), "key-0003")


class SlowCounters(FakeCounters):
    """Takes its time over the receipt number, which the ledger asks for while it holds the
    payer's lock: a second collection checking the limit without that lock would pass too."""

    def next_receipt_sequence(self, branch_code: str, financial_year: str) -> int:
        time.sleep(0.3)
        return super().next_receipt_sequence(branch_code, financial_year)


def test_two_collections_at_once_that_together_reach_the_limit_one_is_refused(
    db: Database, people: People, records: FakeRecords
) -> None:
    limits = Limits(cash_per_payer_per_day=LIMIT, max_age_days=7)
    service = CollectionService(
        CollectionLedger(db), records, SlowCounters(), limits, now=lambda: NOW
    )
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def collect(who: Caller, loan: str, key: str) -> None:
        barrier.wait(timeout=10)
        try:
            outcomes.append(service.collect(who, cash("120000.00", loan, payer=THIRD_PARTY), key))
        except ApiError as refused:
            outcomes.append(refused.code)

    threads = [
        threading.Thread(target=collect, args=(people.cashier1, "LN0000000001", "key-a001")),
        threading.Thread(target=collect, args=(people.cashier2, "LN0000000002", "key-b001")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == 2
    assert [o for o in outcomes if isinstance(o, str)] == ["CASH_LIMIT_EXCEEDED"]
    assert len(records.written) == 1


# --- the business date


def test_a_submitted_or_approved_day_sends_collections_to_the_next_date(
    service: CollectionService, people: People, admin: psycopg.Connection[Any]
) -> None:
    tomorrow = TODAY + timedelta(days=1)
    first = service.collect(people.cashier1, cash("100.00"), "key-0001").collection
    assert first.business_date == TODAY
    close_day(admin, "BR001", TODAY, "SUBMITTED", people.submitter)
    moved = service.collect(people.cashier1, cash("100.00"), "key-0002").collection
    assert moved.business_date == tomorrow
    # Another branch's day is its own.
    other = service.collect(people.cashier2, cash("100.00", "LN0000000002"), "key-0003")
    assert other.collection.business_date == TODAY
    close_day(admin, "BR001", tomorrow, "APPROVED", people.submitter)
    refused = refusal(lambda: service.collect(people.cashier1, cash("100.00"), "key-0004"))
    assert (refused.status, refused.code) == (409, "DAY_CLOSED")


def test_a_rejected_day_takes_collections_again(
    service: CollectionService, people: People, admin: psycopg.Connection[Any]
) -> None:
    close_day(admin, "BR001", TODAY, "REJECTED", people.submitter)
    found = service.collect(people.cashier1, cash("100.00"), "key-0001").collection
    assert found.business_date == TODAY


def test_a_collection_waits_for_a_submit_in_progress_and_lands_on_the_next_date(
    service: CollectionService, people: People, engine_db: EngineDb
) -> None:
    landed: list[Collection] = []
    with psycopg.connect(engine_db.admin_url) as submit:  # a transaction, as the DCR's submit
        close_day(submit, "BR001", TODAY, "SUBMITTED", people.submitter)
        submit.execute(
            "SELECT 1 FROM dcr_sessions WHERE branch_code = 'BR001' AND collection_date = %s"
            " FOR UPDATE",
            (TODAY,),
        )
        worker = threading.Thread(
            target=lambda: landed.append(
                service.collect(people.cashier1, cash("100.00"), "key-0001").collection
            )
        )
        worker.start()
        _wait_for_a_lock_wait(engine_db)
        assert landed == []
        submit.commit()
    worker.join(timeout=30)
    assert landed[0].business_date == TODAY + timedelta(days=1)


def _wait_for_a_lock_wait(engine_db: EngineDb) -> None:
    """Until a session of the app role waits on a row lock (the collection, blocked)."""
    with engine_db.admin() as watcher:
        for _ in range(500):
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE usename = 'engine_app' AND wait_event_type = 'Lock'"
            ).fetchone()
            if found and found[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the collection never waited for the submit's lock")


# --- idempotency


def test_the_same_key_replays_the_first_collection_another_body_is_409(
    service: CollectionService, people: People, counters: FakeCounters
) -> None:
    first = service.collect(people.officer1, cash("100.00"), "key-0001")
    again = service.collect(people.officer1, cash("100"), "key-0001")
    assert again.replayed
    assert again.collection.receipt_number == first.collection.receipt_number
    assert counters.sequence == 1
    refused = refusal(lambda: service.collect(people.officer1, cash("100.01"), "key-0001"))
    assert refused.status == 409


def test_a_replay_after_a_dynamodb_failure_completes_it(
    service: CollectionService, people: People, records: FakeRecords
) -> None:
    records.failing = 1
    refused = refusal(lambda: service.collect(people.cashier1, cash("100.00"), "key-0001"))
    assert refused.status == 503
    again = service.collect(people.cashier1, cash("100.00"), "key-0001")
    assert again.collection.recorded_at is not None
    stored = service.ledger.get(again.collection.collection_id)
    assert stored is not None
    assert stored.recorded_at is not None


# --- cancellation


def test_cancellation_windows(
    service: CollectionService, people: People, admin: psycopg.Connection[Any]
) -> None:
    taken = service.collect(people.cashier1, cash("100.00"), "key-0001").collection
    other = refusal(lambda: service.cancel(people.manager2, taken.collection_id, "wrong"))
    assert isinstance(other, Forbidden)

    yesterday = service.collect(people.cashier1, cash("100.00"), "key-0002").collection
    admin.execute(
        "UPDATE collections SET business_date = %s WHERE collection_id = %s",
        (TODAY - timedelta(days=1), yesterday.collection_id),
    )
    late = refusal(lambda: service.cancel(people.manager1, yesterday.collection_id, "wrong"))
    assert (late.status, late.code) == (422, "NOT_SAME_DAY")

    cancelled = service.cancel(people.manager1, taken.collection_id, "wrong loan")
    assert (cancelled.status, cancelled.cancelled_by) == ("CANCELLED", people.manager1.user.user_id)
    again = service.cancel(people.manager1, taken.collection_id, "wrong loan")
    assert again.cancelled_at == cancelled.cancelled_at
    twice = refusal(lambda: service.cancel(people.manager1, taken.collection_id, "other"))
    assert isinstance(twice, Conflict)
    assert twice.code == "ALREADY_CANCELLED"

    for status in ("SUBMITTED", "APPROVED"):
        day_of = service.collect(people.cashier2, cash("100.00", "LN0000000002"), f"k-{status}")
        close_day(admin, "BR002", TODAY, status, people.submitter)
        closed = refusal(
            lambda c=day_of.collection: service.cancel(people.manager2, c.collection_id, "x")
        )
        assert (closed.status, closed.code) == (409, "DAY_CLOSED")
        admin.execute(
            "UPDATE dcr_sessions SET status = 'DRAFT', submitted_at = NULL, submitted_by = NULL,"
            " counted_cash = NULL, variance_amount = NULL, approved_by = NULL,"
            " approved_at = NULL WHERE branch_code = 'BR002'"
        )


def test_listing_is_newest_first_paged_and_within_reach(
    service: CollectionService, people: People
) -> None:
    mine = [
        service.collect(people.officer1, cash("10.00"), f"key-o{i:03d}").collection
        for i in range(3)
    ]
    service.collect(people.cashier1, cash("10.00"), "key-c001")
    service.collect(people.cashier2, cash("10.00", "LN0000000002"), "key-c002")
    reader = _caller(people.officer1.user, "collections:read")
    page, cursor = service.page(reader, Filters(), 2, None)
    assert [c.collection_id for c in page] == [c.collection_id for c in mine[::-1][:2]]
    assert cursor is not None
    rest, end = service.page(reader, Filters(), 2, cursor)
    assert ([c.collection_id for c in rest], end) == ([mine[0].collection_id], None)
    branch = _caller(people.cashier1.user, "collections:read")
    everyone, _ = service.page(branch, Filters(business_date=TODAY), 10, None)
    assert len(everyone) == 4
    assert {c.branch_code for c in everyone} == {"BR001"}
    with pytest.raises(BadCursor):  # another listing's cursor
        service.page(branch, Filters(status="CAPTURED"), 2, cursor)


# --- the stream sync of collections


def _row(transaction_id: str, amount: str, status: str, version: int, purpose: str) -> PaymentRow:
    return PaymentRow(
        transaction_id=transaction_id,
        loan_account_number="LNCOLL000001",
        branch_code="BR001",
        amount=Decimal(amount),
        status=status,
        version=version,
        created_at=NOW,
        channel="FIELD",
        receipt_number=f"BR001/2026-27/{version:06d}{transaction_id[-1]}",
        payment_method="cash",
        captured_at=NOW,
        purpose=purpose,
    )


def test_only_an_emi_moves_the_loan_and_a_cancellation_gives_it_back(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    add_loan(admin, "LNCOLL000001", "1000.00")

    def sync(*rows: PaymentRow) -> None:
        db.run(lambda cur: payments.sync_payments(cur, rows))

    sync(_row("pay_fee1", "300.00", "CAPTURED", 1, "LEGAL_FEE"))
    assert balances(admin, "LNCOLL000001") == ("1000.00", "0.00")
    sync(_row("pay_emi1", "1200.00", "CAPTURED", 1, "EMI"))  # 200 more than outstanding
    assert balances(admin, "LNCOLL000001") == ("0.00", "200.00")
    sync(_row("pay_emi1", "1200.00", "CANCELLED", 2, "EMI"))
    assert balances(admin, "LNCOLL000001") == ("1000.00", "0.00")
    row = payment_row(admin, "pay_emi1")
    assert row is not None
    assert (row["status"], row["balance_applied"], row["advance_amount"]) == (
        "CANCELLED",
        "0.00",
        "0.00",
    )
    sync(_row("pay_emi1", "1200.00", "CANCELLED", 2, "EMI"))  # redelivered: nothing more
    sync(_row("pay_fee1", "300.00", "CANCELLED", 2, "LEGAL_FEE"))
    assert balances(admin, "LNCOLL000001") == ("1000.00", "0.00")
    # Captured and cancelled before the stream saw either: nothing to do.
    sync(
        _row("pay_emi2", "400.00", "CAPTURED", 1, "EMI"),
        _row("pay_emi2", "400.00", "CANCELLED", 2, "EMI"),
    )
    assert balances(admin, "LNCOLL000001") == ("1000.00", "0.00")
