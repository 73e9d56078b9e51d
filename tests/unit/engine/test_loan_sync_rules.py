"""The loan sync's rules without a database: what the stream reads of the posting facts, which
LMS loans PostgreSQL can hold, and how a run pages, stops and fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.clients.lms_errors import LmsRefused, LmsUnavailable
from engine.clients.lms_models import LmsLoan, LoanPage
from engine.dal.pg.loan_sync import LoanVersion, PageOutcome, StateMoved, SyncState
from engine.dal.pg.payments import latest_per_payment
from engine.logic.loan_sync import LoanSync, version_of
from engine.logic.sync import MalformedRecord, row_from_item
from tests.transactions_support import item

POSTED = "2026-12-03T07:00:00.000Z"
START = datetime(2026, 12, 1, tzinfo=UTC)


def posted_item(**extra: Any) -> dict[str, Any]:
    return item("pay_u1", "LN0000000001", "300.00", "CAPTURED", 2) | extra


def loan(status: str = "ACTIVE", emi: str = "12500.00") -> LmsLoan:
    return LmsLoan(
        loan_account_number="LN0000000001",
        status=status,
        outstanding_amount=Decimal("1000.00"),
        emi_amount=Decimal(emi),
        next_due_date=date(2027, 1, 5),
        overdue_amount=Decimal("0.00"),
        days_past_due=0,
        updated_at="2026-12-04T01:00:00Z",
        recent_receipt_references=("BR001/2026-27/000001",),
        advance_amount=Decimal("5.00"),
    )


# --- the stream's row -----------------------------------------------------------------------


def test_a_posted_item_carries_its_posting_facts() -> None:
    row = row_from_item(posted_item(lms_receipt_id="LMSR0000000001", lms_posted_at=POSTED))

    assert row.lms_receipt_id == "LMSR0000000001"
    assert row.lms_posted_at == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    assert (
        row_from_item(posted_item()).lms_receipt_id,
        row_from_item(posted_item()).lms_posted_at,
    ) == (
        None,
        None,
    )


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param({"lms_posted_at": "yesterday"}, "lms_posted_at", id="posted-at-not-a-time"),
        pytest.param({"lms_posted_at": "2026-12-03T07:00:00"}, "lms_posted_at", id="no-zone"),
        pytest.param({"lms_receipt_id": 17}, "lms_receipt_id", id="receipt-id-not-text"),
    ],
)
def test_malformed_posting_facts_fail_the_record(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedRecord, match=field):
        row_from_item(posted_item(**extra))


def test_one_batch_keeps_the_posting_facts_of_any_image() -> None:
    plain = row_from_item(posted_item())
    marked = row_from_item(posted_item(lms_receipt_id="LMSR0000000001", lms_posted_at=POSTED))
    refunded = replace(plain, version=3, refunded_amount=Decimal("100.00"))

    # The poster's mark has the same version as the image before it: the later one wins.
    assert latest_per_payment([plain, marked]) == [marked]
    # A newer image without the facts keeps them and stays the newer image.
    (kept,) = latest_per_payment([marked, refunded])
    assert (kept.version, kept.refunded_amount) == (3, Decimal("100.00"))
    assert (kept.lms_receipt_id, kept.lms_posted_at) == (
        marked.lms_receipt_id,
        marked.lms_posted_at,
    )
    # An older image after a newer one changes nothing but adds what it knows.
    (late,) = latest_per_payment([refunded, marked])
    assert (late.version, late.lms_receipt_id) == (3, "LMSR0000000001")


# --- what PostgreSQL can hold ---------------------------------------------------------------


def test_an_lms_loan_becomes_a_version_with_every_field() -> None:
    assert version_of(loan()) == LoanVersion(
        loan_account_number="LN0000000001",
        status="ACTIVE",
        outstanding=Decimal("1000.00"),
        emi=Decimal("12500.00"),
        next_due_date=date(2027, 1, 5),
        overdue=Decimal("0.00"),
        days_past_due=0,
        updated_at="2026-12-04T01:00:00Z",
        receipt_references=("BR001/2026-27/000001",),
        advance=Decimal("5.00"),
    )


@pytest.mark.parametrize(
    "refused",
    [loan(status="SUSPENDED"), loan(emi="100000000.00"), replace(loan(), days_past_due=2**31)],
    ids=["unknown-status", "emi-beyond-its-column", "days-beyond-integer"],
)
def test_a_loan_postgres_cannot_hold_is_refused(refused: LmsLoan) -> None:
    assert version_of(refused) is None


# --- the run --------------------------------------------------------------------------------


class FakeStore:
    def __init__(self, cursor: str | None = None, moved: bool = False) -> None:
        self.state = SyncState("lms_loans", START, cursor, None, START, 0, None)
        self.moved = moved
        self.pages: list[tuple[list[LoanVersion], str | None]] = []
        self.restarts = 0

    def start(self, initial_watermark: datetime, now: datetime) -> SyncState:
        return self.state

    def restart(self, expected: SyncState) -> SyncState:
        self.restarts += 1
        self.state = replace(expected, cursor=None)
        return self.state

    def apply_page(
        self,
        expected: SyncState,
        versions: Sequence[LoanVersion],
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome:
        if self.moved:
            raise StateMoved("moved")
        self.pages.append((list(versions), next_cursor))
        self.state = replace(expected, cursor=next_cursor)
        n = len(versions)
        return PageOutcome(self.state, n, n, 0, 0, 0, next_cursor is None)


class Source:
    def __init__(self, *answers: LoanPage | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str | None]] = []

    def loans_changed_since(
        self, watermark: str, cursor: str | None = None, limit: int = 100
    ) -> LoanPage:
        self.calls.append((watermark, cursor))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_run_short_of_time_asks_the_lms_for_nothing() -> None:
    source = Source()
    report = LoanSync(FakeStore(), source).run(lambda: 29.0)

    assert (report.out_of_time, report.pages, source.calls) == (True, 0, [])


def test_a_run_raises_what_the_lms_raised_and_applies_nothing_more() -> None:
    store = FakeStore()
    source = Source(LoanPage((loan(),), "c1"), LmsUnavailable("down"))

    with pytest.raises(LmsUnavailable):
        LoanSync(store, source).run(lambda: 900.0)
    assert [cursor for _, cursor in store.pages] == ["c1"]


def test_a_run_another_overtook_stops() -> None:
    with pytest.raises(StateMoved):
        LoanSync(FakeStore(moved=True), Source(LoanPage((), None))).run(lambda: 900.0)


def test_a_cursor_refused_again_after_the_restart_is_raised() -> None:
    refused = LmsRefused(400, "VALIDATION_FAILED", "bad cursor")
    store = FakeStore(cursor="old")
    source = Source(refused, LoanPage((), "c2"), refused)

    with pytest.raises(LmsRefused):
        LoanSync(store, source).run(lambda: 900.0)
    assert store.restarts == 1
    assert [c for _, c in source.calls] == ["old", None, "c2"]


def test_refused_loans_are_counted_and_the_rest_applied() -> None:
    store = FakeStore()
    report = LoanSync(store, Source(LoanPage((loan(), loan(status="SOLD")), None))).run(
        lambda: 900.0
    )

    assert (report.refused, report.applied, report.finished) == (1, 1, True)
    assert [len(versions) for versions, _ in store.pages] == [1]
    assert report.watermark == "2026-12-01T00:00:00.000Z"  # the call used the saved one
