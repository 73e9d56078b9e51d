"""The engine's LMS client against the LMS simulator over HTTP: one token per client, one
post per call, every failure classified (refused; unavailable, with whether a write may have
been applied), amounts exact as Decimal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from engine.clients.lms import (
    LmsClient,
    LmsLoan,
    LmsRefused,
    LmsUnavailable,
    ReceiptPost,
    payment_mode_for,
)
from engine.dal.ddb.queue import LMS_RECEIPT, lms_queue_id, lms_receipt_payload
from engine.logic.lms_posting import receipt_post
from engine.models.payment import Payment
from engine.models.posting import QueueItem
from engine.models.status import PaymentStatus, PostingStatus
from simulators.lms import LmsSimulator
from tests.integration.engine.lms_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    WATERMARK,
    FakeClock,
    client_for,
    outstanding,
    record_pauses,
    ref,
    running_simulator,
    sent,
)
from tests.sim_http import wait_until

RECEIPTS = "/api/v1/receipts"
OAUTH = "/oauth/token"


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lms_sim(sim_clock: FakeClock) -> Iterator[LmsSimulator]:
    yield from running_simulator(sim_clock)


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_pauses(monkeypatch)


@pytest.fixture
def lms(lms_sim: LmsSimulator, pauses: list[float]) -> LmsClient:
    return client_for(lms_sim)


def receipt(n: int, amount: str = "2500.00", loan: str = "LN0000000001") -> ReceiptPost:
    return ReceiptPost(
        reference=ref(n),
        loan_account_number=loan,
        amount=Decimal(amount),
        currency="INR",
        received_at=datetime(2026, 12, 3, 15, 45, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        channel="PORTAL",
        payment_mode=payment_mode_for("upi"),
        branch_code="BR001",
        external_reference="pay_aaaaaaaaaaaaaaaaaaaa",
    )


def routes(sim: LmsSimulator) -> list[tuple[str, str, int]]:
    return [(r["method"], r["route"], r["response_status"]) for r in sim.received()]


def warm(lms: LmsClient) -> None:
    """Fetch the client's token, so a mode set next affects the call under test."""
    assert lms.loan("LN0000000001") is not None


# --------------------------------------------------------------------------- the token


def test_one_token_serves_every_call_of_a_client(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    lms.post_receipt(receipt(1))
    lms.receipt_by_reference(ref(1))
    lms.loan("LN0000000002")
    lms.loans_changed_since(WATERMARK, None, 2)
    assert lms_sim.tokens_issued == 1
    (asked,) = sent(lms_sim, "POST", OAUTH)
    assert asked["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert asked["body"]["grant_type"] == "client_credentials"
    assert [status for *_, status in routes(lms_sim)] == [200, 201, 200, 200, 200]


def test_threads_of_one_client_share_one_token(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    barrier = threading.Barrier(8)
    found: list[LmsLoan | None] = []

    def read() -> None:
        barrier.wait()
        found.append(lms.loan("LN0000000003"))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(found) == 8 and all(loan is not None for loan in found)
    assert lms_sim.tokens_issued == 1


def test_an_expired_token_is_replaced_once_and_the_post_repeated_once(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    warm(lms)
    lms_sim.expire_tokens()
    posted = lms.post_receipt(receipt(1))
    assert posted.created is True
    assert routes(lms_sim)[2:] == [
        ("POST", RECEIPTS, 401),
        ("POST", OAUTH, 200),
        ("POST", RECEIPTS, 201),
    ]
    assert len(lms_sim.receipts()) == 1


def test_a_token_is_renewed_a_minute_before_it_expires(lms_sim: LmsSimulator) -> None:
    wall = FakeClock(start=1_800_000_000.0)
    lms = client_for(lms_sim, now=wall)
    warm(lms)
    wall.advance(3600 - 61)
    warm(lms)
    assert lms_sim.tokens_issued == 1
    wall.advance(2)  # 59 s left: renewed before the LMS would refuse it
    warm(lms)
    assert lms_sim.tokens_issued == 2
    assert [status for *_, status in routes(lms_sim)] == [200, 200, 200, 200, 200]


def test_a_token_refused_again_is_unavailable_after_one_repeat() -> None:
    class Jumping(FakeClock):
        """Every reading is an hour later: each token has expired by its first use."""

        def __call__(self) -> float:
            self.advance(3600)
            return super().__call__()

    with LmsSimulator(CLIENT_ID, CLIENT_SECRET, clock=Jumping()) as short_lived:
        lms = client_for(short_lived)
        with pytest.raises(LmsUnavailable) as failed:
            lms.post_receipt(receipt(1, loan="LN0000000001"))
        assert (failed.value.status, failed.value.outcome_unknown) == (401, False)
        assert [route for _, route, _ in routes(short_lived)] == [OAUTH, RECEIPTS, OAUTH, RECEIPTS]


def test_refused_client_credentials_are_unavailable_and_nothing_is_posted(
    lms_sim: LmsSimulator,
) -> None:
    lms = client_for(lms_sim, secret="not-the-secret")
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert (failed.value.status, failed.value.outcome_unknown) == (401, False)
    assert "not-the-secret" not in str(failed.value)
    assert sent(lms_sim, "POST", RECEIPTS) == []


# --------------------------------------------------------------------------- posting


def test_a_receipt_is_created_then_answered_as_a_repeat(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    first = lms.post_receipt(receipt(1, amount="1234.50"))
    again = lms.post_receipt(receipt(1, amount="1234.50"))
    assert (first.created, again.created) == (True, False)
    assert first.receipt == again.receipt
    assert first.receipt.amount == Decimal("1234.50") and first.receipt.status == "POSTED"
    assert first.receipt.receipt_id == lms_sim.receipts()[0]["receipt_id"]
    (body, _) = (r["body"] for r in sent(lms_sim, "POST", RECEIPTS))
    assert body["amount"] == "1234.50"
    assert body["received_at"] == "2026-12-03T10:15:00.000Z"  # IST 15:45 in UTC
    assert body["payment_mode"] == "UPI"
    loan = lms.loan("LN0000000001")
    assert loan is not None
    assert loan.outstanding_amount == Decimal("1848765.50")
    assert loan.recent_receipt_references == (ref(1),)


def test_a_receipt_the_lms_answers_as_seen_before_is_a_success(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    warm(lms)
    lms_sim.set_mode("duplicate_reference", count=1)
    posted = lms.post_receipt(receipt(1))
    assert posted.created is False and posted.receipt.reference == ref(1)
    assert len(lms_sim.receipts()) == 1


@pytest.mark.parametrize(
    ("post", "refusal"),
    [
        ((2, "100.00", "LN0000000004"), (422, "LOAN_CLOSED")),
        ((3, "100.00", "LN0000000099"), (422, "LOAN_NOT_FOUND")),
        ((1, "99.00", "LN0000000001"), (409, "REFERENCE_CONFLICT")),
    ],
)
def test_a_refusal_is_final(
    lms_sim: LmsSimulator,
    lms: LmsClient,
    post: tuple[int, str, str],
    refusal: tuple[int, str],
) -> None:
    lms.post_receipt(receipt(1, amount="100.00"))
    with pytest.raises(LmsRefused) as refused:
        lms.post_receipt(receipt(*post))
    assert (refused.value.status, refused.value.code) == refusal
    assert len(sent(lms_sim, "POST", RECEIPTS)) == 2  # no repeat of a refusal


def test_a_planted_refusal_is_refused_with_its_code(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    lms_sim.refuse("LOAN_CLOSED", reference=ref(5))
    with pytest.raises(LmsRefused) as refused:
        lms.post_receipt(receipt(5))
    assert (refused.value.status, refused.value.code) == (422, "LOAN_CLOSED")
    assert lms.post_receipt(receipt(6)).created is True


@pytest.mark.parametrize("mode", ["down", "error_503"])
def test_an_unavailable_lms_did_not_take_the_post(
    lms_sim: LmsSimulator, lms: LmsClient, mode: str
) -> None:
    warm(lms)
    lms_sim.set_mode(mode, count=1)
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert (failed.value.outcome_unknown, failed.value.status) == (False, 503)
    assert len(sent(lms_sim, "POST", RECEIPTS)) == 1
    assert lms_sim.receipts() == []


def test_an_lms_down_before_any_token_did_not_take_the_post(
    lms_sim: LmsSimulator, lms: LmsClient, pauses: list[float]
) -> None:
    lms_sim.set_mode("down")
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert failed.value.outcome_unknown is False
    assert sent(lms_sim, "POST", RECEIPTS) == []
    assert len(sent(lms_sim, "POST", OAUTH)) == 3 and len(pauses) == 2  # token asked again


def test_maintenance_did_not_take_the_post_and_says_when_to_come_back(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    warm(lms)
    lms_sim.set_mode("maintenance", seconds=120)
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert (failed.value.outcome_unknown, failed.value.retry_after) == (False, 120)
    with pytest.raises(LmsUnavailable) as reading:
        lms.loan("LN0000000001")  # a read is not retried into a maintenance window
    assert reading.value.retry_after == 120
    assert len(sent(lms_sim, "POST", RECEIPTS)) == 1
    assert len(sent(lms_sim, "GET", "/api/v1/loans/LN0000000001")) == 2


@pytest.mark.parametrize(
    ("mode", "applied"), [("error_500", False), ("timeout", True), ("lost_answer", True)]
)
def test_a_post_without_a_definite_answer_is_sent_once_and_resolved_by_reference(
    lms_sim: LmsSimulator, lms: LmsClient, mode: str, applied: bool
) -> None:
    warm(lms)
    lms_sim.set_mode(mode, count=1)
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert failed.value.outcome_unknown is True
    # The simulator logs a request once it has handled it, whatever the client saw.
    wait_until(lambda: sent(lms_sim, "POST", RECEIPTS))
    assert len(sent(lms_sim, "POST", RECEIPTS)) == 1  # never posted again by the client
    found = lms.receipt_by_reference(ref(1))
    assert (found is not None) is applied
    if found is not None:
        assert found.reference == ref(1) and found.amount == Decimal("2500.00")


def test_a_post_to_an_lms_that_is_gone_was_not_sent(lms_sim: LmsSimulator) -> None:
    lms = client_for(lms_sim)
    warm(lms)
    lms_sim.stop()
    with pytest.raises(LmsUnavailable) as failed:
        lms.post_receipt(receipt(1))
    assert failed.value.outcome_unknown is False


def test_a_float_or_a_fraction_of_a_paisa_never_reaches_the_lms(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    fields: dict[str, Any] = {
        "reference": ref(1),
        "loan_account_number": "LN0000000001",
        "currency": "INR",
        "received_at": datetime.now(UTC),
        "channel": "PORTAL",
        "payment_mode": "UPI",
        "branch_code": "BR001",
    }
    amount: Any  # a float among them, on purpose
    for amount in (2500.0, Decimal("2500.005"), Decimal("0"), Decimal("-1.00"), Decimal("NaN")):
        with pytest.raises(ValueError):
            lms.post_receipt(ReceiptPost(amount=amount, **fields))
    with pytest.raises(ValueError):
        ReceiptPost(amount=Decimal("1.00"), **{**fields, "received_at": datetime(2026, 12, 3)})  # noqa: DTZ001
    assert lms_sim.received() == [] and lms.calls == 0


# --------------------------------------------------------------------------- reads


def test_a_read_is_retried_through_a_503_within_its_budget(
    lms_sim: LmsSimulator, lms: LmsClient, pauses: list[float]
) -> None:
    warm(lms)
    lms_sim.set_mode("error_503", count=1)
    loan = lms.loan("LN0000000002")
    assert loan is not None and loan.outstanding_amount == Decimal("612345.50")
    assert [status for *_, status in routes(lms_sim)][-2:] == [503, 200]
    assert len(pauses) == 1


@pytest.mark.parametrize("mode", ["error_500", "timeout", "lost_answer"])
def test_a_read_is_retried_through_no_answer(
    lms_sim: LmsSimulator, lms: LmsClient, mode: str
) -> None:
    warm(lms)
    lms_sim.set_mode(mode, count=1)
    assert lms.receipt_by_reference(ref(1)) is None
    assert len(sent(lms_sim, "GET", RECEIPTS)) == 2


def test_a_read_gives_up_when_its_attempts_are_spent(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    warm(lms)
    lms_sim.set_mode("down")
    with pytest.raises(LmsUnavailable) as failed:
        lms.loans_changed_since(WATERMARK, None, 10)
    assert failed.value.outcome_unknown is False
    assert len(sent(lms_sim, "GET", "/api/v1/loans")) == 3  # the attempt and two retries


def test_a_read_stops_at_its_budget(lms_sim: LmsSimulator, pauses: list[float]) -> None:
    lms = client_for(lms_sim, timeout_seconds=0.2, budget_seconds=0.5)
    warm(lms)
    lms_sim.set_mode("timeout")
    with pytest.raises(LmsUnavailable):
        lms.loan("LN0000000001")
    # Three attempts are allowed, but after two of 0.2 s no 0.2 s is left in 0.5 s.
    attempts = len(sent(lms_sim, "GET", "/api/v1/loans/LN0000000001")) - 1
    assert 1 <= attempts <= 2


def test_a_loan_is_read_with_exact_amounts(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    loan = lms.loan("LN0000000002")
    assert loan is not None
    assert (loan.outstanding_amount, loan.emi_amount, loan.overdue_amount) == (
        Decimal("612345.50"),
        Decimal("18000.00"),
        Decimal("36000.00"),
    )
    assert (loan.status, loan.days_past_due, loan.next_due_date) == (
        "ACTIVE",
        40,
        date(2026, 10, 24),
    )
    closed = lms.loan("LN0000000004")
    assert closed is not None and closed.next_due_date is None
    assert lms.loan("LN0000000099") is None


def test_loans_are_read_page_by_page(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    seen: list[str] = []
    page = lms.loans_changed_since(WATERMARK, None, 2)
    seen += [loan.loan_account_number for loan in page.items]
    lms.post_receipt(receipt(1, loan="LN0000000002"))  # a loan already read changes
    while page.next_cursor is not None:
        page = lms.loans_changed_since(WATERMARK, page.next_cursor, 2)
        seen += [loan.loan_account_number for loan in page.items]
    assert seen == [f"LN000000000{n}" for n in (1, 2, 3, 4, 5, 2)]
    newest = lms.loans_changed_since(page.items[-1].updated_at, None, 100)
    assert [loan.loan_account_number for loan in newest.items] == ["LN0000000002"]
    assert newest.items[0].recent_receipt_references == (ref(1),)
    calls = lms.calls
    for watermark, limit in ((WATERMARK, 501), (WATERMARK, 0), ("yesterday", 10)):
        with pytest.raises(ValueError):
            lms.loans_changed_since(watermark, None, limit)
    assert lms.calls == calls
    with pytest.raises(LmsRefused) as refused:
        lms.loans_changed_since(WATERMARK, "not-a-cursor-it-gave", 10)
    assert (refused.value.status, refused.value.code) == (400, "VALIDATION_FAILED")


def test_a_cancellation_restores_the_loan(lms_sim: LmsSimulator, lms: LmsClient) -> None:
    posted = lms.post_receipt(receipt(1, amount="500.00"))
    cancelled = lms.cancel_receipt(posted.receipt.receipt_id, "cheque bounced")
    assert cancelled.status == "CANCELLED" and cancelled.cancelled_at is not None
    assert lms.cancel_receipt(posted.receipt.receipt_id, "cheque bounced") == cancelled
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1850000.00")
    found = lms.receipt_by_reference(ref(1))
    assert found is not None and found.status == "CANCELLED"
    with pytest.raises(LmsRefused) as refused:
        lms.cancel_receipt("LMSR0000009999", "bounced")
    assert (refused.value.status, refused.value.code) == (404, "RECEIPT_NOT_FOUND")
    with pytest.raises(ValueError):
        lms.cancel_receipt(posted.receipt.receipt_id, "")


@pytest.mark.parametrize(
    ("method", "mode"),
    [
        ("upi", "UPI"),
        ("card", "CARD"),
        ("netbanking", "NETBANKING"),
        ("wallet", "WALLET"),
        ("emi", "EMI"),
        ("cardless_emi", "EMI"),
        ("emandate", "NACH"),
        ("paylater", "OTHER"),
        ("bank_transfer", "OTHER"),
        ("UPI", "UPI"),
        (None, "OTHER"),
    ],
)
def test_razorpay_methods_map_onto_the_contracts_payment_modes(
    method: str | None, mode: str
) -> None:
    assert payment_mode_for(method) == mode


# --------------------------------------------------------------------------- staff collections


def staff_item(n: int, channel: str, mode: str, purpose: str, amount: str = "2500.00") -> QueueItem:
    """An LMS_RECEIPT item as a staff collection queues it: the capture's payload
    (engine.dal.ddb.queue) with the collection's purpose added (engine.dal.ddb.collections)."""
    at = "2026-12-03T05:10:00.000Z"
    payment = Payment(
        transaction_id=f"pay_{n:018d}col",
        loan_account_number="LN0000000001",
        branch_code="BR001",
        customer_id="c-1",
        amount=Decimal(amount),
        status=PaymentStatus.CAPTURED,
        created_date=at,
        updated_at=at,
        idempotency_key_hash="h",
        channel=channel,
        payment_method=mode.lower(),  # as Collection.payment() writes it
        receipt_number=ref(n),
        captured_at=at,
    )
    payload = lms_receipt_payload(payment) | {"purpose": purpose}
    queue_id = lms_queue_id(payment.transaction_id)
    return QueueItem(
        queue_id, LMS_RECEIPT, payment.transaction_id, PostingStatus.PENDING, 0, at, payload
    )


def test_a_field_cash_instalment_posts_and_reduces_the_outstanding(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    posted = lms.post_receipt(receipt_post(staff_item(1, "FIELD", "CASH", "EMI")))
    assert posted.created is True and posted.receipt.purpose == "EMI"
    assert outstanding(lms_sim, "LN0000000001") == Decimal("1847500.00")
    (asked,) = sent(lms_sim, "POST", RECEIPTS)
    body = asked["body"]
    assert (body["channel"], body["payment_mode"], body["purpose"]) == ("FIELD", "CASH", "EMI")
    assert "external_reference" not in body  # cash has no provider's id


def test_a_legal_fee_posts_and_leaves_the_outstanding_alone_cancelled_or_not(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    before = lms_sim.loan("LN0000000001")
    fee = receipt_post(staff_item(1, "BRANCH", "CASH", "LEGAL_FEE", amount="1500.00"))
    posted = lms.post_receipt(fee)
    assert (posted.created, posted.receipt.purpose) == (True, "LEGAL_FEE")
    assert lms_sim.loan("LN0000000001") == before
    assert lms.post_receipt(fee).created is False  # a repeat, still nothing applied
    cancelled = lms.cancel_receipt(posted.receipt.receipt_id, "wrong purpose")
    assert cancelled.status == "CANCELLED" and cancelled.purpose == "LEGAL_FEE"
    assert lms_sim.loan("LN0000000001") == before


def test_the_same_receipt_number_as_an_instalment_and_as_a_fee_is_a_conflict(
    lms: LmsClient,
) -> None:
    lms.post_receipt(receipt_post(staff_item(1, "FIELD", "CASH", "EMI")))
    with pytest.raises(LmsRefused) as refused:
        lms.post_receipt(receipt_post(staff_item(1, "FIELD", "CASH", "OTHER_FEE")))
    assert (refused.value.status, refused.value.code) == (409, "REFERENCE_CONFLICT")


def test_a_demand_draft_posts_as_a_demand_draft_with_its_number(
    lms_sim: LmsSimulator, lms: LmsClient
) -> None:
    draft = replace(
        receipt_post(staff_item(1, "FIELD", "DEMAND_DRAFT", "CHALLAN")),
        instrument_number="004512",
    )
    assert draft.payment_mode == "DEMAND_DRAFT"
    lms.post_receipt(draft)
    (book,) = lms_sim.receipts()
    assert (book["payment_mode"], book["purpose"], book["instrument_number"]) == (
        "DEMAND_DRAFT",
        "CHALLAN",
        "004512",
    )


@pytest.mark.parametrize(
    ("channel", "method", "mode"),
    [
        ("FIELD", "cash", "CASH"),
        ("BRANCH", "cheque", "CHEQUE"),
        ("FIELD", "demand_draft", "DEMAND_DRAFT"),
        ("BRANCH", "DEMAND_DRAFT", "DEMAND_DRAFT"),
    ],
)
def test_staff_modes_map_onto_the_contracts_payment_modes(
    channel: str, method: str, mode: str
) -> None:
    assert payment_mode_for(method, channel) == mode


@pytest.mark.parametrize("method", ["upi", "card", None, "", "cheques"])
def test_a_staff_collection_in_a_mode_staff_never_take_is_refused(method: str | None) -> None:
    with pytest.raises(ValueError):
        payment_mode_for(method, "FIELD")


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": "PENALTY"},
        {"purpose": "emi"},
        {"channel": "DOORSTEP"},
        {"instrument_number": "004512"},  # on a cash receipt
        {"payment_mode": "CHEQUE", "instrument_number": "4512"},
        {"payment_mode": "CHEQUE", "instrument_number": "1" * 21},
    ],
)
def test_a_staff_receipt_the_contract_does_not_take_cannot_be_made(change: dict[str, Any]) -> None:
    good = receipt_post(staff_item(1, "FIELD", "CASH", "EMI"))
    with pytest.raises(ValueError):
        replace(good, **change)
