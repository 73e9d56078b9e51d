"""The HRMS sync's rules (engine.logic.hrms_sync.decide) and its run: what is done with each
employee, the order of the pool and the audit trail, a failed change left for later, the
HRMS's Retry-After waited out or not, a refused cursor dropped once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engine.clients.hrms import HrmsRefused, HrmsUnavailable
from engine.clients.hrms_models import EmployeePage
from engine.dal.pg.hrms import Decide, PageOutcome
from engine.dal.pg.loan_sync import SyncState
from engine.logic.hrms_sync import RETRY_LATER, HrmsSync, decide
from engine.models.audit import AuditEntry
from engine.models.hrms import (
    Action,
    Employee,
    EmployeeStatus,
    Move,
    PendingChange,
    PoolAction,
    Skip,
    UserRow,
)

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
BEFORE = datetime(2026, 12, 1, tzinfo=UTC)
BRANCHES = frozenset({"BR001", "BR002"})


def employee(**changes: Any) -> Employee:
    base = Employee(
        employee_id="FS1001",
        username="cashier.br001",
        official_email="cashier.br001@staff.example.com",
        status=EmployeeStatus.ACTIVE,
        date_of_exit=None,
        branch_code="BR001",
        designation="Branch Cashier",
        updated_at=NOW - timedelta(hours=1),
    )
    return replace(base, **changes)


def exited(**changes: Any) -> Employee:
    return employee(status=EmployeeStatus.EXITED, date_of_exit=date(2026, 12, 3), **changes)


def row(**changes: Any) -> UserRow:
    base = UserRow(
        user_id="0b6f1d52-0000-4000-8000-000000000001",
        username="cashier.br001",
        employee_id="FS1001",
        branch_code="BR001",
        is_active=True,
        exited_at=None,
        hrms_updated_at=BEFORE,
        role="BranchCashier",
    )
    return replace(base, **changes)


# --------------------------------------------------------------------------- the rules


def test_a_joiner_gets_a_row_and_a_pool_user_and_nothing_else() -> None:
    decision = decide(employee(), None, None, BRANCHES)

    assert decision.move is Move.CREATE
    (note,) = decision.notes
    assert (note.action, note.pool_action, note.branch_code) == (
        Action.USER_CREATED,
        PoolAction.CREATE,
        "BR001",
    )
    assert note.details == {
        "employee_id": "FS1001",
        "username": "cashier.br001",
        "branch_code": "BR001",
    }
    assert decide(employee(branch_code=None), None, None, BRANCHES).move is Move.CREATE


def test_a_joiner_at_a_branch_we_do_not_know_is_skipped() -> None:
    decision = decide(employee(branch_code="ZZ999"), None, None, BRANCHES)

    assert (decision.move, decision.skip, decision.notes) == (Move.SKIP, Skip.UNKNOWN_BRANCH, ())


def test_a_leaver_loses_the_row_first_then_the_pool_user() -> None:
    decision = decide(exited(), row(), row(), BRANCHES)

    assert (decision.move, decision.link) == (Move.DEACTIVATE, False)
    (note,) = decision.notes
    assert (note.action, note.pool_action, note.branch_code) == (
        Action.USER_DEACTIVATED,
        PoolAction.DISABLE,
        "BR001",
    )
    assert note.details["date_of_exit"] == "2026-12-03"
    assert note.details["role"] == "BranchCashier"
    assert "cashier.br001@staff.example.com" not in repr(note.details)


def test_a_row_an_admin_switched_off_is_still_disabled_in_the_pool_on_exit() -> None:
    off_by_hand = row(is_active=False)
    assert decide(exited(), off_by_hand, off_by_hand, BRANCHES).move is Move.DEACTIVATE
    already_exited = row(is_active=False, exited_at=BEFORE)
    repeat = decide(exited(), already_exited, already_exited, BRANCHES)
    assert (repeat.move, repeat.notes) == (Move.REFRESH, ())


def test_a_leaver_we_never_had_is_nothing_to_do() -> None:
    assert decide(exited(), None, None, BRANCHES).move is Move.NONE


def test_a_version_applied_before_changes_nothing() -> None:
    applied = row(hrms_updated_at=NOW)
    for version in (exited(updated_at=NOW), employee(updated_at=NOW, branch_code="BR002")):
        assert decide(version, applied, applied, BRANCHES).move is Move.NONE


def test_a_transfer_moves_the_row_and_keeps_the_role() -> None:
    decision = decide(employee(branch_code="BR002"), row(), row(), BRANCHES)

    assert decision.move is Move.TRANSFER
    (note,) = decision.notes
    assert (note.action, note.pool_action, note.branch_code) == (
        Action.USER_TRANSFERRED,
        None,
        "BR002",
    )
    assert (note.details["from_branch"], note.details["to_branch"]) == ("BR001", "BR002")
    assert note.details["role"] == "BranchCashier"
    to_head_office = decide(employee(branch_code=None), row(), row(), BRANCHES)
    assert to_head_office.move is Move.TRANSFER


def test_a_transfer_to_a_branch_we_do_not_know_is_skipped() -> None:
    decision = decide(employee(branch_code="ZZ999"), row(), row(), BRANCHES)

    assert (decision.move, decision.skip) == (Move.SKIP, Skip.UNKNOWN_BRANCH)


def test_the_sync_never_gives_access_back() -> None:
    rehired = row(is_active=False, exited_at=BEFORE)
    decision = decide(employee(), rehired, rehired, BRANCHES)

    assert (decision.move, decision.skip) == (Move.SKIP, Skip.INACTIVE)


def test_a_row_made_by_hand_is_linked_by_username_once() -> None:
    by_hand = row(employee_id=None)
    same = decide(employee(), None, by_hand, BRANCHES)
    assert (same.move, same.link) == (Move.REFRESH, True)
    assert [n.action for n in same.notes] == [Action.USER_LINKED]

    leaving = decide(exited(), None, by_hand, BRANCHES)
    assert (leaving.move, leaving.link) == (Move.DEACTIVATE, True)
    assert [n.action for n in leaving.notes] == [Action.USER_LINKED, Action.USER_DEACTIVATED]


def test_a_username_another_employee_holds_is_not_taken_over() -> None:
    someone_else = row(employee_id="FS9999")
    decision = decide(employee(), None, someone_else, BRANCHES)
    assert (decision.move, decision.skip) == (Move.SKIP, Skip.USERNAME_TAKEN)
    assert decide(exited(), None, someone_else, BRANCHES).move is Move.NONE


def test_designation_never_grants_a_role() -> None:
    promoted = decide(employee(designation="Regional Head"), row(), row(), BRANCHES)
    assert (promoted.move, promoted.notes) == (Move.REFRESH, ())


# --------------------------------------------------------------------------- a run


def change(change_id: int, pool: PoolAction | None = PoolAction.DISABLE) -> PendingChange:
    return PendingChange(
        change_id=change_id,
        user_id=f"user-{change_id}",
        username=f"staff{change_id}.br001",
        email=f"staff{change_id}.br001@staff.example.com",
        action=Action.USER_DEACTIVATED if pool is PoolAction.DISABLE else Action.USER_CREATED,
        pool_action=pool,
        branch_code="BR001",
        details={"employee_id": f"FS{change_id}"},
        changed_at=BEFORE,
        attempts=1,
    )


@dataclass
class FakeStore:
    cursor: str | None = None
    pending_changes: list[PendingChange] = field(default_factory=list)
    pages: list[tuple[str | None, int]] = field(default_factory=list)  # (cursor, employees)
    done: list[int] = field(default_factory=list)
    failed: list[tuple[int, str, datetime]] = field(default_factory=list)
    restarts: int = 0

    def state(self) -> SyncState:
        return SyncState("hrms_employees", BEFORE, self.cursor, None, NOW, 0, None)

    def start(self, initial_watermark: datetime, now: datetime) -> SyncState:
        return self.state()

    def restart(self, expected: SyncState) -> SyncState:
        self.restarts += 1
        self.cursor = None
        return self.state()

    def apply_page(
        self,
        expected: SyncState,
        employees: Sequence[Employee],
        decide: Decide,
        next_cursor: str | None,
        *,
        now: datetime,
        overlap: timedelta,
    ) -> PageOutcome:
        self.pages.append((expected.cursor, len(employees)))
        self.cursor = next_cursor
        moves = Counter(decide(e, None, None, BRANCHES).move.value for e in employees)
        return PageOutcome(self.state(), moves, finished=next_cursor is None)

    def claim(self, now: datetime, lease: timedelta) -> PendingChange | None:
        return self.pending_changes.pop(0) if self.pending_changes else None

    def complete(self, change_id: int, now: datetime) -> None:
        self.done.append(change_id)

    def fail(self, change_id: int, error: str, retry_at: datetime) -> None:
        self.failed.append((change_id, error, retry_at))

    def pending(self) -> int:
        return len(self.failed)


@dataclass
class Recorder:
    """The staff pool and the audit trail, recording the order of their calls."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # usernames the pool fails for
    entries: list[AuditEntry] = field(default_factory=list)

    def disable(self, username: str) -> bool:
        if username in self.refuse:
            raise RuntimeError("Cognito throttled")
        self.calls.append(("disable", username))
        return True

    def create(self, username: str, email: str) -> bool:
        self.calls.append(("create", username))
        return True

    def append(self, entry: AuditEntry) -> Any:
        self.calls.append(("audit", entry.action))
        self.entries.append(entry)
        return None


@dataclass
class Pages:
    """An HRMS that answers the scripted pages (or raises the scripted errors) in turn."""

    script: list[EmployeePage | Exception]
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def employees_changed_since(
        self, watermark: str, cursor: str | None = None, page_size: int = 100
    ) -> EmployeePage:
        self.asked.append((watermark, cursor))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def sync(store: FakeStore, source: Pages, recorder: Recorder, sleeps: list[float]) -> HrmsSync:
    return HrmsSync(store, source, recorder, recorder, now=lambda: NOW, sleep=sleeps.append)


def test_each_change_reaches_the_pool_before_the_audit_trail() -> None:
    store = FakeStore(pending_changes=[change(1), change(2, PoolAction.CREATE)])
    recorder = Recorder()

    report = sync(store, Pages([EmployeePage((), None)]), recorder, []).run(lambda: 600.0)

    assert recorder.calls == [
        ("disable", "staff1.br001"),
        ("audit", "USER_DEACTIVATED"),
        ("create", "staff2.br001"),
        ("audit", "USER_CREATED"),
    ]
    assert (store.done, report.carried, report.finished) == ([1, 2], 2, True)
    entry = recorder.entries[0]
    assert (entry.actor_id, entry.entity_type, entry.entity_id) == ("hrms-sync", "user", "user-1")
    assert entry.at == "2026-12-01T00:00:00.000Z"  # when PostgreSQL changed, not when carried
    assert entry.details == {"employee_id": "FS1", "change_id": 1}


def test_a_change_that_fails_waits_and_the_others_go_on() -> None:
    store = FakeStore(pending_changes=[change(1), change(2)])
    recorder = Recorder(refuse={"staff1.br001"})

    report = sync(store, Pages([EmployeePage((), None)]), recorder, []).run(lambda: 600.0)

    assert store.failed == [(1, "RuntimeError", NOW + RETRY_LATER)]
    assert store.done == [2]
    assert (report.carried, report.carry_failed, report.pending) == (1, 1, 1)
    assert ("audit", "USER_DEACTIVATED") in recorder.calls  # change 2's entry only
    assert len(recorder.entries) == 1


def test_a_short_retry_after_is_waited_out() -> None:
    store = FakeStore()
    source = Pages(
        [HrmsUnavailable("429", retry_after=2, status=429), EmployeePage((employee(),), None)]
    )
    sleeps: list[float] = []

    report = sync(store, source, Recorder(), sleeps).run(lambda: 600.0)

    assert sleeps == [2]
    assert (report.finished, report.created, store.pages) == (True, 1, [(None, 1)])


@pytest.mark.parametrize(
    ("error", "seconds_left"),
    [
        (HrmsUnavailable("503"), 600.0),  # no Retry-After: the run fails now
        (HrmsUnavailable("429", retry_after=120, status=429), 600.0),  # longer than we wait
        (HrmsUnavailable("429", retry_after=20, status=429), 40.0),  # longer than time left
    ],
)
def test_the_hrms_unavailable_fails_the_run_before_any_page(
    error: HrmsUnavailable, seconds_left: float
) -> None:
    store = FakeStore()
    sleeps: list[float] = []

    with pytest.raises(HrmsUnavailable):
        sync(store, Pages([error]), Recorder(), sleeps).run(lambda: seconds_left)

    assert (store.pages, sleeps) == ([], [])


def test_a_refused_cursor_is_dropped_once_and_read_from_the_watermark() -> None:
    store = FakeStore(cursor="expired")
    refused = HrmsRefused(400, "VALIDATION_FAILED", "cursor is not one this API gave")
    source = Pages([refused, EmployeePage((employee(),), None)])

    report = sync(store, source, Recorder(), []).run(lambda: 600.0)

    assert (report.resumed, report.restarted, report.finished) == (True, True, True)
    assert [cursor for _, cursor in source.asked] == ["expired", None]
    assert store.restarts == 1

    again = FakeStore(cursor="expired")
    with pytest.raises(HrmsRefused):
        sync(again, Pages([refused, refused]), Recorder(), []).run(lambda: 600.0)


def test_a_run_short_of_time_stops_between_pages() -> None:
    store = FakeStore()
    source = Pages([EmployeePage((employee(),), "next"), EmployeePage((), None)])
    left = iter([600.0, 600.0, 600.0, 10.0, 10.0])

    report = sync(store, source, Recorder(), []).run(lambda: next(left))

    assert (report.pages, report.finished, report.out_of_time) == (1, False, True)
    assert store.cursor == "next"


def test_malformed_employees_are_counted_as_skipped() -> None:
    page = EmployeePage((employee(),), None, malformed=("FS0002", "?"))

    report = sync(FakeStore(), Pages([page]), Recorder(), []).run(lambda: 600.0)

    assert (report.created, report.skipped) == (1, 2)
    assert report.skipped_reasons == {"malformed": 2}
