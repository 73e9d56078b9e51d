"""The DCR's rules without a database: its state machine, the count and its variance,
maker-checker, the idempotent repeats, the submit request's shape, and the order of a step
and its audit record (a recorder stands in for the audit trail)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from engine.logic import dcr as rules
from engine.logic.dcr import AuditOwed, DcrService, Decide
from engine.models.audit import Actor, AuditEntry
from engine.models.dcr import (
    NOTES,
    SUBMIT_DCR,
    DbsCount,
    Dcr,
    DcrKey,
    Snapshot,
    SubmitDcrRequest,
    Totals,
    dcr_view,
)
from engine.models.errors import InvalidRequest
from engine.models.status import DCR_CLOSED, DcrStatus, dcr_can_move
from shared import jsonutil
from shared.http import ApiError, Conflict, Forbidden, ServiceUnavailable, Unprocessable

S = DcrStatus
AT = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
KEY = DcrKey("BR001", date(2027, 1, 15))
CASHIER, OTHER_CASHIER, MANAGER = "u-cashier", "u-cashier-2", "u-manager"
# ₹12,345 in cash (2 x 500 ... + 5 coins), ₹5,000 by cheque.
LIVE = Totals(
    field_collections=Decimal("9000.00"),
    branch_collections=Decimal("3345.00"),
    legal_fees=Decimal("2000.00"),
    other_fees=Decimal("1500.00"),
    challans=Decimal("1500.00"),
    cash_collected=Decimal("12345.00"),
    cheque_collected=Decimal("5000.00"),
)
EXACT = {500: 20, 200: 10, 100: 3, 50: 0, 20: 2, 10: 0}  # 10000 + 2000 + 300 + 40


def submit_cmd(coins: int = 5, reason: str | None = None, **notes: int) -> SubmitDcrRequest:
    return SubmitDcrRequest({**EXACT, **{int(k[1:]): v for k, v in notes.items()}}, coins, reason)


def submitted(by: str = CASHIER, **changes: Any) -> Dcr:
    dcr = rules.submitting(submit_cmd(), by, AT)(Dcr(KEY, dcr_id="d-1", version=1), LIVE)
    assert dcr is not None
    return replace(dcr, version=2, **changes)


def refused(decide: Decide, dcr: Dcr, live: Totals = LIVE) -> ApiError:
    with pytest.raises(ApiError) as info:
        decide(dcr, live)
    return info.value


# --- the state machine ------------------------------------------------------------------------


def test_only_the_declared_moves_are_allowed() -> None:
    allowed = {(a, b) for a, b in itertools.product(S, S) if dcr_can_move(a, b)}

    assert allowed == {
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.APPROVED),
        (S.SUBMITTED, S.REJECTED),
        (S.REJECTED, S.DRAFT),
    }
    assert frozenset({S.SUBMITTED, S.APPROVED}) == DCR_CLOSED


@pytest.mark.parametrize(
    ("status", "decide"),
    [
        (S.APPROVED, rules.submitting(submit_cmd(), CASHIER, AT)),
        (S.REJECTED, rules.submitting(submit_cmd(), CASHIER, AT)),  # reopened first
        (S.DRAFT, rules.approving(MANAGER, AT)),
        (S.REJECTED, rules.approving(MANAGER, AT)),
        (S.DRAFT, rules.rejecting("Recount it", MANAGER, AT)),
        (S.APPROVED, rules.rejecting("Recount it", MANAGER, AT)),
        (S.DRAFT, rules.reopening(CASHIER, AT)),
        (S.SUBMITTED, rules.reopening(CASHIER, AT)),
        (S.APPROVED, rules.reopening(CASHIER, AT)),
    ],
)
def test_an_undeclared_move_is_a_409(status: DcrStatus, decide: Decide) -> None:
    dcr = replace(submitted(), status=status, submitted_by="u-someone-else")
    if status is S.DRAFT:
        dcr = Dcr(KEY, dcr_id="d-1", version=1)
    if status is S.REJECTED:
        dcr = replace(dcr, rejected_by=MANAGER, rejected_at=AT, rejection_reason="Recount it")

    error = refused(decide, dcr)

    assert isinstance(error, Conflict) and error.code == "INVALID_TRANSITION"


# --- the count and its variance ---------------------------------------------------------------


def test_the_count_is_notes_times_denominations_plus_coins() -> None:
    count = submit_cmd(coins=5).count

    assert count.counted == Decimal("12345.00")
    entries = count.entries()
    assert [d for d, _, _ in entries] == [Decimal(n) for n in (*NOTES, 1)]
    assert all(total == d * n for d, n, total in entries)
    assert sum(total for _, _, total in entries) == count.counted


def test_an_exact_count_has_no_variance_and_keeps_no_reason() -> None:
    assert rules.variance_of(submit_cmd().count, LIVE, "just in case") == (Decimal("0.00"), None)


def test_a_short_count_needs_a_reason_and_is_negative() -> None:
    short = submit_cmd(n100=2).count  # ₹100 short

    with pytest.raises(Unprocessable) as info:
        rules.variance_of(short, LIVE, None)
    assert info.value.code == "VARIANCE_REASON_REQUIRED"
    assert rules.variance_of(short, LIVE, "₹100 given as change") == (
        Decimal("-100.00"),
        "₹100 given as change",
    )


def test_submitting_takes_the_live_totals_and_the_count() -> None:
    dcr = rules.submitting(submit_cmd(coins=15, reason="₹10 extra found"), CASHIER, AT)(
        Dcr(KEY, dcr_id="d-1", version=1), LIVE
    )

    assert dcr is not None and dcr.status is S.SUBMITTED
    assert (dcr.totals, dcr.submitted_by, dcr.submitted_at) == (LIVE, CASHIER, AT)
    assert (dcr.counted_cash, dcr.variance_amount) == (Decimal("12355.00"), Decimal("10.00"))
    assert dcr.variance_reason == "₹10 extra found"


# --- repeats ----------------------------------------------------------------------------------


def test_the_same_count_by_the_same_cashier_again_changes_nothing() -> None:
    later = AT + timedelta(minutes=1)

    assert rules.submitting(submit_cmd(), CASHIER, later)(submitted(), LIVE) is None


@pytest.mark.parametrize(
    ("by", "cmd"),
    [
        (OTHER_CASHIER, submit_cmd()),
        (CASHIER, submit_cmd(coins=6, reason="₹1 extra")),
        (CASHIER, submit_cmd(n500=19, coins=505)),  # the same cash in other notes
    ],
)
def test_another_submission_of_a_submitted_dcr_is_a_409(by: str, cmd: SubmitDcrRequest) -> None:
    error = refused(rules.submitting(cmd, by, AT), submitted())

    assert isinstance(error, Conflict)


def test_approving_twice_and_rejecting_twice_change_nothing() -> None:
    approved = rules.approving(MANAGER, AT)(submitted(), LIVE)
    assert approved is not None and approved.status is S.APPROVED
    assert rules.approving(MANAGER, AT)(approved, LIVE) is None
    assert rules.approving("u-manager-2", AT)(approved, LIVE) is None

    rejected = rules.rejecting("Recount the ₹500s", MANAGER, AT)(submitted(), LIVE)
    assert rejected is not None and rejected.status is S.REJECTED
    assert rules.rejecting("Recount the ₹500s", MANAGER, AT)(rejected, LIVE) is None
    assert isinstance(refused(rules.rejecting("Other reason", MANAGER, AT), rejected), Conflict)


# --- maker-checker ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "decide", [rules.approving(CASHIER, AT), rules.rejecting("Not mine to judge", CASHIER, AT)]
)
@pytest.mark.parametrize("status", [S.SUBMITTED, S.APPROVED])
def test_the_submitter_never_approves_or_rejects(decide: Decide, status: DcrStatus) -> None:
    dcr = submitted(status=status)
    if status is S.APPROVED:
        dcr = replace(dcr, approved_by=MANAGER, approved_at=AT)

    error = refused(decide, dcr)

    assert isinstance(error, Forbidden) and error.code == "MAKER_CHECKER"


def test_approval_refuses_totals_that_moved_since_the_submit() -> None:
    moved = replace(LIVE, cash_collected=LIVE.cash_collected + 1)

    error = refused(rules.approving(MANAGER, AT), submitted(), moved)

    assert isinstance(error, Conflict) and error.code == "TOTALS_CHANGED"


def test_reopening_clears_the_submission_and_keeps_the_rejection() -> None:
    rejected = submitted(
        status=S.REJECTED, rejected_by=MANAGER, rejected_at=AT, rejection_reason="Recount"
    )

    draft = rules.reopening(OTHER_CASHIER, AT)(rejected, LIVE)

    assert draft is not None and draft.status is S.DRAFT
    assert (draft.count, draft.submitted_by, draft.variance_amount, draft.totals) == (
        None,
        None,
        None,
        Totals(),
    )
    assert (draft.rejected_by, draft.rejection_reason) == (MANAGER, "Recount")
    assert (draft.reopened_by, draft.reopened_at) == (OTHER_CASHIER, AT)
    assert rules.reopening(CASHIER, AT)(draft, LIVE) is None


def test_a_step_waits_while_the_previous_step_is_not_yet_audited() -> None:
    owed = submitted(audit_owed_at=AT)

    with pytest.raises(AuditOwed):
        rules.approving(MANAGER, AT)(owed, LIVE)
    assert rules.submitting(submit_cmd(), CASHIER, AT)(owed, LIVE) is None  # a repeat still answers


# --- dates ------------------------------------------------------------------------------------


def test_a_date_counts_as_future_by_the_calendar_in_india() -> None:
    evening_utc = datetime(2027, 1, 15, 19, 0, tzinfo=UTC)  # 16 Jan, 00:30 IST

    rules.check_not_future(date(2027, 1, 16), evening_utc)
    with pytest.raises(Unprocessable) as info:
        rules.check_not_future(date(2027, 1, 17), evening_utc)
    assert info.value.code == "DATE_IN_FUTURE"


def test_a_listing_covers_31_days_at_most() -> None:
    today = date(2027, 1, 31)

    assert rules.list_range(None, None, today) == (date(2027, 1, 1), today)
    assert rules.list_range(date(2027, 1, 10), None, today) == (date(2027, 1, 10), date(2027, 2, 9))
    assert rules.list_range(None, date(2027, 1, 5), today) == (date(2026, 12, 6), date(2027, 1, 5))
    for start, end, field in [
        (date(2027, 1, 1), date(2027, 2, 1), "to"),
        (date(2027, 1, 2), date(2027, 1, 1), "from"),
    ]:
        with pytest.raises(ApiError) as info:
            rules.list_range(start, end, today)
        assert info.value.status == 400 and info.value.details[0]["field"] == field


# --- the request's shape ----------------------------------------------------------------------


GATEWAY = jsonschema.Draft4Validator(
    json.loads(json.dumps(SUBMIT_DCR.gateway_model()), parse_float=Decimal)
)


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ('{"denominations": {"500": 3, "10": 0}, "coins": 0}', True),
        ('{"denominations": {}, "coins": 35, "variance_reason": "coins only today"}', True),
        ('{"denominations": {"500": 100000}, "coins": 1000000}', True),
        ('{"denominations": {"500": 3.0}, "coins": 0}', False),
        ('{"denominations": {"500": "3"}, "coins": 0}', False),
        ('{"denominations": {"500": -1}, "coins": 0}', False),
        ('{"denominations": {"500": true}, "coins": 0}', False),
        ('{"denominations": {"500": 100001}, "coins": 0}', False),
        ('{"denominations": {"2000": 1}, "coins": 0}', False),
        ('{"denominations": [], "coins": 0}', False),
        ('{"denominations": {"500": 1}, "coins": 1.5}', False),
        ('{"denominations": {"500": 1}}', False),
        ('{"denominations": {"500": 1}, "coins": 0, "variance_reason": "no"}', False),
        ('{"denominations": {"500": 1}, "coins": 0, "extra": 1}', False),
    ],
)
def test_the_gateway_and_the_parser_agree_on_counts(body: str, accepted: bool) -> None:
    document = jsonutil.loads(body)

    assert GATEWAY.is_valid(document) is accepted
    if accepted:
        parsed = SUBMIT_DCR.parse(body)
        assert set(parsed.denominations) == set(NOTES)
    else:
        with pytest.raises(InvalidRequest):
            SUBMIT_DCR.parse(body)


def test_a_bad_count_names_its_denomination() -> None:
    with pytest.raises(InvalidRequest) as info:
        SUBMIT_DCR.parse('{"denominations": {"200": 1.5}, "coins": 0}')

    issue = "200: must be a whole number"
    assert info.value.details == [{"field": "denominations", "issue": issue}]


# --- a step and its audit record --------------------------------------------------------------


class Records:
    """One DCR in memory, moved as the PostgreSQL store moves it."""

    def __init__(self, dcr: Dcr, live: Totals = LIVE) -> None:
        self.dcr, self.live, self.audited = dcr, live, 0

    def read(self, key: DcrKey) -> Snapshot:
        return Snapshot(self.dcr, self.live)

    def in_range(self, *args: Any) -> list[Snapshot]:
        return []

    def transition(self, key: DcrKey, decide: Decide, *, create: bool = False) -> Any:
        wanted = decide(self.dcr, self.live)
        if wanted is not None:
            self.dcr = replace(wanted, version=self.dcr.version + 1, audit_owed_at=AT)
        return _Step(Snapshot(self.dcr, self.live), wanted is not None)

    def mark_audited(self, dcr: Dcr) -> None:
        if dcr.version == self.dcr.version:
            self.dcr, self.audited = replace(self.dcr, audit_owed_at=None), self.audited + 1

    def owed_before(self, moment: datetime, limit: int) -> list[Dcr]:
        owed = self.dcr.audit_owed_at
        return [self.dcr] if owed is not None and owed <= moment else []


class _Step:
    def __init__(self, snapshot: Snapshot, changed: bool) -> None:
        self.snapshot, self.changed = snapshot, changed


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.entries: list[AuditEntry] = []
        self.fail = fail

    def append(self, entry: AuditEntry) -> Any:
        if self.fail:
            raise ServiceUnavailable("audit trail down")
        self.entries.append(entry)
        return entry


MANAGER_ACTOR = Actor(MANAGER, None, "manager.br001", "BR001")


def test_a_step_is_audited_once_and_a_repeat_not_at_all() -> None:
    records, audit = Records(submitted()), Recorder()
    service = DcrService(records, audit, now=lambda: AT)

    first = service.approve(KEY, MANAGER_ACTOR)
    again = service.approve(KEY, MANAGER_ACTOR)

    assert [e.action for e in audit.entries] == ["DCR_APPROVED"]
    entry = audit.entries[0]
    assert (entry.entity_id, entry.actor_id) == ("d-1", MANAGER)
    assert entry.actor_username == "manager.br001" and entry.branch_code == "BR001"
    assert entry.details["totals"]["cash_collected"] == "12345.00"
    assert first.dcr.audit_owed_at is None and records.dcr.audit_owed_at is None
    assert dcr_view(first) == dcr_view(again)


def test_a_failed_append_leaves_the_step_owed_and_a_later_request_records_it() -> None:
    records = Records(submitted())
    with pytest.raises(ServiceUnavailable):
        DcrService(records, Recorder(fail=True), now=lambda: AT).approve(KEY, MANAGER_ACTOR)
    assert records.dcr.status is S.APPROVED and records.dcr.audit_owed_at == AT

    audit = Recorder()
    soon = DcrService(records, audit, now=lambda: AT + timedelta(seconds=5))
    soon.approve(KEY, MANAGER_ACTOR)  # its own request may still be appending: not yet
    assert audit.entries == []

    later = DcrService(records, audit, now=lambda: AT + rules.SETTLE_AFTER)
    later.approve(KEY, MANAGER_ACTOR)
    assert [e.action for e in audit.entries] == ["DCR_APPROVED"]
    assert records.dcr.audit_owed_at is None


def test_a_new_step_records_an_owed_step_first_or_waits() -> None:
    records, audit = Records(submitted(audit_owed_at=AT)), Recorder()

    with pytest.raises(ServiceUnavailable):
        DcrService(records, audit, now=lambda: AT + timedelta(seconds=5)).approve(
            KEY, MANAGER_ACTOR
        )
    assert records.dcr.status is S.SUBMITTED

    DcrService(records, audit, now=lambda: AT + rules.SETTLE_AFTER).approve(KEY, MANAGER_ACTOR)
    assert [e.action for e in audit.entries] == ["DCR_SUBMITTED", "DCR_APPROVED"]
    assert audit.entries[0].actor_id == CASHIER


def test_the_sweep_records_what_no_request_came_back_for() -> None:
    records, audit = Records(submitted(audit_owed_at=AT)), Recorder()

    assert DcrService(records, audit, now=lambda: AT + timedelta(seconds=5)).settle_owed() == 0
    assert DcrService(records, audit, now=lambda: AT + rules.SETTLE_AFTER).settle_owed() == 1
    assert [e.action for e in audit.entries] == ["DCR_SUBMITTED"] and records.audited == 1


def test_a_future_date_is_refused_before_anything_is_written() -> None:
    records = Records(Dcr(DcrKey("BR001", date(2027, 1, 17))))
    service = DcrService(records, Recorder(), now=lambda: AT)

    with pytest.raises(Unprocessable):
        service.submit(records.dcr.key, submit_cmd(), Actor(CASHIER))
    assert records.dcr.status is S.DRAFT


def test_dbs_count_reads_back_from_its_entries() -> None:
    count = submit_cmd(coins=7).count

    assert DbsCount.from_entries({int(d): n for d, n, _ in count.entries()}) == count
