"""The nightly loan master sync against a real PostgreSQL, as engine_app, with a fake LMS page
source: each receipt counted once whatever the order of capture, stream sync, posting and
loan sync; pages idempotent and resumable; the posting facts carried by the stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors

from engine.clients.lms_errors import LmsRefused, LmsUnavailable
from engine.clients.lms_models import LmsLoan, LoanPage
from engine.dal.pg import payments
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.loan_sync import SYNC_NAME, LoanSyncStore, StateMoved
from engine.dal.pg.payments import PaymentRow, SyncOutcome
from engine.logic.loan_sync import INITIAL_WATERMARK, OVERLAP, LoanSync, RunReport
from engine.logic.sync import StreamSync
from shared import clock
from tests.engine_pg import EngineDb
from tests.transactions_support import add_loan, balances, item, payment_row, record

LOAN = "LNLMS0000001"
OTHER = "LNLMS0000002"
T1 = "2026-12-04T01:00:00Z"
T2 = "2026-12-04T02:00:00Z"
T3 = "2026-12-04T03:00:00Z"
PLENTY = 900.0  # seconds left


def ref(n: int) -> str:
    return f"BR001/2026-27/{n:06d}"


def lms_loan(
    number: str,
    outstanding: str,
    updated_at: str = T1,
    *references: str,
    advance: str = "0.00",
    status: str = "ACTIVE",
    emi: str = "12500.00",
    due: date | None = date(2027, 1, 5),
    overdue: str = "0.00",
    dpd: int = 0,
) -> LmsLoan:
    return LmsLoan(
        loan_account_number=number,
        status=status,
        outstanding_amount=Decimal(outstanding),
        emi_amount=Decimal(emi),
        next_due_date=due,
        overdue_amount=Decimal(overdue),
        days_past_due=dpd,
        updated_at=updated_at,
        recent_receipt_references=tuple(references),
        advance_amount=Decimal(advance),
    )


class FakeLms:
    """Pages by cursor (None: the first); `fail` raises once for a cursor."""

    def __init__(
        self,
        pages: dict[str | None, LoanPage],
        fail: dict[str | None, Exception] | None = None,
    ) -> None:
        self.pages = pages
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, str | None, int]] = []

    def loans_changed_since(
        self, watermark: str, cursor: str | None = None, limit: int = 100
    ) -> LoanPage:
        self.calls.append((watermark, cursor, limit))
        if cursor in self.fail:
            raise self.fail.pop(cursor)
        return self.pages[cursor]


def one_page(*loans: LmsLoan) -> FakeLms:
    return FakeLms({None: LoanPage(tuple(loans), None)})


@pytest.fixture
def db(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    database = Database(lambda: connect_engine("engine-loan-sync-test", 5000))
    yield database
    database.close()


@pytest.fixture
def admin(engine_db: EngineDb) -> Iterator[psycopg.Connection[Any]]:
    with engine_db.admin() as conn:
        add_loan(conn, LOAN, "1000.00")
        yield conn


def sync_run(db: Database, source: FakeLms, seconds_left: float = PLENTY) -> RunReport:
    return LoanSync(LoanSyncStore(db), source, page_size=2).run(lambda: seconds_left)


def stream(db: Database, *images: dict[str, Any]) -> None:
    def apply(rows: Sequence[PaymentRow]) -> SyncOutcome:
        return db.run(lambda cur: payments.sync_payments(cur, rows))

    assert StreamSync(apply).process([record(i) for i in images]).failed == []


def paid(
    tid: str,
    amount: str,
    receipt: int,
    *,
    version: int = 2,
    status: str = "CAPTURED",
    refunded: str | None = None,
    posted_at: datetime | None = None,
    loan: str = LOAN,
    captured_at: str = "2026-12-03T06:41:00.000Z",
) -> dict[str, Any]:
    """A captured Transactions item with our receipt number, posted when `posted_at` is given."""
    image = item(tid, loan, amount, status, version, refunded=refunded)
    image["receipt_number"] = ref(receipt)
    image["captured_at"] = captured_at
    if posted_at is not None:
        image["lms_receipt_id"] = f"LMSR{receipt:010d}"
        image["lms_posted_at"] = clock.iso(posted_at)
    return image


def days_ago(days: float) -> datetime:
    return clock.now() - timedelta(days=days)


def loan_row(admin: psycopg.Connection[Any], number: str = LOAN) -> dict[str, Any]:
    cur = admin.execute(
        "SELECT outstanding_balance, advance_balance, emi_amount, next_due_date, overdue_amount,"
        " days_past_due, loan_status, lms_updated_at, lms_receipt_references"
        " FROM loan_accounts WHERE loan_account_number = %s",
        (number,),
    )
    found = cur.fetchone()
    assert found is not None
    names = [c.name for c in cur.description or ()]
    return {n: (str(v) if isinstance(v, Decimal) else v) for n, v in zip(names, found, strict=True)}


def state(admin: psycopg.Connection[Any]) -> dict[str, Any]:
    cur = admin.execute(
        "SELECT watermark, cursor, run_high_water, run_pages, last_finished_at"
        " FROM lms_sync_state WHERE sync_name = %s",
        (SYNC_NAME,),
    )
    found = cur.fetchone()
    assert found is not None
    return dict(zip([c.name for c in cur.description or ()], found, strict=True))


def posting_facts(admin: psycopg.Connection[Any], tid: str) -> tuple[Any, Any]:
    found = admin.execute(
        "SELECT lms_receipt_id, lms_posted_at FROM payments WHERE transaction_id = %s", (tid,)
    ).fetchone()
    assert found is not None
    return found[0], found[1]


def at(text: str) -> datetime:
    return clock.parse_iso(text)


# --- failures and resumability --------------------------------------------------------------


def test_a_failure_mid_run_keeps_page_one_and_the_next_run_resumes_from_page_two(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    add_loan(admin, OTHER, "5000.00")
    lms = FakeLms(
        {
            None: LoanPage((lms_loan(LOAN, "900.00", T1),), "c1"),
            "c1": LoanPage((lms_loan(OTHER, "4000.00", T3),), None),
        },
        fail={"c1": LmsUnavailable("the LMS is unavailable (UNAVAILABLE)", status=503)},
    )

    with pytest.raises(LmsUnavailable):
        sync_run(db, lms)

    assert balances(admin, LOAN) == ("900.00", "0.00")
    assert balances(admin, OTHER) == ("5000.00", "0.00")
    saved = state(admin)
    assert (saved["cursor"], saved["watermark"], saved["run_pages"]) == ("c1", INITIAL_WATERMARK, 1)

    report = sync_run(db, lms)

    assert lms.calls[-1][:2] == (clock.iso(INITIAL_WATERMARK), "c1")
    assert (report.resumed, report.finished, report.pages, report.applied) == (True, True, 1, 1)
    assert balances(admin, OTHER) == ("4000.00", "0.00")
    saved = state(admin)
    assert saved["cursor"] is None
    assert saved["watermark"] == at(T3) - OVERLAP
    assert saved["run_high_water"] is None
    assert saved["run_pages"] == 2
    assert saved["last_finished_at"] is not None


def test_the_next_run_asks_from_the_moved_watermark(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    sync_run(db, one_page(lms_loan(LOAN, "900.00", T2)))
    again = one_page()

    report = sync_run(db, again)

    assert again.calls == [(clock.iso(at(T2) - OVERLAP), None, 2)]
    assert report.finished
    assert state(admin)["watermark"] == at(T2) - OVERLAP  # nothing read: it stays


def test_short_of_time_it_stops_between_pages_and_resumes(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    add_loan(admin, OTHER, "5000.00")
    lms = FakeLms(
        {
            None: LoanPage((lms_loan(LOAN, "900.00", T1),), "c1"),
            "c1": LoanPage((lms_loan(OTHER, "4000.00", T2),), None),
        }
    )
    left = iter([PLENTY, 5.0])

    report = LoanSync(LoanSyncStore(db), lms).run(lambda: next(left))

    assert (report.out_of_time, report.finished, report.pages) == (True, False, 1)
    assert [c[1] for c in lms.calls] == [None]
    assert state(admin)["cursor"] == "c1"
    assert sync_run(db, lms).finished
    assert balances(admin, OTHER) == ("4000.00", "0.00")


def test_a_refused_cursor_is_dropped_once_and_the_run_reads_from_the_watermark(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    admin.execute(
        "INSERT INTO lms_sync_state (sync_name, watermark, cursor) VALUES (%s, %s, 'expired')",
        (SYNC_NAME, at(T1)),
    )
    lms = FakeLms(
        {None: LoanPage((lms_loan(LOAN, "800.00", T2),), None)},
        fail={"expired": LmsRefused(400, "VALIDATION_FAILED", "bad cursor")},
    )

    report = sync_run(db, lms)

    assert [c[:2] for c in lms.calls] == [(clock.iso(at(T1)), "expired"), (clock.iso(at(T1)), None)]
    assert (report.restarted, report.finished) == (True, True)
    assert balances(admin, LOAN) == ("800.00", "0.00")


def test_a_refusal_without_a_cursor_is_raised(db: Database, admin: psycopg.Connection[Any]) -> None:
    lms = FakeLms({}, fail={None: LmsRefused(400, "VALIDATION_FAILED", "bad watermark")})

    with pytest.raises(LmsRefused):
        sync_run(db, lms)
    assert state(admin)["cursor"] is None


def test_a_page_read_by_a_run_another_run_overtook_changes_nothing(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    store = LoanSyncStore(db)
    stale = store.start(INITIAL_WATERMARK, clock.now())
    sync_run(db, one_page(lms_loan(LOAN, "900.00", T1)))  # another run, finished

    with pytest.raises(StateMoved):
        store.apply_page(stale, [], "c9", now=clock.now(), overlap=OVERLAP)
    assert state(admin)["cursor"] is None
    assert state(admin)["watermark"] == at(T1) - OVERLAP


def test_unknown_and_unstorable_loans_are_counted_and_skipped(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    report = sync_run(
        db,
        one_page(
            lms_loan("LNUNKNOWN001", "5000.00", T1),
            lms_loan(LOAN, "900.00", T1, status="SUSPENDED"),
            lms_loan(OTHER, "1.00", T2, emi="100000000.00"),
        ),
    )

    assert (report.loans, report.applied, report.unknown, report.refused) == (1, 0, 1, 2)
    assert report.finished
    assert balances(admin, LOAN) == ("1000.00", "0.00")
    assert (
        admin.execute(
            "SELECT count(*) FROM loan_accounts WHERE loan_account_number = 'LNUNKNOWN001'"
        ).fetchone()
    ) == (0,)
    assert state(admin)["watermark"] == at(T1) - OVERLAP


def test_the_app_role_never_deletes_the_sync_state(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    sync_run(db, one_page())
    with pytest.raises(errors.InsufficientPrivilege):
        db.run(lambda cur: cur.execute("DELETE FROM lms_sync_state"))


# --- idempotence and versions -------------------------------------------------------------


def test_a_version_applies_every_master_field(db: Database, admin: psycopg.Connection[Any]) -> None:
    sync_run(
        db,
        one_page(
            lms_loan(
                LOAN,
                "980.50",
                T1,
                ref(7),
                status="NPA",
                emi="21000.00",
                due=date(2027, 2, 1),
                overdue="42000.00",
                dpd=95,
            )
        ),
    )

    assert loan_row(admin) == {
        "outstanding_balance": "980.50",
        "advance_balance": "0.00",
        "emi_amount": "21000.00",
        "next_due_date": date(2027, 2, 1),
        "overdue_amount": "42000.00",
        "days_past_due": 95,
        "loan_status": "NPA",
        "lms_updated_at": at(T1),
        "lms_receipt_references": [ref(7)],
    }


def test_a_page_applied_twice_changes_nothing(db: Database, admin: psycopg.Connection[Any]) -> None:
    page = lms_loan(LOAN, "900.00", T1)
    sync_run(db, one_page(page))
    stream(db, paid("pay_after_sync", "100.00", 1))  # the stream moves the loan after the sync
    assert balances(admin, LOAN) == ("800.00", "0.00")

    report = sync_run(db, one_page(page))

    assert (report.applied, report.stale) == (0, 1)
    assert balances(admin, LOAN) == ("800.00", "0.00")


def test_an_older_version_after_a_newer_one_is_ignored(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    sync_run(db, one_page(lms_loan(LOAN, "700.00", T2, status="NPA")))
    report = sync_run(db, one_page(lms_loan(LOAN, "900.00", T1)))

    assert report.stale == 1
    found = loan_row(admin)
    assert (found["outstanding_balance"], found["loan_status"]) == ("700.00", "NPA")
    assert found["lms_updated_at"] == at(T2)


def test_a_loan_twice_on_one_page_takes_its_newest_version(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    report = sync_run(db, one_page(lms_loan(LOAN, "600.00", T2), lms_loan(LOAN, "900.00", T1)))

    assert (report.loans, report.applied) == (1, 1)
    assert balances(admin, LOAN) == ("600.00", "0.00")


# --- the combination rule: every order of capture, stream sync, posting and loan sync -----


def test_sync_before_posting_takes_the_receipt_off_the_lms_outstanding(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, paid("pay_a", "300.00", 1))
    assert balances(admin, LOAN) == ("700.00", "0.00")

    sync_run(db, one_page(lms_loan(LOAN, "1050.00", T1)))  # interest charged; ours not posted

    assert balances(admin, LOAN) == ("750.00", "0.00")


def test_sync_after_posting_does_not_take_it_again(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, paid("pay_a", "300.00", 1))
    stream(db, paid("pay_a", "300.00", 1, posted_at=days_ago(0.1)))

    sync_run(db, one_page(lms_loan(LOAN, "750.00", T1, ref(1))))

    assert balances(admin, LOAN) == ("750.00", "0.00")


def test_a_version_older_than_the_posting_still_takes_it_off(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """Posted an hour ago, but the page holds a version from before: not listed, subtracted."""
    stream(db, paid("pay_a", "300.00", 1, posted_at=days_ago(1 / 24)))

    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1)))

    assert balances(admin, LOAN) == ("700.00", "0.00")


def test_during_an_lms_downtime_every_unposted_receipt_is_taken_off(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, *(paid(f"pay_d{i}", "100.00", 10 + i) for i in range(4)))
    assert balances(admin, LOAN) == ("600.00", "0.00")

    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1)))

    assert balances(admin, LOAN) == ("600.00", "0.00")


def test_some_posted_some_not_takes_off_only_the_unlisted(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(
        db,
        paid("pay_p1", "100.00", 1, posted_at=days_ago(2)),
        paid("pay_p2", "200.00", 2),
        paid("pay_p3", "50.00", 3),
    )

    sync_run(db, one_page(lms_loan(LOAN, "900.00", T1, ref(1))))

    assert balances(admin, LOAN) == ("650.00", "0.00")


def test_a_receipt_posted_before_the_window_is_not_taken_off(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """Posted 40 days ago: out of the LMS's 35-day list, but its outstanding reflects it."""
    stream(db, paid("pay_old", "300.00", 1, posted_at=days_ago(40)))
    stream(db, paid("pay_new", "100.00", 2, posted_at=days_ago(29)))

    sync_run(db, one_page(lms_loan(LOAN, "650.00", T1)))

    assert balances(admin, LOAN) == ("550.00", "0.00")  # the 29-day one, not listed: off


def test_a_receipt_posted_before_the_stream_applied_it_is_counted_once(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """Capture, posting, loan sync, and only then the stream (it was behind)."""
    sync_run(db, one_page(lms_loan(LOAN, "700.00", T1, ref(1))))
    assert balances(admin, LOAN) == ("700.00", "0.00")

    stream(db, paid("pay_late", "300.00", 1, posted_at=days_ago(0.1)))

    assert balances(admin, LOAN) == ("700.00", "0.00")
    assert payment_row(admin, "pay_late") == {
        "status": "CAPTURED",
        "version": 2,
        "balance_applied": "300.00",
        "advance_amount": "0.00",
        "balance_restored": "0.00",
        "refunded_amount": "0.00",
    }
    stream(db, paid("pay_late", "300.00", 1, version=3, refunded="100.00"))
    assert balances(admin, LOAN) == ("800.00", "0.00")  # its refund still moves the loan
    sync_run(db, one_page(lms_loan(LOAN, "700.00", T2, ref(1))))  # not yet cancelled at the LMS
    assert balances(admin, LOAN) == ("800.00", "0.00")


def test_a_capture_the_lms_does_not_list_still_moves_the_loan_after_a_sync(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1, ref(9))))

    stream(db, paid("pay_new", "300.00", 1))

    assert balances(admin, LOAN) == ("700.00", "0.00")


def test_a_refunded_payment_counts_what_the_customer_kept(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, paid("pay_full", "300.00", 1, version=3, status="REFUNDED", refunded="300.00"))
    stream(db, paid("pay_part", "400.00", 2, version=3, refunded="100.00"))
    assert balances(admin, LOAN) == ("700.00", "0.00")

    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1)))  # neither posted

    assert balances(admin, LOAN) == ("700.00", "0.00")


def test_a_listed_receipt_refunded_since_adds_the_refund_back(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """The LMS still counts the whole receipt until it is cancelled there."""
    stream(db, paid("pay_r", "400.00", 1, posted_at=days_ago(1)))
    stream(db, paid("pay_r", "400.00", 1, version=3, refunded="100.00"))

    sync_run(db, one_page(lms_loan(LOAN, "600.00", T1, ref(1))))
    assert balances(admin, LOAN) == ("700.00", "0.00")

    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T2)))  # cancelled at the LMS: unlisted
    assert balances(admin, LOAN) == ("700.00", "0.00")


def test_an_excess_becomes_the_advance_and_a_later_refund_takes_it_back(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, paid("pay_big", "500.00", 1))
    assert balances(admin, LOAN) == ("500.00", "0.00")

    sync_run(db, one_page(lms_loan(LOAN, "200.00", T1)))  # the LMS had other receipts

    assert balances(admin, LOAN) == ("0.00", "300.00")
    found = payment_row(admin, "pay_big")
    assert found is not None
    assert (found["balance_applied"], found["advance_amount"]) == ("200.00", "300.00")

    stream(db, paid("pay_big", "500.00", 1, version=3, refunded="300.00"))
    assert balances(admin, LOAN) == ("0.00", "0.00")
    stream(db, paid("pay_big", "500.00", 1, version=4, status="REFUNDED", refunded="500.00"))
    assert balances(admin, LOAN) == ("200.00", "0.00")


def test_an_advance_the_sync_removes_is_no_longer_taken_back_off_the_advance(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    """The stream split 200/800 on a stale outstanding; the LMS says 1000 was owed."""
    admin.execute(
        "UPDATE loan_accounts SET outstanding_balance = 200 WHERE loan_account_number = %s", (LOAN,)
    )
    stream(db, paid("pay_x", "1000.00", 1))
    assert balances(admin, LOAN) == ("0.00", "800.00")

    sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1)))
    assert balances(admin, LOAN) == ("0.00", "0.00")

    stream(db, paid("pay_x", "1000.00", 1, version=3, refunded="800.00"))
    assert balances(admin, LOAN) == ("800.00", "0.00")


def test_the_newest_payments_hold_the_advance(db: Database, admin: psycopg.Connection[Any]) -> None:
    stream(
        db,
        paid("pay_1", "400.00", 1, captured_at="2026-12-01T10:00:00.000Z"),
        paid("pay_2", "400.00", 2, captured_at="2026-12-02T10:00:00.000Z"),
    )

    sync_run(db, one_page(lms_loan(LOAN, "300.00", T1)))

    assert balances(admin, LOAN) == ("0.00", "500.00")
    first, second = payment_row(admin, "pay_1"), payment_row(admin, "pay_2")
    assert first is not None and second is not None
    assert (second["balance_applied"], second["advance_amount"]) == ("0.00", "400.00")
    assert (first["balance_applied"], first["advance_amount"]) == ("300.00", "100.00")
    stream(db, paid("pay_1", "400.00", 1, version=4, status="REFUNDED", refunded="400.00"))
    assert balances(admin, LOAN) == ("300.00", "400.00")


def test_the_lms_advance_on_a_posted_overpayment_is_kept(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    stream(db, paid("pay_over", "1500.00", 1, posted_at=days_ago(1)))
    assert balances(admin, LOAN) == ("0.00", "500.00")

    sync_run(db, one_page(lms_loan(LOAN, "0.00", T1, ref(1), advance="500.00")))

    assert balances(admin, LOAN) == ("0.00", "500.00")
    stream(db, paid("pay_over", "1500.00", 1, version=3, refunded="500.00"))
    assert balances(admin, LOAN) == ("0.00", "0.00")


def test_a_sync_moves_only_its_page_loans(db: Database, admin: psycopg.Connection[Any]) -> None:
    add_loan(admin, OTHER, "5000.00")
    stream(db, paid("pay_o", "100.00", 1, loan=OTHER))

    sync_run(db, one_page(lms_loan(LOAN, "900.00", T1)))

    assert balances(admin, OTHER) == ("4900.00", "0.00")


# --- the stream carries the posting facts -------------------------------------------------


def test_the_posting_facts_reach_payments_and_a_later_image_keeps_them(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    posted = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    stream(db, paid("pay_f", "300.00", 1))
    assert posting_facts(admin, "pay_f") == (None, None)

    stream(db, paid("pay_f", "300.00", 1, posted_at=posted))  # same version: the poster's mark
    assert posting_facts(admin, "pay_f") == ("LMSR0000000001", posted)

    stream(db, paid("pay_f", "300.00", 1, version=3, refunded="100.00"))  # an image without them
    stream(db, paid("pay_f", "300.00", 1))  # a replayed old one
    assert posting_facts(admin, "pay_f") == ("LMSR0000000001", posted)
    found = payment_row(admin, "pay_f")
    assert found is not None
    assert (found["version"], found["refunded_amount"]) == (3, "100.00")
    assert balances(admin, LOAN) == ("800.00", "0.00")


def test_posting_facts_in_one_batch_survive_the_images_around_them(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    posted = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    stream(
        db,
        paid("pay_g", "300.00", 1),
        paid("pay_g", "300.00", 1, posted_at=posted),
        paid("pay_g", "300.00", 1, version=3, refunded="50.00"),
    )

    assert posting_facts(admin, "pay_g") == ("LMSR0000000001", posted)
    assert balances(admin, LOAN) == ("750.00", "0.00")


def test_a_first_image_that_is_already_posted_stores_the_facts(
    db: Database, admin: psycopg.Connection[Any]
) -> None:
    posted = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    stream(db, paid("pay_h", "300.00", 1, posted_at=posted))

    assert posting_facts(admin, "pay_h") == ("LMSR0000000001", posted)
    assert balances(admin, LOAN) == ("700.00", "0.00")


# --- with the stream at the same time -------------------------------------------------------


def test_a_sync_waits_for_the_streams_lock_and_counts_what_it_committed(
    db: Database, engine_db: EngineDb, admin: psycopg.Connection[Any]
) -> None:
    """The stream holds the loan mid-batch; the sync, blocked on the lock, then sees its
    payment (a statement after the lock, so a snapshot after the commit) and subtracts it."""
    from engine.logic.sync import row_from_item

    with psycopg.connect(engine_db.app_url) as streaming:
        with streaming.cursor() as cur:
            payments.sync_payments(cur, [row_from_item(paid("pay_race", "300.00", 1))])
        outcome: list[RunReport | BaseException] = []

        def run() -> None:
            try:
                outcome.append(sync_run(db, one_page(lms_loan(LOAN, "1000.00", T1))))
            except BaseException as exc:  # reported below
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()  # waiting on the stream's lock
        streaming.commit()
        worker.join(timeout=10)

    assert len(outcome) == 1 and isinstance(outcome[0], RunReport)
    assert outcome[0].applied == 1
    assert balances(admin, LOAN) == ("700.00", "0.00")
