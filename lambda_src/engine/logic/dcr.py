"""The DCR's rules: one reconciliation per branch per business date, counted by a cashier
(the maker) and approved or rejected by a branch manager who did not submit it (the checker).

Each step is one unit of work under the day's row lock (engine.dal.pg.dcr): this module
says what the row must become (`submitting`, `approving`, `rejecting`, `reopening`), along
the moves engine.models.status.DcrStatus declares and no other. A step that finds its work
already done changes nothing and answers as before: the same count submitted again by the
same cashier, an approval repeated, the same rejection repeated, a reopen repeated.

Every step's audit record is appended after its commit; until then the row says it is owed
(`audit_owed_at`). An append that failed is made up later, by the next request for that DCR
or by `settle_owed`, once the step's own request must have ended (`SETTLE_AFTER`): never
while it may still be appending, which would record the step twice. A new step waits (503)
while the previous one's record is owed, so the trail never skips a step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.logic.receipts import IST
from engine.models.audit import Actor, AuditEntry, AuditSink
from engine.models.dcr import (
    MAX_RANGE_DAYS,
    DbsCount,
    Dcr,
    DcrKey,
    Snapshot,
    SubmitDcrRequest,
    Totals,
)
from engine.models.status import DcrStatus, dcr_allowed_from, dcr_can_move
from shared import clock
from shared.http import Conflict, Forbidden, ServiceUnavailable, Unprocessable, ValidationError

S = DcrStatus
Decide = Callable[[Dcr, Totals], Dcr | None]
# Beyond the InternalDcr function's 15 s timeout: a step owed this long has no request left
# that could still append its record.
SETTLE_AFTER = timedelta(seconds=60)
LIST_LIMIT = 1000
ACTIONS = {
    S.SUBMITTED: "DCR_SUBMITTED",
    S.APPROVED: "DCR_APPROVED",
    S.REJECTED: "DCR_REJECTED",
    S.DRAFT: "DCR_REOPENED",
}


class Step(Protocol):
    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def changed(self) -> bool: ...


class Records(Protocol):
    def read(self, key: DcrKey) -> Snapshot: ...

    def in_range(
        self, branch: str | None, start: date, end: date, status: DcrStatus | None, limit: int
    ) -> list[Snapshot]: ...

    def transition(self, key: DcrKey, decide: Decide, *, create: bool = False) -> Step: ...

    def mark_audited(self, dcr: Dcr) -> None: ...

    def owed_before(self, moment: datetime, limit: int) -> list[Dcr]: ...


@dataclass(frozen=True)
class Listing:
    items: list[Snapshot]
    start: date
    end: date
    truncated: bool


class AuditOwed(Exception):
    """The DCR's last step has no audit record yet: no new step before it has one."""

    def __init__(self, dcr: Dcr) -> None:
        super().__init__(f"DCR {dcr.dcr_id} version {dcr.version} awaits its audit record")
        self.dcr = dcr


# --- rules -----------------------------------------------------------------------------------


def check_not_future(day: date, now: datetime) -> None:
    if day > now.astimezone(IST).date():
        raise Unprocessable(f"{day} has not begun in India", code="DATE_IN_FUTURE")


def variance_of(count: DbsCount, totals: Totals, reason: str | None) -> tuple[Decimal, str | None]:
    """The count's difference from the cash collected, and the reason kept with it (none
    when there is no difference); a difference without a reason is refused."""
    variance = count.counted - totals.cash_collected
    if variance == 0:
        return variance, None
    if not reason:
        raise Unprocessable(
            f"counted {count.counted} against {totals.cash_collected} collected in cash: "
            "say why in variance_reason",
            code="VARIANCE_REASON_REQUIRED",
            details=[{"field": "variance_reason", "issue": "required when the count differs"}],
        )
    return variance, reason


def check_checker(dcr: Dcr, actor_id: str) -> None:
    """Maker-checker: whoever submitted the count never approves or rejects it."""
    if dcr.submitted_by == actor_id:
        raise Forbidden("the submitter of a DCR cannot approve or reject it", code="MAKER_CHECKER")


def require_move(dcr: Dcr, target: DcrStatus) -> None:
    if not dcr_can_move(dcr.status, target):
        allowed = " or ".join(sorted(s.value for s in dcr_allowed_from(target)))
        raise Conflict(
            f"the DCR is {dcr.status.value}: only a {allowed} DCR can become {target.value}",
            code="INVALID_TRANSITION",
        )


def _fresh_step(dcr: Dcr, target: DcrStatus) -> None:
    require_move(dcr, target)
    if dcr.audit_owed_at is not None:
        raise AuditOwed(dcr)


def submitting(cmd: SubmitDcrRequest, actor_id: str, at: datetime) -> Decide:
    count = cmd.count

    def decide(dcr: Dcr, live: Totals) -> Dcr | None:
        if _same_submission(dcr, cmd, actor_id):
            return None
        _fresh_step(dcr, S.SUBMITTED)
        variance, reason = variance_of(count, live, cmd.variance_reason)
        return replace(
            dcr,
            status=S.SUBMITTED,
            totals=live,
            count=count,
            variance_amount=variance,
            variance_reason=reason,
            submitted_by=actor_id,
            submitted_at=at,
        )

    return decide


def _same_submission(dcr: Dcr, cmd: SubmitDcrRequest, actor_id: str) -> bool:
    if dcr.status is not S.SUBMITTED or dcr.submitted_by != actor_id or dcr.count != cmd.count:
        return False
    differs = cmd.count.counted != dcr.totals.cash_collected
    return dcr.variance_reason == (cmd.variance_reason if differs else None)


def approving(actor_id: str, at: datetime) -> Decide:
    def decide(dcr: Dcr, live: Totals) -> Dcr | None:
        check_checker(dcr, actor_id)
        if dcr.status is S.APPROVED:
            return None
        _fresh_step(dcr, S.APPROVED)
        if live != dcr.totals:  # the day closed at submit: a difference is a defect to look at
            raise Conflict(
                "the day's collections no longer match the submitted totals",
                code="TOTALS_CHANGED",
            )
        return replace(dcr, status=S.APPROVED, approved_by=actor_id, approved_at=at)

    return decide


def rejecting(reason: str, actor_id: str, at: datetime) -> Decide:
    def decide(dcr: Dcr, live: Totals) -> Dcr | None:
        check_checker(dcr, actor_id)
        same = dcr.rejected_by == actor_id and dcr.rejection_reason == reason
        if dcr.status is S.REJECTED and same:
            return None
        _fresh_step(dcr, S.REJECTED)
        return replace(
            dcr, status=S.REJECTED, rejected_by=actor_id, rejected_at=at, rejection_reason=reason
        )

    return decide


def reopening(actor_id: str, at: datetime) -> Decide:
    """REJECTED -> DRAFT: the submission goes (the audit trail keeps it), the rejection
    stays on the row for the cashier to read."""

    def decide(dcr: Dcr, live: Totals) -> Dcr | None:
        if dcr.status is S.DRAFT and dcr.reopened_at is not None:
            return None
        _fresh_step(dcr, S.DRAFT)
        return replace(
            dcr,
            status=S.DRAFT,
            totals=Totals(),
            count=None,
            variance_amount=None,
            variance_reason=None,
            submitted_by=None,
            submitted_at=None,
            reopened_by=actor_id,
            reopened_at=at,
        )

    return decide


def list_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """from..to, both included: by default the 31 days to `to` (today by default)."""
    span = timedelta(days=MAX_RANGE_DAYS - 1)
    if end is None:
        end = today if start is None else start + span
    if start is None:
        start = end - span
    if start > end:
        raise _invalid("from", "must not be after to")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise _invalid("to", f"at most {MAX_RANGE_DAYS} days after from")
    return start, end


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


# --- the audit record of a step ---------------------------------------------------------------


def entry_for(dcr: Dcr, actor_username: str | None) -> AuditEntry:
    """The audit record of the step that left `dcr` in its status."""
    actor_id, at = _who_and_when(dcr)
    if dcr.dcr_id is None or actor_id is None or at is None:
        raise ValueError("only a DCR a step moved has an audit record")
    details: dict[str, Any] = {
        "branch_code": dcr.key.branch_code,
        "collection_date": dcr.key.collection_date.isoformat(),
        "status": dcr.status.value,
        "version": dcr.version,
    }
    if dcr.count is not None:
        details |= {
            "totals": dict(dcr.totals.view()),
            "dbs": dcr.count.view(),
            "counted_cash": dcr.count.counted,
            "variance_amount": dcr.variance_amount,
        }
    if dcr.variance_reason is not None:
        details["variance_reason"] = dcr.variance_reason
    if dcr.status is S.REJECTED:
        details["reason"] = dcr.rejection_reason
    return AuditEntry(
        action=ACTIONS[dcr.status],
        entity_type="dcr",
        entity_id=dcr.dcr_id,
        actor_id=actor_id,
        actor_username=actor_username,
        branch_code=dcr.key.branch_code,
        at=clock.iso(at),
        details=details,
    )


def _who_and_when(dcr: Dcr) -> tuple[str | None, datetime | None]:
    return {
        S.SUBMITTED: (dcr.submitted_by, dcr.submitted_at),
        S.APPROVED: (dcr.approved_by, dcr.approved_at),
        S.REJECTED: (dcr.rejected_by, dcr.rejected_at),
        S.DRAFT: (dcr.reopened_by, dcr.reopened_at),
    }[dcr.status]


# --- the steps ---------------------------------------------------------------------------------


class DcrService:
    def __init__(
        self, records: Records, audit: AuditSink, now: Callable[[], datetime] = clock.now
    ) -> None:
        self._records = records
        self._audit = audit
        self._now = now

    def read(self, key: DcrKey) -> Snapshot:
        return self._records.read(key)

    def listing(
        self, branch: str | None, start: date | None, end: date | None, status: DcrStatus | None
    ) -> Listing:
        """DCRs newest first (at most LIST_LIMIT: `truncated` says there were more)."""
        start, end = list_range(start, end, self._now().astimezone(IST).date())
        found = self._records.in_range(branch, start, end, status, LIST_LIMIT + 1)
        return Listing(found[:LIST_LIMIT], start, end, len(found) > LIST_LIMIT)

    def submit(self, key: DcrKey, cmd: SubmitDcrRequest, actor: Actor) -> Snapshot:
        at = self._now()
        check_not_future(key.collection_date, at)
        return self._step(key, submitting(cmd, actor.user_id, at), actor, create=True)

    def approve(self, key: DcrKey, actor: Actor) -> Snapshot:
        return self._step(key, approving(actor.user_id, self._now()), actor)

    def reject(self, key: DcrKey, reason: str, actor: Actor) -> Snapshot:
        return self._step(key, rejecting(reason, actor.user_id, self._now()), actor)

    def reopen(self, key: DcrKey, actor: Actor) -> Snapshot:
        return self._step(key, reopening(actor.user_id, self._now()), actor)

    def settle_owed(self, limit: int = 100) -> int:
        """Append the records of steps whose own request failed to (the sweep); how many."""
        owed = self._records.owed_before(self._now() - SETTLE_AFTER, limit)
        for dcr in owed:
            self._settle(dcr)
        return len(owed)

    def _step(self, key: DcrKey, decide: Decide, actor: Actor, *, create: bool = False) -> Snapshot:
        step = self._transition(key, decide, create)
        dcr = step.snapshot.dcr
        if step.changed:
            self._audit.append(entry_for(dcr, actor.username))
            self._records.mark_audited(dcr)
            return replace(step.snapshot, dcr=replace(dcr, audit_owed_at=None))
        if self._stale(dcr):
            self._settle(dcr)
        return step.snapshot

    def _transition(self, key: DcrKey, decide: Decide, create: bool) -> Step:
        """The transition; when the previous step's record is owed, made up first (once)."""
        for attempt in (1, 2):
            try:
                return self._records.transition(key, decide, create=create)
            except AuditOwed as owed:
                if attempt == 2 or not self._stale(owed.dcr):
                    raise ServiceUnavailable(
                        "the DCR's previous step is still being recorded: try again shortly"
                    ) from None
                self._settle(owed.dcr)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stale(self, dcr: Dcr) -> bool:
        owed = dcr.audit_owed_at
        return owed is not None and self._now() - owed >= SETTLE_AFTER

    def _settle(self, dcr: Dcr) -> None:
        # The username is not on the row; the user id is the record's identity.
        self._audit.append(entry_for(dcr, None))
        self._records.mark_audited(dcr)
