"""The staff collection rules (engine.logic.collections) with the stores replaced by
in-memory fakes: the request shape, the idempotent replay, the loan and amount checks, the
payer the cash limit counts, the 503 after PostgreSQL's commit and its completion, the
cancellation's outcomes, and the listing's reach."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from engine.dal.pg.business_day import DayClosed
from engine.dal.pg.collections import (
    AlreadyCancelled,
    CashLimitExceeded,
    Filters,
    KeyTaken,
    LoanFacts,
    NotSameDay,
)
from engine.handlers.internal.staff import Caller
from engine.logic import collections as rules
from engine.logic.collections import CollectionService, Limits
from engine.models.collections import CANCEL, COLLECT, Collection, CollectRequest, NewCollection
from engine.models.errors import InvalidRequest
from engine.models.rbac import Scope
from engine.models.staff import StaffUser
from shared.http import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    ValidationError,
)
from tests.collections_support import FakeCounters, FakeRecords, body

NOW = datetime(2026, 12, 3, 6, 30, tzinfo=UTC)  # 12:00 IST
TODAY = date(2026, 12, 3)
CUSTOMER = "7b0c3a52-0c1e-4c8e-9d65-2a9f5b1c0e11"
LOAN = LoanFacts(
    "LN0000000001", CUSTOMER, "9876543210", "BR001", "ACTIVE", Decimal("1000.00"), Decimal(0)
)
CASHIER = StaffUser("u-cashier", "cashier.br001", "c@x.example", "BR001", True, "BranchCashier")
OFFICER = StaffUser("u-officer", "officer.br001", "o@x.example", "BR001", True, "FieldOfficer")
MANAGER = StaffUser("u-manager", "manager.br001", "m@x.example", "BR001", True, "BranchManager")
OTHER_MANAGER = StaffUser("u-m2", "manager.br002", "n@x.example", "BR002", True, "BranchManager")


def caller(user: StaffUser, permission: str = "collections:create") -> Caller:
    reach = {
        "BranchCashier": Scope.OWN_BRANCH,
        "FieldOfficer": Scope.OWN_RECORDS,
        "BranchManager": Scope.OWN_BRANCH,
    }[user.role or ""]
    return Caller(user, frozenset({user.role or ""}), permission, reach)


@dataclass
class FakeLedger:
    loans: dict[str, LoanFacts] = field(default_factory=lambda: {LOAN.loan_account_number: LOAN})
    rows: dict[str, Collection] = field(default_factory=dict)
    refuse: Exception | None = None  # what insert/cancel raise instead
    receipts_taken: int = 0

    def get(self, collection_id: str) -> Collection | None:
        return self.rows.get(collection_id)

    def by_key(self, created_by: str, key_hash: str) -> Collection | None:
        return next(
            (
                c
                for c in self.rows.values()
                if c.created_by == created_by and c.idempotency_key_hash == key_hash
            ),
            None,
        )

    def loan(self, loan_account_number: str) -> LoanFacts | None:
        return self.loans.get(loan_account_number)

    def page(self, filters: Filters, limit: int, cursor: str | None) -> Any:
        self.asked = filters
        return [], None

    def unrecorded(self, before: datetime, limit: int) -> list[Collection]:
        return [c for c in self.rows.values() if c.recorded_at is None and c.created_at < before]

    def cancel_unrecorded(self, before: datetime, limit: int) -> list[Collection]:
        return [
            c
            for c in self.rows.values()
            if c.is_cancelled and c.cancel_recorded_at is None and c.cancelled_at
        ]

    def insert(
        self, new: NewCollection, today: date, cash_limit: Decimal, receipt: Callable[[], str]
    ) -> Collection:
        if self.refuse is not None:
            raise self.refuse
        if self.by_key(new.created_by, new.idempotency_key_hash):
            raise KeyTaken("taken")
        self.receipts_taken += 1
        number = receipt()
        row = Collection(
            collection_id=f"00000000-0000-4000-8000-{len(self.rows):012d}",
            receipt_number=number,
            business_date=today,
            created_by_username="someone",
            status="CAPTURED",
            created_at=NOW - timedelta(minutes=1),
            **vars(new),
        )
        self.rows[row.collection_id] = row
        return row

    def cancel(
        self, found: Collection, by: str, reason: str, today: date, at: datetime
    ) -> Collection:
        if self.refuse is not None:
            raise self.refuse
        cancelled = replace(
            found,
            status="CANCELLED",
            cancelled_by=by,
            cancelled_by_username="manager",
            cancelled_at=at,
            cancellation_reason=reason,
        )
        self.rows[found.collection_id] = cancelled
        return cancelled

    def mark_recorded(self, collection_id: str, at: datetime) -> None:
        self.rows[collection_id] = replace(self.rows[collection_id], recorded_at=at)

    def mark_cancel_recorded(self, collection_id: str, at: datetime) -> None:
        self.rows[collection_id] = replace(self.rows[collection_id], cancel_recorded_at=at)


@dataclass
class World:
    ledger: FakeLedger
    records: FakeRecords
    counters: FakeCounters
    service: CollectionService


@pytest.fixture
def world() -> World:
    ledger, records, counters = FakeLedger(), FakeRecords(), FakeCounters()
    limits = Limits(cash_per_payer_per_day=Decimal("200000"), max_age_days=7)
    service = CollectionService(ledger, records, counters, limits, now=lambda: NOW)
    return World(ledger, records, counters, service)


# --- the request shape


def test_an_amount_is_a_number_or_a_decimal_string_with_at_most_two_places() -> None:
    assert body(amount=250).amount == Decimal("250.00")
    assert body(amount="250.5").amount == Decimal("250.50")
    for bad in ("250.555", 0, "-5", "1e3", True, 10**10):
        with pytest.raises(InvalidRequest):
            body(amount=bad)


def test_a_cheque_needs_its_instrument_and_cash_takes_none() -> None:
    instrument = {"number": "004512", "bank_name": "State Bank", "instrument_date": "2026-12-01"}
    cheque = body(mode="CHEQUE", instrument=instrument)
    assert cheque.instrument is not None
    assert cheque.instrument.instrument_date == date(2026, 12, 1)
    with pytest.raises(InvalidRequest) as missing:
        body(mode="DEMAND_DRAFT")
    assert missing.value.details == [
        {"field": "instrument", "issue": "required for a cheque or a demand draft"}
    ]
    with pytest.raises(InvalidRequest):
        body(instrument=instrument)  # cash


def test_nested_problems_are_named_and_unknown_fields_refused() -> None:
    with pytest.raises(InvalidRequest) as broken:
        body(mode="CHEQUE", instrument={"number": "12", "bank_name": "SBI"})
    (problem,) = broken.value.details
    assert problem["field"] == "instrument"
    assert "number" in problem["issue"]
    assert "instrument_date: required" in problem["issue"]
    with pytest.raises(InvalidRequest):
        body(surprise=1)
    with pytest.raises(InvalidRequest):
        body(collected_at="2026-12-03T11:40:00")  # no offset
    with pytest.raises(InvalidRequest):
        body(collected_at="2026-13-03T11:40:00Z")  # no such month


def test_a_payer_mobile_is_kept_as_ten_digits() -> None:
    request = body(payer={"name": "Suresh", "mobile": "+919123456789"})
    assert request.payer is not None
    assert request.payer.mobile == "9123456789"


def test_one_request_written_two_ways_is_one_fingerprint() -> None:
    first = body(amount=500, collected_at="2026-12-03T11:40:00+05:30")
    second = body(amount="500.00", collected_at="2026-12-03T06:10:00Z")
    assert first.fingerprint() == second.fingerprint()
    assert first.fingerprint() != body(amount="500.01").fingerprint()


def test_a_reason_is_required_and_trimmed() -> None:
    assert CANCEL.parse(b'{"reason": "  wrong loan  "}').reason == "wrong loan"
    for bad in (b'{"reason": "   "}', b'{"reason": ""}', b"{}", b'{"reason": "a\\nb"}'):
        with pytest.raises(InvalidRequest):
            CANCEL.parse(bad)


# --- taking a collection


def test_a_collection_is_written_recorded_and_audited_without_the_payer(world: World) -> None:
    done = world.service.collect(
        caller(CASHIER), body(payer={"name": "Suresh", "mobile": "9123456789"}), "key-000001"
    )
    collection = done.collection
    assert not done.replayed
    assert collection.receipt_number == "BR001/2026-27/000001"
    assert collection.channel == "BRANCH"
    assert collection.payer_key == "mobile:9123456789"
    assert collection.recorded_at == NOW
    ((kind, _, entry),) = world.records.written
    assert kind == "capture"
    assert entry.action == "COLLECTION_CREATED"
    assert entry.details["amount"] == "500.00"
    text = json.dumps(entry.details)
    assert "Suresh" not in text
    assert "9123456789" not in text
    assert "9123456789" not in json.dumps(collection.view(), default=str)


def test_a_field_officers_collection_is_a_field_one(world: World) -> None:
    done = world.service.collect(caller(OFFICER), body(), "key-000001")
    assert done.collection.channel == "FIELD"
    assert done.collection.payer_key == f"customer:{CUSTOMER}"


def test_a_third_party_with_the_borrowers_mobile_is_the_borrower(world: World) -> None:
    request = body(payer={"name": "Ravi", "mobile": "9876543210"})
    done = world.service.collect(caller(CASHIER), request, "key-000001")
    assert done.collection.payer_key == f"customer:{CUSTOMER}"


def test_the_same_key_and_body_replays_another_body_is_409(world: World) -> None:
    first = world.service.collect(caller(CASHIER), body(), "key-000001")
    again = world.service.collect(caller(CASHIER), body(amount=500), "key-000001")
    assert again.replayed
    assert again.collection.collection_id == first.collection.collection_id
    assert world.ledger.receipts_taken == 1
    assert len(world.records.written) == 1
    with pytest.raises(Conflict):
        world.service.collect(caller(CASHIER), body(amount="501.00"), "key-000001")
    # Keys are each staff member's own.
    other = world.service.collect(caller(OFFICER), body(), "key-000001")
    assert other.collection.collection_id != first.collection.collection_id


def test_a_key_taken_meanwhile_replays_the_collection_written_under_it(world: World) -> None:
    first = world.service.collect(caller(CASHIER), body(), "key-000001")
    world.ledger.refuse = KeyTaken("taken")
    # by_key finds nothing before the insert (as when both requests read at once) ...
    found = {"calls": 0}
    original = world.ledger.by_key

    def racing(created_by: str, key_hash: str) -> Collection | None:
        found["calls"] += 1
        return None if found["calls"] == 1 else original(created_by, key_hash)

    world.ledger.by_key = racing  # type: ignore[method-assign]
    again = world.service.collect(caller(CASHIER), body(), "key-000001")
    assert again.replayed
    assert again.collection.collection_id == first.collection.collection_id


def test_unknown_loans_other_branches_and_closed_loans_are_refused(world: World) -> None:
    with pytest.raises(NotFound):
        world.service.collect(caller(CASHIER), body(loan_account_number="LN9999999999"), "k-0001x")
    world.ledger.loans["LN0000000002"] = replace(
        LOAN, loan_account_number="LN0000000002", branch_code="BR002"
    )
    with pytest.raises(Forbidden):
        world.service.collect(caller(CASHIER), body(loan_account_number="LN0000000002"), "k-0002x")
    world.ledger.loans["LN0000000003"] = replace(
        LOAN, loan_account_number="LN0000000003", status="CLOSED"
    )
    with pytest.raises(Unprocessable) as closed:
        world.service.collect(caller(CASHIER), body(loan_account_number="LN0000000003"), "k-0003x")
    assert closed.value.code == "LOAN_CLOSED"
    assert world.ledger.rows == {}


def test_an_emi_above_what_is_payable_now_is_refused_a_fee_is_not(world: World) -> None:
    world.counters.captured_total = Decimal("300.00")  # captured, not yet synced
    with pytest.raises(Unprocessable) as refused:
        world.service.collect(caller(CASHIER), body(amount="700.01"), "key-000001")
    assert refused.value.code == "AMOUNT_EXCEEDS_OUTSTANDING"
    assert refused.value.details[0]["payable"] == "700.00"
    assert world.service.collect(caller(CASHIER), body(amount="700.00"), "key-000002")
    fee = body(amount="5000.00", purpose="LEGAL_FEE")
    assert world.service.collect(caller(CASHIER), fee, "key-000003").collection.purpose


def test_collected_at_and_instrument_dates_are_bounded(world: World) -> None:
    service, who = world.service, caller(CASHIER)
    with pytest.raises(ValidationError):
        service.collect(who, body(collected_at="2026-12-03T06:36:00Z"), "key-000001")
    assert service.collect(who, body(collected_at="2026-12-03T06:34:00Z"), "key-000002")
    with pytest.raises(ValidationError):
        service.collect(who, body(collected_at="2026-11-26T06:29:00Z"), "key-000003")

    def cheque(dated: str) -> CollectRequest:
        number = {"number": "004512", "bank_name": "SBI", "instrument_date": dated}
        return body(mode="CHEQUE", instrument=number)

    with pytest.raises(ValidationError) as post_dated:
        service.collect(who, cheque("2026-12-04"), "key-000004")
    assert post_dated.value.details[0]["field"] == "instrument.instrument_date"
    with pytest.raises(ValidationError):
        service.collect(who, cheque("2026-08-01"), "key-000005")
    assert service.collect(who, cheque("2026-12-03"), "key-000006")


def test_the_cash_limit_refusal_names_only_the_limit(world: World) -> None:
    world.ledger.refuse = CashLimitExceeded("over")
    with pytest.raises(Unprocessable) as refused:
        world.service.collect(caller(CASHIER), body(), "key-000001")
    assert refused.value.code == "CASH_LIMIT_EXCEEDED"
    assert "200000.00" in refused.value.message
    assert refused.value.details == []


def test_no_open_day_is_a_409(world: World) -> None:
    world.ledger.refuse = DayClosed("BR001", TODAY + timedelta(days=1), "APPROVED")
    with pytest.raises(Conflict) as closed:
        world.service.collect(caller(CASHIER), body(), "key-000001")
    assert closed.value.code == "DAY_CLOSED"


def test_dynamodb_failing_after_the_commit_is_a_503_the_same_key_completes(world: World) -> None:
    world.records.failing = 1
    with pytest.raises(ServiceUnavailable):
        world.service.collect(caller(CASHIER), body(), "key-000001")
    (written,) = world.ledger.rows.values()
    assert written.recorded_at is None
    again = world.service.collect(caller(CASHIER), body(), "key-000001")
    assert again.replayed
    assert again.collection.recorded_at == NOW
    assert world.ledger.receipts_taken == 1
    assert [kind for kind, _, _ in world.records.written] == ["capture"]


def test_the_repair_job_completes_what_no_request_came_back_for(world: World) -> None:
    world.records.failing = 1
    with pytest.raises(ServiceUnavailable):
        world.service.collect(caller(CASHIER), body(), "key-000001")
    # Written a minute ago: its own request may still be completing it.
    assert world.service.complete_unrecorded(300) == rules.Completed()
    assert world.service.complete_unrecorded(30) == rules.Completed(recorded=1)
    assert world.service.complete_unrecorded(30) == rules.Completed()
    assert len(world.records.written) == 1


# --- cancelling


def taken(world: World) -> Collection:
    return world.service.collect(caller(CASHIER), body(), "key-000001").collection


def test_a_cancellation_is_recorded_with_its_reason_and_repeats_answer_the_same(
    world: World,
) -> None:
    collection = taken(world)
    manager = caller(MANAGER, "collections:cancel")
    cancelled = world.service.cancel(manager, collection.collection_id, "wrong loan")
    assert cancelled.status == "CANCELLED"
    assert cancelled.cancel_recorded_at == NOW
    kind, _, entry = world.records.written[-1]
    assert (kind, entry.action, entry.actor_id) == ("cancel", "COLLECTION_CANCELLED", "u-manager")
    assert entry.details["reason"] == "wrong loan"

    world.ledger.refuse = AlreadyCancelled(world.ledger.rows[collection.collection_id])
    again = world.service.cancel(manager, collection.collection_id, "wrong loan")
    assert again.collection_id == collection.collection_id
    assert len(world.records.written) == 2  # nothing written twice
    with pytest.raises(Conflict) as twice:
        world.service.cancel(manager, collection.collection_id, "another reason")
    assert twice.value.code == "ALREADY_CANCELLED"


def test_cancellation_refusals(world: World) -> None:
    collection = taken(world)
    with pytest.raises(Forbidden):
        world.service.cancel(
            caller(OTHER_MANAGER, "collections:cancel"), collection.collection_id, "x"
        )
    manager = caller(MANAGER, "collections:cancel")
    world.ledger.refuse = DayClosed("BR001", TODAY, "SUBMITTED")
    with pytest.raises(Conflict) as closed:
        world.service.cancel(manager, collection.collection_id, "x")
    assert closed.value.code == "DAY_CLOSED"
    world.ledger.refuse = NotSameDay("yesterday's")
    with pytest.raises(Unprocessable) as late:
        world.service.cancel(manager, collection.collection_id, "x")
    assert late.value.code == "NOT_SAME_DAY"
    with pytest.raises(NotFound):
        world.service.cancel(manager, "00000000-0000-4000-8000-999999999999", "x")


def test_a_cancellation_of_an_unrecorded_collection_records_the_capture_first(
    world: World,
) -> None:
    world.records.failing = 1
    with pytest.raises(ServiceUnavailable):
        world.service.collect(caller(CASHIER), body(), "key-000001")
    (collection,) = world.ledger.rows.values()
    world.service.cancel(caller(MANAGER, "collections:cancel"), collection.collection_id, "dup")
    assert [kind for kind, _, _ in world.records.written] == ["capture", "cancel"]


# --- reading


def test_a_field_officer_lists_and_reads_only_their_own(world: World) -> None:
    collection = taken(world)  # the cashier's
    officer = caller(OFFICER, "collections:read")
    world.service.page(officer, Filters(), 10, None)
    assert world.ledger.asked == Filters(branch_code="BR001", created_by="u-officer")
    with pytest.raises(Forbidden):
        world.service.get(officer, collection.collection_id)
    with pytest.raises(Forbidden):
        world.service.page(officer, Filters(branch_code="BR002"), 10, None)
    manager = caller(MANAGER, "collections:read")
    assert world.service.get(manager, collection.collection_id) == collection


# --- the gateway's model and the parser agree (the gateway never refuses what parses)

_OK = {
    "loan_account_number": "LN0000000001",
    "amount": "500.00",
    "mode": "CASH",
    "purpose": "EMI",
    "collected_at": "2026-12-03T11:40:00+05:30",
}
_CHEQUE = {
    **_OK,
    "mode": "CHEQUE",
    "instrument": {"number": "004512", "bank_name": "SBI", "instrument_date": "2026-12-01"},
}
BOTH, GATEWAY, PARSER = "both accept", "gateway refuses", "only the parser refuses"
CORPUS: list[tuple[Any, dict[str, Any], str]] = [
    (COLLECT, _OK, BOTH),
    (COLLECT, {**_OK, "amount": 500}, BOTH),
    (COLLECT, _CHEQUE, BOTH),
    (COLLECT, {**_OK, "payer": {"name": "Suresh", "mobile": "+919123456789"}}, BOTH),
    (COLLECT, {**_OK, "collected_at": "2026-12-03T06:10:00.5Z"}, BOTH),
    (COLLECT, {**_OK, "mode": "UPI"}, GATEWAY),
    (COLLECT, {**_OK, "purpose": "emi"}, GATEWAY),
    (COLLECT, {**_OK, "collected_at": "2026-12-03 11:40"}, GATEWAY),
    (COLLECT, {**_OK, "collected_at": "2026-02-30T11:40:00Z"}, PARSER),
    (COLLECT, {**_OK, "amount": "500.001"}, GATEWAY),
    (COLLECT, {**_OK, "extra": 1}, GATEWAY),
    (COLLECT, {**_CHEQUE, "instrument": {"number": "004512", "bank_name": "SBI"}}, GATEWAY),
    (COLLECT, {**_CHEQUE, "mode": "CASH"}, PARSER),  # an instrument with cash
    (COLLECT, {**_OK, "mode": "DEMAND_DRAFT"}, PARSER),  # a draft without one
    (COLLECT, {**_OK, "payer": {"name": "S", "mobile": "9123456789"}}, GATEWAY),
    (COLLECT, {**_OK, "payer": {"name": "Suresh", "mobile": "5123456789"}}, GATEWAY),
    (CANCEL, {"reason": "wrong loan"}, BOTH),
    (CANCEL, {"reason": "   "}, PARSER),
    (CANCEL, {"reason": "x" * 501}, GATEWAY),
    (CANCEL, {"reason": "a\tb"}, GATEWAY),
]


@pytest.mark.parametrize(("shape", "document", "verdict"), CORPUS)
def test_the_gateway_is_never_stricter_than_the_parser(
    shape: Any, document: dict[str, Any], verdict: str
) -> None:
    model = {k: v for k, v in shape.gateway_model().items() if k != "$schema"}
    exact = json.loads(json.dumps(model), parse_float=Decimal)
    gateway = jsonschema.Draft4Validator(exact).is_valid(document)
    try:
        shape.parse(json.dumps(document).encode())
        parser = True
    except InvalidRequest:
        parser = False
    expected = {BOTH: (True, True), GATEWAY: (False, False), PARSER: (True, False)}[verdict]
    assert (gateway, parser) == expected
