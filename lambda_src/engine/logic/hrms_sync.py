"""The nightly HRMS (DarwinBox) sync: the employees the HRMS changed since the last watermark,
carried to the users rows, the staff pool and the audit trail.

**The rules** (`decide`), for the newest version of each employee, when it is newer than the
version applied before (the one the row was last changed from):

* a leaver (EXITED): the users row goes inactive with `exited_at`, then the staff pool user
  is disabled. PostgreSQL comes first: `engine.handlers.internal.staff.authorize` reads
  `is_active` on every request, so the leaver is refused at once, with whatever ID token
  they still hold, even while the pool's call is being retried;
* a transfer (another branch_code): the row moves to the new branch and KEEPS its role,
  which from then on applies to the new branch (a cashier moved is a cashier there; an
  admin changes the role if the move is also a promotion). A move to head office is a null
  branch_code;
* a joiner (no row): a users row with no role, then a pool user in no group; an admin grants
  the role (users:manage). `designation` never grants one;
* a row made by hand (no employee_id) is linked to the employee holding its username, once;
  a username another employee's row holds is skipped (a pool username cannot be shared);
* skipped, counted and never fatal: a branch PostgreSQL does not know (or has closed), an
  ACTIVE employee whose row is inactive (the sync never gives access back: an admin
  reactivates a rehire or a row they deactivated themselves), an employee the HRMS sent
  malformed (engine.clients.hrms_models). A leaver we never had is nothing to do.

**Order and retries.** Each page is applied in one transaction with the sync's cursor
(engine.dal.pg.hrms), and each change that must be carried outside PostgreSQL is recorded in
that same transaction (hrms_changes). The run then carries them: the pool's call (idempotent:
a disabled user disabled again, an existing user not created twice), then the audit entry
(actor `hrms-sync`, the user's branch, details without PII beyond the username), then the
change is marked done. A change that fails is left pending and tried again by a later run
(`RETRY_LATER`), and the others go on: one bad joiner never holds up a leaver. A crash
between the audit entry and the mark repeats the entry on the next try (at least once; the
entry's `change_id` tells a repeat).

**Pages and resumability**, as the loan sync (engine.logic.loan_sync): a run starts from the
saved cursor or the watermark, stops between pages when the time left is short, and raises
on an HRMS or database failure with what it applied kept; the next run resumes from the saved
cursor (a cursor the HRMS refuses is dropped once). A 429 or 503 with a short `Retry-After`
is waited out, a few times, when the time left allows. After the last page the watermark
moves to the newest `updated_at` read minus OVERLAP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine.clients.hrms import HrmsRefused, HrmsUnavailable
from engine.clients.hrms_models import EmployeePage
from engine.dal.pg.hrms import Decide, PageOutcome
from engine.dal.pg.sync_state import SyncState
from engine.logic.watermark_run import WatermarkStore, cursor_droppable, drop_cursor, run_pages
from engine.models.audit import AuditEntry, AuditSink
from engine.models.hrms import (
    SYSTEM_ACTOR,
    Action,
    ChangeNote,
    Decision,
    Employee,
    Move,
    PendingChange,
    PoolAction,
    Skip,
    UserRow,
)
from shared import clock

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
INITIAL_WATERMARK = datetime(1970, 1, 1, tzinfo=UTC)  # the first run reads every employee
PAGE_SIZE = 100
# A page (or a change) is not started with less than this left: an HRMS call's budget (10 s)
# and the page's transaction, with room to spare.
RESERVE_SECONDS = 30.0
CLAIM_LEASE = timedelta(minutes=2)  # a run that died holding a change frees it after this
RETRY_LATER = timedelta(minutes=15)  # longer than a run: a failed change waits for the next
MAX_WAIT_SECONDS = 60  # the longest Retry-After waited out within a run
MAX_WAITS = 3
ENTITY_TYPE = "user"


class EmployeeSource(Protocol):
    def employees_changed_since(
        self, watermark: str, cursor: str | None = None, page_size: int = 100
    ) -> EmployeePage: ...


class SyncStore(WatermarkStore, Protocol):
    def apply_page(
        self,
        expected: SyncState,
        employees: Sequence[Employee],
        decide: Decide,
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome: ...

    def claim(self, now: datetime, lease: timedelta) -> PendingChange | None: ...

    def complete(self, change_id: int, now: datetime) -> None: ...

    def fail(self, change_id: int, error: str, retry_at: datetime) -> None: ...

    def pending(self) -> int: ...


class StaffPool(Protocol):
    def disable(self, username: str) -> bool: ...

    def create(self, username: str, email: str) -> bool: ...


class ChangesNotCarried(Exception):
    """The run finished, but some changes are still to reach the pool or the audit trail."""


# ---------------------------------------------------------------------- the rules


def decide(
    employee: Employee,
    linked: UserRow | None,
    named: UserRow | None,
    branches: frozenset[str],
) -> Decision:
    """What to do with one employee: `linked` is the row holding their employee_id, `named`
    the row holding their username, `branches` the known ones among the page's."""
    if linked is not None:
        return _for_row(employee, linked, False, branches)
    if named is None:
        return _for_newcomer(employee, branches)
    if named.employee_id not in (None, employee.employee_id):
        return _none(employee) if employee.exited else _skip(employee, Skip.USERNAME_TAKEN)
    return _for_row(employee, named, True, branches)


def _for_newcomer(employee: Employee, branches: frozenset[str]) -> Decision:
    if employee.exited:
        return _none(employee)
    if not _known(employee.branch_code, branches):
        return _skip(employee, Skip.UNKNOWN_BRANCH)
    return Decision(Move.CREATE, employee, notes=(_created(employee),))


def _for_row(employee: Employee, user: UserRow, link: bool, branches: frozenset[str]) -> Decision:
    if user.hrms_updated_at is not None and employee.updated_at <= user.hrms_updated_at:
        return _none(employee, user)
    linking = (_note(Action.USER_LINKED, None, user.branch_code, employee),) if link else ()
    if employee.exited:
        return _for_leaver(employee, user, link, linking)
    if not user.is_active:
        return _skip(employee, Skip.INACTIVE, user)
    if employee.branch_code == user.branch_code:
        return Decision(Move.REFRESH, employee, user, link, notes=linking)
    if not _known(employee.branch_code, branches):
        return _skip(employee, Skip.UNKNOWN_BRANCH, user)
    notes = (*linking, _transferred(employee, user))
    return Decision(Move.TRANSFER, employee, user, link, notes=notes)


def _for_leaver(
    employee: Employee, user: UserRow, link: bool, linking: tuple[ChangeNote, ...]
) -> Decision:
    """Off, unless the row is off already with its exit recorded (a repeated exit)."""
    if user.is_active or user.exited_at is None:
        notes = (*linking, _deactivated(employee, user))
        return Decision(Move.DEACTIVATE, employee, user, link, notes=notes)
    return Decision(Move.REFRESH, employee, user, link, notes=linking)


def _known(branch_code: str | None, branches: frozenset[str]) -> bool:
    return branch_code is None or branch_code in branches


def _none(employee: Employee, user: UserRow | None = None) -> Decision:
    return Decision(Move.NONE, employee, user)


def _skip(employee: Employee, why: Skip, user: UserRow | None = None) -> Decision:
    return Decision(Move.SKIP, employee, user, skip=why)


def _note(
    action: Action, pool: PoolAction | None, branch: str | None, employee: Employee, **more: object
) -> ChangeNote:
    details = {"employee_id": employee.employee_id, "username": employee.username, **more}
    return ChangeNote(action, pool, branch, details)


def _created(employee: Employee) -> ChangeNote:
    branch = employee.branch_code
    return _note(Action.USER_CREATED, PoolAction.CREATE, branch, employee, branch_code=branch)


def _deactivated(employee: Employee, user: UserRow) -> ChangeNote:
    exit_date = employee.date_of_exit.isoformat() if employee.date_of_exit else None
    return _note(
        Action.USER_DEACTIVATED,
        PoolAction.DISABLE,
        user.branch_code,
        employee,
        date_of_exit=exit_date,
        role=user.role,
    )


def _transferred(employee: Employee, user: UserRow) -> ChangeNote:
    return _note(
        Action.USER_TRANSFERRED,
        None,
        employee.branch_code,
        employee,
        from_branch=user.branch_code,
        to_branch=employee.branch_code,
        role=user.role,
    )


def entry_for(change: PendingChange) -> AuditEntry:
    """The audit entry of a change, stamped when PostgreSQL made it."""
    return AuditEntry(
        action=change.action.value,
        entity_type=ENTITY_TYPE,
        entity_id=change.user_id,
        actor_id=SYSTEM_ACTOR,
        actor_username=SYSTEM_ACTOR,
        branch_code=change.branch_code,
        at=clock.iso(change.changed_at),
        details={**change.details, "change_id": change.change_id},
    )


# ---------------------------------------------------------------------- a run


@dataclass
class RunReport:
    pages: int = 0
    employees: int = 0  # on the pages applied, each once
    created: int = 0
    deactivated: int = 0
    transferred: int = 0
    unchanged: int = 0
    skipped: int = 0
    linked: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    carried: int = 0  # changes carried to the pool and the audit trail
    carry_failed: int = 0  # left pending, tried again later
    pending: int = 0  # changes still to carry when the run ended
    finished: bool = False  # the last page was applied: the watermark moved
    out_of_time: bool = False
    restarted: bool = False  # the saved cursor was refused; read again from the watermark
    resumed: bool = False  # started from a cursor an earlier run saved
    watermark: str = ""

    def add(self, outcome: PageOutcome, malformed: int) -> None:
        moves = outcome.moves
        self.pages += 1
        self.employees += sum(moves.values())
        self.created += moves[Move.CREATE.value]
        self.deactivated += moves[Move.DEACTIVATE.value]
        self.transferred += moves[Move.TRANSFER.value]
        self.unchanged += moves[Move.REFRESH.value] + moves[Move.NONE.value]
        self.skipped += moves[Move.SKIP.value] + malformed
        self.linked += outcome.linked
        reasons = dict(outcome.skips, malformed=malformed) if malformed else outcome.skips
        for reason, count in reasons.items():
            self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + count

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class HrmsSync:
    def __init__(
        self,
        store: SyncStore,
        source: EmployeeSource,
        pool: StaffPool,
        audit: AuditSink,
        *,
        page_size: int = PAGE_SIZE,
        overlap: timedelta = OVERLAP,
        reserve_seconds: float = RESERVE_SECONDS,
        initial_watermark: datetime = INITIAL_WATERMARK,
        now: Callable[[], datetime] = clock.now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.source = source
        self.pool = pool
        self.audit = audit
        self.page_size = page_size
        self.overlap = overlap
        self.reserve_seconds = reserve_seconds
        self.initial_watermark = initial_watermark
        self.now = now
        self.sleep = sleep

    def run(self, seconds_left: Callable[[], float]) -> RunReport:
        """Changes an earlier run left, then pages until the last one is applied or the time
        left is short, carrying each page's changes after it. Raises what the HRMS or the
        database raised (HrmsError, a database error, StateMoved) after the pages before it
        were applied and their changes carried."""
        report = RunReport()
        try:
            self.carry(report, seconds_left)
            self._pages(report, seconds_left)
        except Exception as exc:
            logger.warning(
                "hrms sync stopped after %d pages: %s",
                report.pages,
                type(exc).__name__,
                extra={"report": report.as_dict()},
            )
            raise
        report.pending = self.store.pending()
        return report

    def _pages(self, report: RunReport, seconds_left: Callable[[], float]) -> None:
        run_pages(
            self.store,
            report,
            initial_watermark=self.initial_watermark,
            now=self.now,
            seconds_left=seconds_left,
            reserve_seconds=self.reserve_seconds,
            read=lambda state: self._read(state, report, seconds_left),
            apply=lambda state, page: self._apply(state, page, report, seconds_left),
        )

    def _apply(
        self,
        state: SyncState,
        page: EmployeePage,
        report: RunReport,
        seconds_left: Callable[[], float],
    ) -> PageOutcome:
        """The page applied with its cursor, then its changes carried."""
        if page.malformed:
            logger.warning(
                "%d employees on the page do not follow the contract: %s",
                len(page.malformed),
                ", ".join(page.malformed),
            )
        outcome = self.store.apply_page(
            state,
            page.employees,
            decide,
            page.next_cursor,
            now=self.now(),
            overlap=self.overlap,
        )
        report.add(outcome, len(page.malformed))
        self.carry(report, seconds_left)
        return outcome

    def _read(
        self, state: SyncState, report: RunReport, seconds_left: Callable[[], float]
    ) -> tuple[SyncState, EmployeePage]:
        """The page at the state's cursor; the state again if the cursor was dropped."""
        waits = 0
        while True:
            watermark = clock.iso(state.watermark)
            try:
                return state, self.source.employees_changed_since(
                    watermark, state.cursor, self.page_size
                )
            except HrmsRefused as refused:
                if not cursor_droppable(state, report):
                    raise
                logger.warning(
                    "the HRMS refused the saved cursor (%s); from the watermark", refused.code
                )
                state = drop_cursor(self.store, state, report)
            except HrmsUnavailable as down:
                wait = down.retry_after
                if (
                    wait is None
                    or wait > MAX_WAIT_SECONDS
                    or waits >= MAX_WAITS
                    or seconds_left() - wait < self.reserve_seconds
                ):
                    raise
                waits += 1
                self.sleep(wait)

    def carry(self, report: RunReport, seconds_left: Callable[[], float]) -> None:
        """Carry pending changes to the pool and the audit trail while time allows."""
        while seconds_left() >= self.reserve_seconds:
            change = self.store.claim(self.now(), CLAIM_LEASE)
            if change is None:
                return
            try:
                self._carry_one(change)
            except Exception as exc:  # one change must not hold up the others
                logger.warning(
                    "hrms change %d not carried (%s); tried again later",
                    change.change_id,
                    type(exc).__name__,
                )
                self.store.fail(change.change_id, type(exc).__name__, self.now() + RETRY_LATER)
                report.carry_failed += 1
                continue
            self.store.complete(change.change_id, self.now())
            report.carried += 1

    def _carry_one(self, change: PendingChange) -> None:
        if change.pool_action is PoolAction.DISABLE:
            self.pool.disable(change.username)
        elif change.pool_action is PoolAction.CREATE:
            self.pool.create(change.username, change.email)
        self.audit.append(entry_for(change))
