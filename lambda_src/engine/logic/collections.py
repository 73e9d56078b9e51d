"""Staff collections: take one (a receipt), read them, cancel a wrong one.

Recorded first, in PostgreSQL, the ledger and the point where collections are serialised:
the business day and the cash limit are decided under locks there (engine.dal.pg.collections),
and the receipt number is taken once they pass. DynamoDB then gets the Transactions item, the
LMS posting and the audit record in one transaction (engine.dal.ddb.collections), and the
ledger notes that it did (`recorded_at`). When DynamoDB fails after the commit the answer is
503: the same Idempotency-Key completes it, and so does the repair job
(`complete_unrecorded`) for a request the field app never sends again.

The Idempotency-Key is the staff member's: the same key with the same request answers the
first collection again (completed if need be); with another request, 409.

Amounts for an EMI are checked as the portal checks them (engine.logic.payments): against the
outstanding less what was captured but is not yet synced (the loan's captured counter less
what PostgreSQL applied). More than that is refused (422 AMOUNT_EXCEEDS_OUTSTANDING): staff
have the payer in front of them and take the right amount, where an accepted excess would be
cash to hand back. A capture racing past the check (a portal payment at the same moment) is
not refused after the fact: the stream sync keeps its excess as the loan's advance. Fees and
challans are not part of the outstanding and are not checked against it.

Cash from one payer on one day (IST, by collected_at) of the configured limit or more, across
every branch, is refused (Income Tax Act s.269ST), without saying what else the payer paid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from engine.dal.pg.business_day import DayClosed
from engine.dal.pg.collections import (
    AlreadyCancelled,
    CashLimitExceeded,
    Filters,
    KeyTaken,
    LoanFacts,
    NotSameDay,
)
from engine.logic import receipts
from engine.models import rbac
from engine.models.audit import AuditEntry
from engine.models.collections import (
    EMI,
    Collection,
    CollectRequest,
    NewCollection,
    sha256,
)
from engine.models.loan import CLOSED_STATUSES
from engine.models.payment import new_payment_id
from engine.models.staff import StaffUser
from shared import clock
from shared.http import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    ValidationError,
)
from shared.store_errors import StoreError

logger = logging.getLogger(__name__)
IST = receipts.IST
RETRY_AFTER = {"Retry-After": "2"}
# How far ahead of our clock a device's collected_at may be (its clock drifts).
CLOCK_SKEW = timedelta(minutes=5)
# A cheque or a draft is payable for three months from its date (RBI).
INSTRUMENT_VALIDITY = timedelta(days=90)
REPAIR_BATCH = 200


class Staff(Protocol):
    """The authorized caller (engine.handlers.internal.staff.Caller)."""

    @property
    def user(self) -> StaffUser: ...
    @property
    def roles(self) -> frozenset[str]: ...
    def require_branch(self, branch_code: str) -> None: ...
    def require_record(self, branch_code: str, owner_user_id: str) -> None: ...
    def branch_filter(self, requested: str | None) -> str | None: ...
    def owner_filter(self) -> str | None: ...


class Ledger(Protocol):
    def get(self, collection_id: str) -> Collection | None: ...
    def by_key(self, created_by: str, key_hash: str) -> Collection | None: ...
    def loan(self, loan_account_number: str) -> LoanFacts | None: ...
    def page(
        self, filters: Filters, limit: int, cursor: str | None
    ) -> tuple[list[Collection], str | None]: ...
    def unrecorded(self, before: datetime, limit: int) -> list[Collection]: ...
    def cancel_unrecorded(self, before: datetime, limit: int) -> list[Collection]: ...
    def insert(
        self, new: NewCollection, today: date, cash_limit: Decimal, receipt: Callable[[], str]
    ) -> Collection: ...
    def cancel(
        self, found: Collection, by: str, reason: str, today: date, at: datetime
    ) -> Collection: ...
    def mark_recorded(self, collection_id: str, at: datetime) -> None: ...
    def mark_cancel_recorded(self, collection_id: str, at: datetime) -> None: ...


class Records(Protocol):
    def record(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool: ...
    def record_cancel(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool: ...


class Counters(Protocol):
    def next_receipt_sequence(self, branch_code: str, financial_year: str) -> int: ...
    def captured(self, loan_account_number: str) -> Decimal: ...


@dataclass(frozen=True)
class Limits:
    cash_per_payer_per_day: Decimal
    max_age_days: int


@dataclass(frozen=True)
class Collected:
    collection: Collection
    replayed: bool = False


@dataclass(frozen=True)
class Completed:
    recorded: int = 0
    cancellations: int = 0
    failed: int = 0


def ist_date(moment: datetime) -> date:
    return moment.astimezone(IST).date()


def _invalid(field: str, text: str) -> ValidationError:
    return ValidationError(f"{field} is not valid", details=[{"field": field, "issue": text}])


@dataclass
class CollectionService:
    ledger: Ledger
    records: Records
    counters: Counters
    limits: Limits
    now: Callable[[], datetime] = clock.now

    # ------------------------------------------------------------------ collect

    def collect(self, caller: Staff, request: CollectRequest, key: str) -> Collected:
        user = caller.user
        key_hash = sha256(key)
        fingerprint = request.fingerprint()
        earlier = self.ledger.by_key(user.user_id, key_hash)
        if earlier is not None:
            return self._replay(earlier, fingerprint)
        moment = self.now()
        self._check_times(request, moment)
        loan = self._loan_for(caller, request)
        if request.purpose == EMI:
            self._check_payable(loan, request.amount)
        new = self._new(caller, request, loan, key_hash, fingerprint)
        try:
            collection = self._insert(new, moment)
        except KeyTaken:
            found = self.ledger.by_key(user.user_id, key_hash)
            if found is None:  # written under this key a moment ago: never deleted
                raise ServiceUnavailable("please try again", headers=RETRY_AFTER) from None
            return self._replay(found, fingerprint)
        logger.info(
            "collection written",
            extra={"collection_id": collection.collection_id, "mode": collection.mode},
        )
        return Collected(self._recorded(collection))

    def _insert(self, new: NewCollection, moment: datetime) -> Collection:
        """The ledger's unit of work; the receipt is numbered in the collector's branch's
        sequence for the financial year of the moment it is issued."""
        branch, year = new.branch_code, receipts.financial_year(moment)

        def receipt() -> str:
            sequence = self.counters.next_receipt_sequence(branch, year)
            return receipts.receipt_number(branch, year, sequence)

        limit = self.limits.cash_per_payer_per_day
        try:
            return self.ledger.insert(new, ist_date(moment), limit, receipt)
        except CashLimitExceeded:
            raise Unprocessable(
                f"cash from this payer today would reach the limit of {limit:.2f} "
                "(Income Tax Act s.269ST)",
                code="CASH_LIMIT_EXCEEDED",
            ) from None
        except DayClosed:
            raise Conflict("the branch has no open business day", code="DAY_CLOSED") from None

    def _replay(self, earlier: Collection, fingerprint: str) -> Collected:
        if earlier.request_hash != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used with a different request body",
                details=[{"field": "Idempotency-Key", "issue": "reused with a different body"}],
            )
        return Collected(self._recorded(earlier), replayed=True)

    def _check_times(self, request: CollectRequest, moment: datetime) -> None:
        at = request.collected_at
        if at > moment + CLOCK_SKEW:
            raise _invalid("collected_at", "is in the future")
        if at < moment - timedelta(days=self.limits.max_age_days):
            raise _invalid("collected_at", f"is more than {self.limits.max_age_days} days ago")
        if request.instrument is None:
            return
        dated, collected_on = request.instrument.instrument_date, ist_date(at)
        if dated > collected_on:
            raise _invalid("instrument.instrument_date", "post-dated: not money collected yet")
        if dated < collected_on - INSTRUMENT_VALIDITY:
            raise _invalid("instrument.instrument_date", "stale: older than three months")

    def _loan_for(self, caller: Staff, request: CollectRequest) -> LoanFacts:
        loan = self.ledger.loan(request.loan_account_number)
        if loan is None:
            raise NotFound("no such loan account")
        if not loan.branch_code:
            raise Unprocessable("this loan has no branch", code="LOAN_NOT_PAYABLE")
        caller.require_branch(loan.branch_code)
        if loan.status in CLOSED_STATUSES:
            raise Unprocessable("this loan account takes no payments", code="LOAN_CLOSED")
        return loan

    def _check_payable(self, loan: LoanFacts, amount: Decimal) -> None:
        unsynced = self.counters.captured(loan.loan_account_number) - loan.applied
        payable = max(loan.outstanding - max(unsynced, Decimal("0")), Decimal("0"))
        if amount > payable:
            raise Unprocessable(
                "more than is payable now",
                code="AMOUNT_EXCEEDS_OUTSTANDING",
                details=[
                    {
                        "field": "amount",
                        "issue": "more than is payable",
                        "payable": f"{payable:.2f}",
                    }
                ],
            )

    @staticmethod
    def _new(
        caller: Staff, request: CollectRequest, loan: LoanFacts, key_hash: str, fingerprint: str
    ) -> NewCollection:
        user = caller.user
        if user.branch_code is None:  # require_branch let them reach the loan: never so
            raise Forbidden("a collector works at a branch")
        payer_key, payer_name = payer_of(request, loan)
        return NewCollection(
            transaction_id=new_payment_id(),
            branch_code=user.branch_code,
            loan_account_number=loan.loan_account_number,
            customer_id=loan.customer_id,
            amount=request.amount,
            mode=request.mode,
            instrument=request.instrument.plain() if request.instrument else None,
            purpose=request.purpose,
            channel=rbac.channel_for(caller.roles),
            payer_key=payer_key,
            payer_name=payer_name,
            collected_at=request.collected_at,
            collected_on=ist_date(request.collected_at),
            created_by=user.user_id,
            idempotency_key_hash=key_hash,
            request_hash=fingerprint,
        )

    # ------------------------------------------------------------------ DynamoDB side

    def _recorded(self, collection: Collection) -> Collection:
        """The collection with its DynamoDB side written (now, if it was not yet)."""
        if collection.recorded_at is not None:
            return collection
        moment = self.now()
        entry = _entry(collection, "COLLECTION_CREATED", moment, actor=_creator(collection))
        self._write(lambda: self.records.record(collection, entry, int(moment.timestamp())))
        self.ledger.mark_recorded(collection.collection_id, moment)
        return replace(collection, recorded_at=moment)

    def _cancel_recorded(self, collection: Collection) -> Collection:
        collection = self._recorded(collection)
        if collection.cancel_recorded_at is not None:
            return collection
        moment = self.now()
        actor = (collection.cancelled_by or "", collection.cancelled_by_username)
        entry = _entry(collection, "COLLECTION_CANCELLED", moment, actor=actor)
        self._write(lambda: self.records.record_cancel(collection, entry, int(moment.timestamp())))
        self.ledger.mark_cancel_recorded(collection.collection_id, moment)
        return replace(collection, cancel_recorded_at=moment)

    @staticmethod
    def _write(write: Callable[[], bool]) -> None:
        try:
            write()
        except StoreError as exc:
            raise ServiceUnavailable(
                "recorded, but not yet complete: send the same request again",
                headers=RETRY_AFTER,
            ) from exc

    def complete_unrecorded(self, older_than_seconds: int) -> Completed:
        """Write the DynamoDB side of collections and cancellations older than this that
        never got it (their request failed after PostgreSQL's commit and was not repeated)."""
        before = self.now() - timedelta(seconds=older_than_seconds)
        recorded = cancellations = failed = 0
        for collection in self.ledger.unrecorded(before, REPAIR_BATCH):
            if self._complete(self._recorded, collection):
                recorded += 1
            else:
                failed += 1
        for collection in self.ledger.cancel_unrecorded(before, REPAIR_BATCH):
            if self._complete(self._cancel_recorded, collection):
                cancellations += 1
            else:
                failed += 1
        return Completed(recorded, cancellations, failed)

    @staticmethod
    def _complete(step: Callable[[Collection], Collection], collection: Collection) -> bool:
        try:
            step(collection)
        except (ServiceUnavailable, StoreError) as exc:
            logger.warning(
                "collection not completed: %s",
                type(exc.__cause__ or exc).__name__,
                extra={"collection_id": collection.collection_id},
            )
            return False
        return True

    # ------------------------------------------------------------------ read

    def get(self, caller: Staff, collection_id: str) -> Collection:
        found = self.ledger.get(collection_id)
        if found is None:
            raise NotFound("no such collection")
        caller.require_record(found.branch_code, found.created_by)
        return found

    def page(
        self,
        caller: Staff,
        filters: Filters,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Collection], str | None]:
        """A listing confined to the caller's reach: their branch (or the one asked for,
        within reach), their own collections for a field officer."""
        scoped = replace(
            filters,
            branch_code=caller.branch_filter(filters.branch_code),
            created_by=caller.owner_filter(),
        )
        return self.ledger.page(scoped, limit, cursor)

    # ------------------------------------------------------------------ cancel

    def cancel(self, caller: Staff, collection_id: str, reason: str) -> Collection:
        found = self.ledger.get(collection_id)
        if found is None:
            raise NotFound("no such collection")
        caller.require_branch(found.branch_code)
        moment = self.now()
        by = caller.user.user_id
        try:
            cancelled = self.ledger.cancel(found, by, reason, ist_date(moment), moment)
        except AlreadyCancelled as done:
            earlier = done.collection
            if earlier.cancelled_by != by or earlier.cancellation_reason != reason:
                raise Conflict(
                    "this collection is cancelled already", code="ALREADY_CANCELLED"
                ) from None
            cancelled = earlier  # the same request again: the same answer
        except DayClosed as closed:
            raise Conflict(
                f"the day's DCR is {closed.status}: nothing can be cancelled from it",
                code="DAY_CLOSED",
            ) from None
        except NotSameDay:
            raise Unprocessable(
                "a receipt can be cancelled only on its business day", code="NOT_SAME_DAY"
            ) from None
        return self._cancel_recorded(cancelled)


def payer_of(request: CollectRequest, loan: LoanFacts) -> tuple[str, str | None]:
    """(payer key, payer name): the borrower by default, and when the named payer gives the
    borrower's registered mobile; otherwise the third party, by mobile."""
    payer = request.payer
    borrower = f"customer:{loan.customer_id}" if loan.customer_id else None
    if payer is None or (borrower and payer.mobile == loan.mobile_number):
        if borrower is None:
            raise Unprocessable(
                "this loan has no borrower on record: name the payer", code="PAYER_REQUIRED"
            )
        return borrower, None if payer is None else payer.name
    return f"mobile:{payer.mobile}", payer.name


def _creator(collection: Collection) -> tuple[str, str | None]:
    return collection.created_by, collection.created_by_username


def _entry(
    collection: Collection, action: str, moment: datetime, *, actor: tuple[str, str | None]
) -> AuditEntry:
    """What the audit trail keeps: never the payer's name or mobile."""
    details: dict[str, Any] = {
        "collection_id": collection.collection_id,
        "transaction_id": collection.transaction_id,
        "receipt_number": collection.receipt_number,
        "loan_account_number": collection.loan_account_number,
        "amount": collection.amount,
        "mode": collection.mode,
        "purpose": collection.purpose,
        "channel": collection.channel,
        "business_date": collection.business_date.isoformat(),
        "collected_at": clock.iso(collection.collected_at),
    }
    if collection.cancellation_reason is not None:
        details["reason"] = collection.cancellation_reason
    actor_id, username = actor
    return AuditEntry(
        action=action,
        entity_type="collection",
        entity_id=collection.collection_id,
        actor_id=actor_id,
        actor_username=username,
        branch_code=collection.branch_code,
        at=clock.iso(moment),
        details=details,
    )
