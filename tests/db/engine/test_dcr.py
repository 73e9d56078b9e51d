"""The DCR on a real PostgreSQL, as engine_app: totals summed from the day's collections (the
cancelled left out), the count and its variance, maker-checker, idempotent repeats, two
submits at once, reject and reopen, the day locked once approved, the settling of an audit
record that failed, and the constraints of migration 0012 behind all of it."""

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
from psycopg import errors

from engine.dal.pg.business_day import DayClosed
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.dcr import DcrStore
from engine.logic.dcr import SETTLE_AFTER, DcrService
from engine.models.audit import Actor, AuditEntry
from engine.models.dcr import DcrKey, SubmitDcrRequest, Totals, UnknownBranch, dcr_view
from engine.models.status import DcrStatus
from shared import clock
from shared.http import ApiError, Conflict, Forbidden, ServiceUnavailable, Unprocessable
from tests.dcr_support import cancel, collect, insert_unlocked, seed_staff, today_ist
from tests.engine_pg import EngineDb

S = DcrStatus
NOTES = {500: 2, 200: 1, 100: 2, 50: 1, 20: 1, 10: 1}  # ₹1,480


class Recorder:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.fail = False

    def append(self, entry: AuditEntry) -> Any:
        if self.fail:
            raise ServiceUnavailable("the audit trail is down")
        self.entries.append(entry)
        return entry

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


@dataclass
class Env:
    pg: EngineDb
    db: Database
    admin: psycopg.Connection[Any]
    ids: dict[str, str]
    audit: Recorder
    service: DcrService

    def actor(self, username: str) -> Actor:
        return Actor(self.ids[username], None, username)

    def collect(self, day: date, amount: str, **kw: Any) -> Any:
        return collect(self.db, self.ids["cashier.br001"], "BR001", day, amount, **kw)

    def submit(self, day: date, coins: int = 20, by: str = "cashier.br001", **kw: Any) -> Any:
        cmd = SubmitDcrRequest(dict(NOTES), coins, kw.pop("reason", None))
        return self.service.submit(DcrKey(kw.pop("branch", "BR001"), day), cmd, self.actor(by))

    def approve(self, day: date, by: str = "manager.br001") -> Any:
        return self.service.approve(DcrKey("BR001", day), self.actor(by))

    def dbs(self, day: date) -> dict[Decimal, int]:
        rows = self.admin.execute(
            "SELECT e.denomination, e.count FROM dbs_entries e JOIN dcr_sessions d USING (dcr_id)"
            " WHERE d.branch_code = 'BR001' AND d.collection_date = %s",
            (day,),
        ).fetchall()
        return dict(rows)


@pytest.fixture
def env(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("DATABASE_URL", engine_db.app_url)
    db = Database(lambda: connect_engine("engine-dcr-test", 5000))
    with engine_db.admin() as admin:
        audit = Recorder()
        service = DcrService(DcrStore(db), audit)
        yield Env(engine_db, db, admin, seed_staff(admin), audit, service)
    db.close_all()


DAY = today_ist() - timedelta(days=2)


def refusal(act: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        act()
    return info.value


def test_totals_are_the_days_collections_by_purpose_channel_and_mode(env: Env) -> None:
    env.collect(DAY, "1000.00", channel="FIELD")
    env.collect(DAY, "5000.00", mode="CHEQUE")
    env.collect(DAY, "500.00", purpose="LEGAL_FEE", channel="FIELD")
    env.collect(DAY, "300.00", purpose="OTHER_FEE", mode="DEMAND_DRAFT")
    env.collect(DAY, "200.00", purpose="CHALLAN")
    wrong = env.collect(DAY, "700.00")
    cancel(env.db, env.ids["manager.br001"], wrong.collection_id)
    env.collect(DAY - timedelta(days=1), "900.00")  # another day
    collect(env.db, env.ids["cashier.br002"], "BR002", DAY, "800.00")  # another branch

    live = env.service.read(DcrKey("BR001", DAY)).live

    assert live == Totals(
        field_collections=Decimal("1000.00"),
        branch_collections=Decimal("5000.00"),
        legal_fees=Decimal("500.00"),
        other_fees=Decimal("300.00"),
        challans=Decimal("200.00"),
        cash_collected=Decimal("1700.00"),
        cheque_collected=Decimal("5300.00"),
    )
    assert live.closing_balance == Decimal("1700.00")


def test_a_day_without_a_row_reads_as_an_empty_draft_and_stays_without_one(env: Env) -> None:
    snapshot = env.service.read(DcrKey("BR001", DAY))

    assert (snapshot.dcr.status, snapshot.dcr.dcr_id, snapshot.live) == (S.DRAFT, None, Totals())
    assert env.admin.execute("SELECT count(*) FROM dcr_sessions").fetchone() == (0,)
    with pytest.raises(UnknownBranch):
        env.service.read(DcrKey("BR999", DAY))
    with pytest.raises(UnknownBranch):
        env.submit(DAY, branch="BR999")


def test_a_count_that_matches_submits_with_its_dbs(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.collect(DAY, "2500.00", mode="CHEQUE")

    dcr = env.submit(DAY, coins=20).dcr

    assert dcr.status is S.SUBMITTED and dcr.submitted_by == env.ids["cashier.br001"]
    assert (dcr.counted_cash, dcr.variance_amount, dcr.variance_reason) == (
        Decimal("1500.00"),
        Decimal("0.00"),
        None,
    )
    assert dcr.totals.cheque_collected == Decimal("2500.00")
    assert env.dbs(DAY) == {Decimal(n): c for n, c in NOTES.items()} | {Decimal(1): 20}
    assert env.audit.actions == ["DCR_SUBMITTED"]


def test_a_count_that_differs_needs_a_reason_and_is_kept_with_it(env: Env) -> None:
    env.collect(DAY, "1600.00")

    error = refusal(lambda: env.submit(DAY, coins=20))
    assert isinstance(error, Unprocessable) and error.code == "VARIANCE_REASON_REQUIRED"
    assert env.service.read(DcrKey("BR001", DAY)).dcr.status is S.DRAFT
    assert env.dbs(DAY) == {} and env.audit.actions == []

    dcr = env.submit(DAY, coins=20, reason="₹100 given back as change").dcr
    assert (dcr.variance_amount, dcr.variance_reason) == (
        Decimal("-100.00"),
        "₹100 given back as change",
    )


def test_the_submitter_cannot_approve_even_as_a_manager(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)
    # Promoted after submitting: the users row now says BranchManager.
    env.admin.execute(
        "UPDATE users SET role_id = (SELECT role_id FROM roles WHERE role_name = "
        "'BranchManager') WHERE user_id = %s",
        (env.ids["cashier.br001"],),
    )

    error = refusal(lambda: env.approve(DAY, by="cashier.br001"))

    assert isinstance(error, Forbidden) and error.code == "MAKER_CHECKER"
    assert env.service.read(DcrKey("BR001", DAY)).dcr.status is S.SUBMITTED


def test_approving_twice_answers_the_same_and_records_once(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)

    first = env.approve(DAY)
    again = env.approve(DAY)

    assert first.dcr.status is S.APPROVED and dcr_view(first) == dcr_view(again)
    assert first.dcr.approved_by == env.ids["manager.br001"]
    assert env.audit.actions == ["DCR_SUBMITTED", "DCR_APPROVED"]


def test_the_same_submit_again_answers_the_same_and_another_is_a_409(env: Env) -> None:
    env.collect(DAY, "1500.00")
    first = env.submit(DAY)

    assert dcr_view(env.submit(DAY)) == dcr_view(first)
    assert isinstance(refusal(lambda: env.submit(DAY, by="cashier2.br001")), Conflict)
    assert isinstance(refusal(lambda: env.submit(DAY, coins=21, reason="a coin")), Conflict)
    assert env.audit.actions == ["DCR_SUBMITTED"]


def waiting_on_locks(db: EngineDb, count: int) -> None:
    """Until `count` sessions of this database wait on a lock (a guard, not a timing). Its
    own connection: a transaction reads pg_stat_activity once and keeps that snapshot."""
    deadline = time.monotonic() + 10
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with db.admin() as watcher:
        while (watcher.execute(query).fetchone() or (0,))[0] < count:
            assert time.monotonic() < deadline, "the submits never queued on the day's lock"
            time.sleep(0.01)


@pytest.mark.parametrize("same", [True, False], ids=["same-count", "other-cashier"])
def test_two_submits_at_once_yield_one_submission(env: Env, same: bool) -> None:
    env.collect(DAY, "1500.00")
    people = ["cashier.br001", "cashier.br001" if same else "cashier2.br001"]
    results: list[Any] = []

    def submit(by: str) -> None:
        try:
            results.append(env.submit(DAY, by=by))
        except ApiError as exc:
            results.append(exc)

    with env.admin.transaction():  # hold the day, so both queue on its lock
        env.admin.execute(
            "SELECT 1 FROM dcr_sessions WHERE branch_code = 'BR001' AND collection_date = %s "
            "FOR UPDATE",
            (DAY,),
        )
        threads = [threading.Thread(target=submit, args=(p,)) for p in people]
        for thread in threads:
            thread.start()
        waiting_on_locks(env.pg, 2)
    for thread in threads:
        thread.join()

    answers = [r for r in results if not isinstance(r, ApiError)]
    refused = [r for r in results if isinstance(r, ApiError)]
    if same:
        assert len(answers) == 2 and refused == []
        assert dcr_view(answers[0]) == dcr_view(answers[1])
    else:
        assert len(answers) == 1 and [type(r) for r in refused] == [Conflict]
    assert env.audit.actions == ["DCR_SUBMITTED"]
    status = env.admin.execute(
        "SELECT status, version FROM dcr_sessions WHERE collection_date = %s", (DAY,)
    ).fetchone()
    assert status == ("SUBMITTED", 2)


def test_a_rejected_day_is_reopened_counted_again_and_approved(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)
    key, manager = DcrKey("BR001", DAY), env.actor("manager.br001")

    cashier = env.actor("cashier.br001")
    assert isinstance(refusal(lambda: env.service.reopen(key, cashier)), Conflict)
    rejected = env.service.reject(key, "Recount the ₹500 notes", manager).dcr
    assert (rejected.status, rejected.rejection_reason) == (S.REJECTED, "Recount the ₹500 notes")
    assert env.service.reject(key, "Recount the ₹500 notes", manager).dcr == rejected

    draft = env.service.reopen(key, env.actor("cashier2.br001")).dcr
    assert (draft.status, draft.count, draft.submitted_by) == (S.DRAFT, None, None)
    assert set(env.dbs(DAY).values()) == {0}  # zeroed, never deleted
    env.collect(DAY, "100.00")  # a reopened day takes collections again

    resubmitted = env.submit(DAY, coins=120, by="cashier2.br001").dcr
    assert resubmitted.totals.cash_collected == Decimal("1600.00")
    assert env.approve(DAY).dcr.status is S.APPROVED
    assert env.audit.actions == [
        "DCR_SUBMITTED",
        "DCR_REJECTED",
        "DCR_REOPENED",
        "DCR_SUBMITTED",
        "DCR_APPROVED",
    ]


def test_after_approval_a_late_collection_lands_on_the_next_day(env: Env) -> None:
    counted = env.collect(DAY, "1500.00")
    env.submit(DAY)
    approved = env.approve(DAY)

    late = env.collect(DAY, "400.00")
    with pytest.raises(DayClosed):
        cancel(env.db, env.ids["manager.br001"], counted.collection_id)

    assert late.business_date == DAY + timedelta(days=1)
    assert env.service.read(DcrKey("BR001", DAY)).live == approved.live
    assert dcr_view(env.approve(DAY)) == dcr_view(approved)
    next_day = env.service.read(DcrKey("BR001", DAY + timedelta(days=1)))
    assert next_day.live.cash_collected == Decimal("400.00")


def test_approval_refuses_totals_that_changed_behind_the_lock(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)
    insert_unlocked(env.admin, env.ids["cashier.br001"], "BR001", DAY)

    error = refusal(lambda: env.approve(DAY))

    assert isinstance(error, Conflict) and error.code == "TOTALS_CHANGED"
    assert env.audit.actions == ["DCR_SUBMITTED"]


def test_a_future_day_cannot_be_submitted(env: Env) -> None:
    error = refusal(lambda: env.submit(today_ist() + timedelta(days=1)))

    assert isinstance(error, Unprocessable) and error.code == "DATE_IN_FUTURE"


def test_an_audit_record_that_failed_is_made_up_once_its_request_is_over(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.audit.fail = True
    with pytest.raises(ServiceUnavailable):
        env.submit(DAY)
    env.audit.fail = False
    owed = env.admin.execute(
        "SELECT status, audit_owed_at IS NOT NULL FROM dcr_sessions WHERE collection_date = %s",
        (DAY,),
    ).fetchone()
    assert owed == ("SUBMITTED", True)

    assert env.service.settle_owed() == 0  # its own request may still be appending
    later = DcrService(DcrStore(env.db), env.audit, now=lambda: clock.now() + SETTLE_AFTER)
    assert later.settle_owed() == 1
    assert later.settle_owed() == 0
    assert env.audit.actions == ["DCR_SUBMITTED"]
    assert env.audit.entries[0].actor_id == env.ids["cashier.br001"]


def test_listing_gives_each_days_live_totals_newest_first(env: Env) -> None:
    for back in (1, 2, 3):
        env.collect(today_ist() - timedelta(days=back), f"{back}00.00")
    env.submit(DAY, coins=0, reason="counted only the notes")
    collect(env.db, env.ids["cashier.br002"], "BR002", DAY, "800.00")

    listing = env.service.listing("BR001", None, None, None)
    submitted = env.service.listing(None, DAY, DAY, S.SUBMITTED)

    assert [s.dcr.key.collection_date for s in listing.items] == [
        today_ist() - timedelta(days=back) for back in (1, 2, 3)
    ]
    assert [s.live.cash_collected for s in listing.items] == [
        Decimal("100.00"),
        Decimal("200.00"),
        Decimal("300.00"),
    ]
    assert [(s.dcr.key.branch_code, s.dcr.status) for s in submitted.items] == [
        ("BR001", S.SUBMITTED)
    ]


# --- migration 0012 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ("SET status = 'REJECTED'", "dcr_sessions_rejection_check"),
        ("SET status = 'APPROVED'", "dcr_sessions_approval_check"),
        ("SET variance_amount = -5, counted_cash = 1495", "dcr_sessions_variance_check"),
        ("SET variance_amount = 3", "dcr_sessions_counted_check"),
        ("SET submitted_by = NULL", "dcr_sessions_submission_check"),
    ],
)
def test_the_schema_refuses_a_dcr_that_breaks_its_rules(
    env: Env, change: str, constraint: str
) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)

    with pytest.raises(errors.CheckViolation) as info:
        env.admin.execute(b"UPDATE dcr_sessions " + change.encode())  # its one row

    assert info.value.diag.constraint_name == constraint


def test_the_app_role_never_deletes_a_dcr_or_its_dbs(env: Env) -> None:
    env.collect(DAY, "1500.00")
    env.submit(DAY)

    def run(statement: bytes) -> None:
        env.db.run(lambda cur: cur.execute(statement))

    for statement in (b"DELETE FROM dbs_entries", b"DELETE FROM dcr_sessions"):
        with pytest.raises(errors.InsufficientPrivilege):
            run(statement)
