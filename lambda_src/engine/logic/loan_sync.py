"""The nightly loan master sync (seed §6.4.2): the loans the LMS changed since the last
watermark, imported into PostgreSQL (outstanding, EMI, next due date, overdue amount, days
past due, status), idempotently, a page at a time, resumable after a failure.

**Combining the LMS's outstanding with the engine's receipts.** The LMS's outstanding reflects
the receipts in the loan's `recent_receipt_references` (and older ones); PostgreSQL's
outstanding already has off every captured payment the Transactions stream applied. So, per
loan, over the payments the stream has taken into account (`balance_applied + advance_amount
> 0`), with net = `balance_applied + advance_amount - balance_restored`:

    pending = sum of  net               for a payment whose receipt is not in the list and is
                                         not known to be posted long ago (`lms_posted_at` is
                                         NULL or within 30 days: shorter than the list's 35
                                         days, so a receipt never falls between the two);
              minus   balance_restored  for a payment whose receipt is in the list: the LMS
                                         still counts the whole receipt (until it cancels it,
                                         when it leaves the list), the customer got that back;
    owed = lms outstanding - lms advance_amount - pending
    outstanding_balance = max(0, owed);  advance_balance = max(0, -owed)

so the engine's outstanding is `max(0, lms outstanding - pending)` and what `pending` has
beyond it is the loan's advance (on top of any advance the LMS holds). A receipt is counted
once whatever the order of capture, stream sync, posting and loan sync: before posting it is
pending (unlisted); after, the LMS's outstanding has it (listed, or posted over 30 days ago);
and a capture the stream first applies after a loan version that already lists it moves the
loan no further (engine.dal.pg.payments).

**The advance and later refunds.** The stream takes a refund back off the refunded payment's
`advance_amount` first (capped by the loan's advance), the rest onto the outstanding. So that
this stays right after a sync, the sync re-divides each of the loan's payments between
`balance_applied` and `advance_amount` (their sum stays the amount): the newest payments hold
the loan's new advance, each up to its net, the others none.

**Pages and resumability.** State is one `lms_sync_state` row. A run starts from the saved
cursor (a run in progress) or the watermark; each page is applied, and the cursor for the next
saved, in one transaction (engine.dal.pg.loan_sync). A run stops between pages when the time
left is short, or raises on an LMS or database failure: what it applied stays applied, and
the next run resumes from the saved cursor (a cursor the LMS refuses is dropped once, and the
run reads again from the watermark: re-applying is harmless). After the last page the
watermark moves to the newest `updated_at` read minus OVERLAP (a change the LMS committed late
is not skipped) and the cursor is cleared. A version is applied only when newer than the one
applied before, so re-reading changes nothing. Loans PostgreSQL does not know are counted
`unknown` and skipped (creating one needs the customer and branch master); loans PostgreSQL
cannot hold (an unknown status, an amount too large for its column) are counted `refused`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from engine.clients.lms_errors import LmsRefused
from engine.clients.lms_models import LmsLoan, LoanPage
from engine.dal.pg.loan_sync import LoanVersion, PageOutcome, SyncState
from engine.logic.watermark_run import WatermarkStore, cursor_droppable, drop_cursor, run_pages
from shared import clock

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
# The first run reads every loan the LMS has.
INITIAL_WATERMARK = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 200
# A page is not started with less than this left: an LMS call's budget (10 s) and the page's
# transaction (a few seconds at most), with room to spare.
RESERVE_SECONDS = 30.0

LOAN_STATUSES = frozenset({"ACTIVE", "NPA", "CLOSED", "FORECLOSED", "WRITTEN_OFF"})
EMI_MAX = Decimal("99999999.99")  # loan_accounts.emi_amount is DECIMAL(10, 2)
DAYS_MAX = 2**31 - 1


class PageSource(Protocol):
    def loans_changed_since(
        self, watermark: str, cursor: str | None = None, limit: int = 100
    ) -> LoanPage: ...


class SyncStore(WatermarkStore, Protocol):
    def apply_page(
        self,
        expected: SyncState,
        versions: Sequence[LoanVersion],
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome: ...


@dataclass
class RunReport:
    pages: int = 0
    loans: int = 0  # distinct loans on the pages applied
    applied: int = 0
    stale: int = 0
    unknown: int = 0
    refused: int = 0
    redivided: int = 0  # payments whose applied/advance division moved
    finished: bool = False  # the last page was applied: the watermark moved
    out_of_time: bool = False
    restarted: bool = False  # the saved cursor was refused; read again from the watermark
    resumed: bool = False  # started from a cursor an earlier run saved
    watermark: str = ""

    def add(self, page: PageOutcome) -> None:
        self.pages += 1
        self.loans += page.loans
        self.applied += page.applied
        self.stale += page.stale
        self.unknown += page.unknown
        self.redivided += page.redivided

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def version_of(loan: LmsLoan) -> LoanVersion | None:
    """The LMS loan as PostgreSQL stores it; None when its columns cannot hold it."""
    if (
        loan.status not in LOAN_STATUSES
        or loan.emi_amount > EMI_MAX
        or loan.days_past_due > DAYS_MAX
    ):
        return None
    return LoanVersion(
        loan_account_number=loan.loan_account_number,
        status=loan.status,
        outstanding=loan.outstanding_amount,
        emi=loan.emi_amount,
        next_due_date=loan.next_due_date,
        overdue=loan.overdue_amount,
        days_past_due=loan.days_past_due,
        updated_at=loan.updated_at,
        receipt_references=tuple(loan.recent_receipt_references),
        advance=loan.advance_amount,
    )


class LoanSync:
    def __init__(
        self,
        store: SyncStore,
        source: PageSource,
        *,
        page_size: int = PAGE_SIZE,
        overlap: timedelta = OVERLAP,
        reserve_seconds: float = RESERVE_SECONDS,
        initial_watermark: datetime = INITIAL_WATERMARK,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.store = store
        self.source = source
        self.page_size = page_size
        self.overlap = overlap
        self.reserve_seconds = reserve_seconds
        self.initial_watermark = initial_watermark
        self.now = now

    def run(self, seconds_left: Callable[[], float]) -> RunReport:
        """Pages until the last one is applied or the time left is short. Raises what the LMS
        or the database raised (LmsError, a database error, StateMoved) after the pages
        before it were applied and saved."""
        report = RunReport()
        run_pages(
            self.store,
            report,
            initial_watermark=self.initial_watermark,
            now=self.now,
            seconds_left=seconds_left,
            reserve_seconds=self.reserve_seconds,
            read=lambda state: self._read(state, report),
            apply=lambda state, page: self._apply(state, page, report),
        )
        return report

    def _read(self, state: SyncState, report: RunReport) -> tuple[SyncState, LoanPage | None]:
        """The page at the state's cursor; no page, and the state again, if it was dropped."""
        try:
            return state, self.source.loans_changed_since(
                report.watermark, state.cursor, self.page_size
            )
        except LmsRefused as refused:
            if not cursor_droppable(state, report):
                self._log_stop(report, refused)
                raise
            # An expired or unknown cursor: read again from the watermark, once.
            logger.warning(
                "the LMS refused the saved cursor (%s); reading again from the watermark",
                refused.code,
            )
            return drop_cursor(self.store, state, report), None
        except Exception as exc:
            self._log_stop(report, exc)
            raise

    def _apply(self, state: SyncState, page: LoanPage, report: RunReport) -> PageOutcome:
        versions = [v for v in map(version_of, page.items) if v is not None]
        if len(versions) < len(page.items):
            # Which loans is not logged (no customer data in logs): the count alarms.
            logger.warning(
                "%d loans on the page cannot be stored (status or amounts out of range)",
                len(page.items) - len(versions),
            )
            report.refused += len(page.items) - len(versions)
        try:
            outcome = self.store.apply_page(
                state, versions, page.next_cursor, now=self.now(), overlap=self.overlap
            )
        except Exception as exc:
            self._log_stop(report, exc)
            raise
        report.add(outcome)
        return outcome

    @staticmethod
    def _log_stop(report: RunReport, exc: BaseException) -> None:
        logger.warning(
            "loan sync stopped after %d pages: %s",
            report.pages,
            type(exc).__name__,
            extra={"report": report.as_dict()},
        )
