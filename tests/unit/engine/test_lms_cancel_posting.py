"""A cancelled receipt's reversal at the LMS (LMS_CANCEL outbox items) through the poster's
own claim, in-doubt, backoff and EXCEPTION machinery, on moto with a scripted LMS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import pytest

from engine.clients.lms import REASON_MAX, LmsRefused, LmsUnavailable, ReceiptPost
from engine.dal.ddb.intervention import InterventionStore
from engine.dal.ddb.queue import (
    LMS_CANCEL,
    LMS_RECEIPT,
    QueueStore,
    lms_cancel_queue_id,
    lms_queue_id,
)
from engine.declarations import EVENT_SOURCES, LMS_POSTER
from engine.handlers.consumers.lms_poster import due_queue_ids
from engine.logic.lms_posting import (
    CANCELLED,
    NOT_AT_LMS,
    PostingPolicy,
    queue_gauges,
    queue_gauges_by_type,
)
from engine.models.lms_admin import posting_view
from engine.models.status import PostingStatus
from engine.tables import TRANSACTION_QUEUE, TRANSACTIONS
from shared import ddb, ddb_writes
from shared.store_errors import Conflict
from tests.posting_support import (
    NOW,
    POLICY,
    TIME_LEFT,
    Clock,
    Posted,
    PosterHarness,
    Receipt,
    stores,
)

P = PostingStatus
TXN = "pay_aaaaaaaaaaaaaaaaaaab"
RECEIPT = "BR001/2026-27/000001"
CANCELLED_AT = "2027-01-15T07:59:00.000Z"  # our cancellation, a minute before NOW
LMS_CANCELLED_AT = "2027-01-15T08:00:01Z"  # the LMS's stamp, as it writes it


def test_the_cancel_op_queues_one_pending_reversal_once(dynamodb: Any) -> None:
    dynamodb.create_table(**TRANSACTION_QUEUE.create_table_kwargs(TRANSACTION_QUEUE.logical_name))
    queue = QueueStore(TRANSACTION_QUEUE.logical_name)
    op = queue.lms_cancel_op(TXN, RECEIPT, "wrong loan", CANCELLED_AT, NOW, "LN0000000001")
    ddb_writes.transact(dynamodb, [op])

    raw = dynamodb.get_item(
        TableName=TRANSACTION_QUEUE.logical_name,
        Key=ddb.to_item({"queue_id": f"lmscancel#{TXN}"}),
    )["Item"]
    assert ddb.from_item(raw) == {
        "queue_id": lms_cancel_queue_id(TXN),
        "queue_type": LMS_CANCEL,
        "status": "PENDING",
        "retry_timestamp": NOW,
        "attempts": 0,
        "transaction_id": TXN,
        "created_at": CANCELLED_AT,
        "payload": {
            "transaction_id": TXN,
            "receipt_number": RECEIPT,
            "reason": "wrong loan",
            "cancelled_at": CANCELLED_AT,
            "loan_account_number": "LN0000000001",
        },
    }
    # A second cancellation of the same receipt queues nothing more.
    with pytest.raises(ddb_writes.Cancelled):
        ddb_writes.transact(dynamodb, [queue.lms_cancel_op(TXN, RECEIPT, "again", "t", NOW + 1)])


# ---------------------------------------------------------------------------- the poster


@dataclass
class BookLms:
    """An LMS with a book: what is posted can be found and cancelled. `fail` scripts the
    answers per operation: an exception raised instead, or ("applied", exception): the
    operation lands and then the answer is lost."""

    book: dict[str, Receipt] = field(default_factory=dict)
    fail: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _scripted(self, op: str) -> tuple[bool, Exception | None]:
        queued = self.fail.get(op) or []
        answer = queued.pop(0) if queued else None
        if isinstance(answer, tuple):
            return True, answer[1]
        return answer is None, answer

    def post_receipt(self, receipt: ReceiptPost) -> Posted:
        self.calls.append(("post", receipt.reference))
        apply, error = self._scripted("post")
        if apply:
            self.book.setdefault(receipt.reference, Receipt(f"LMSR{len(self.book) + 1:010d}"))
        if error:
            raise error
        return Posted(self.book[receipt.reference])

    def receipt_by_reference(self, reference: str) -> Receipt | None:
        self.calls.append(("find", reference))
        _, error = self._scripted("find")
        if error:
            raise error
        return self.book.get(reference)

    def cancel_receipt(self, receipt_id: str, reason: str) -> Receipt:
        self.calls.append(("cancel", f"{receipt_id}: {reason}"))
        apply, error = self._scripted("cancel")
        [receipt] = [r for r in self.book.values() if r.receipt_id == receipt_id]
        if apply and receipt.status != CANCELLED:
            receipt.status, receipt.cancelled_at = CANCELLED, LMS_CANCELLED_AT
        if error:
            raise error
        return receipt

    def cancels(self) -> list[str]:
        return [what for op, what in self.calls if op == "cancel"]


def unknown() -> LmsUnavailable:
    return LmsUnavailable("no answer to POST .../cancellation", outcome_unknown=True)


def down() -> LmsUnavailable:
    return LmsUnavailable("503 UNAVAILABLE", outcome_unknown=False)


@dataclass
class Harness(PosterHarness):
    lms: BookLms

    def post(self, *ids: str, policy: PostingPolicy = POLICY) -> dict[str, int]:
        return self.poster(policy).post(list(ids), lambda: TIME_LEFT)

    def queue_receipt(self, txn: str, n: int = 1) -> str:
        item = {
            "queue_id": lms_queue_id(txn),
            "queue_type": LMS_RECEIPT,
            "retry_timestamp": NOW,
            "status": "PENDING",
            "attempts": 0,
            "transaction_id": txn,
            "created_at": "2026-12-03T06:40:00.000Z",
            "payload": {
                "transaction_id": txn,
                "receipt_number": receipt_number(n),
                "loan_account_number": "LN0000000001",
                "branch_code": "BR001",
                "amount": Decimal("2500.00"),
                "currency": "INR",
                "channel": "BRANCH",
                "payment_method": "cash",
                "captured_at": "2026-12-03T06:40:00.000Z",
            },
        }
        self.dynamodb.put_item(TableName=TRANSACTION_QUEUE.logical_name, Item=ddb.to_item(item))
        return lms_queue_id(txn)

    def cancel(self, txn: str, n: int = 1, reason: str = "wrong loan") -> str:
        """The cancellation's write, as engine.logic.collections makes it."""
        queue = QueueStore(TRANSACTION_QUEUE.logical_name)
        op = queue.lms_cancel_op(txn, receipt_number(n), reason, CANCELLED_AT, NOW)
        ddb_writes.transact(self.dynamodb, [op])
        return lms_cancel_queue_id(txn)

    def at_lms(self, n: int = 1, status: str = "POSTED") -> Receipt:
        receipt = Receipt(
            f"LMSR{n:010d}", status, LMS_CANCELLED_AT if status == CANCELLED else None
        )
        self.lms.book[receipt_number(n)] = receipt
        return receipt


def receipt_number(n: int) -> str:
    return f"BR001/2026-27/{n:06d}"


@pytest.fixture
def h(dynamodb: Any) -> Iterator[Harness]:
    store, breaker = stores(dynamodb)
    yield Harness(dynamodb, store, breaker, BookLms(), Clock())


def test_a_reversal_is_posted_when_the_receipt_is_at_the_lms(h: Harness) -> None:
    txn = h.captured()
    h.at_lms()
    queue_id = h.cancel(txn)

    assert h.post(queue_id)["cancelled"] == 1

    assert h.lms.cancels() == ["LMSR0000000001: wrong loan"]
    item = h.item(queue_id)
    assert (item.status, item.lms_receipt_id, item.cancelled_at, item.in_doubt) == (
        P.POSTED,
        "LMSR0000000001",
        LMS_CANCELLED_AT,
        False,
    )
    assert item.retry_timestamp is None and h.store.due(NOW + 10**6, 10) == []
    marked = h.transaction(txn)
    # A new version, so the stream sync carries the reversal as it carries the posting.
    assert (marked["lms_cancelled_at"], marked["version"]) == ("2027-01-15T08:00:00.000Z", 4)
    assert "lms_receipt_id" not in marked  # the receipt's own posting sets that, not this
    assert h.store.get(lms_queue_id(txn)) is None  # no receipt item left to mark: none made
    assert h.post(queue_id)["skipped"] == 1 and len(h.lms.cancels()) == 1


def test_a_reversal_waits_with_backoff_while_the_receipt_is_not_at_the_lms(h: Harness) -> None:
    txn = h.captured()
    queue_id = h.cancel(txn)

    counts = h.post(queue_id)
    assert (counts["cancel_waiting"], counts["retry_scheduled"]) == (1, 1)
    waiting = h.item(queue_id)
    assert (waiting.status, waiting.attempts, waiting.in_doubt) == (P.PENDING, 1, False)
    assert waiting.retry_timestamp == NOW + 15 and waiting.last_error == NOT_AT_LMS

    h.later(15)
    h.post(queue_id)
    assert h.item(queue_id).attempts == 2
    assert h.item(queue_id).retry_timestamp == NOW + 15 + 30  # doubled

    h.at_lms()  # the receipt's own posting landed
    h.later(30)
    assert h.post(queue_id)["cancelled"] == 1
    assert h.item(queue_id).status is P.POSTED and h.lms.cancels() == ["LMSR0000000001: wrong loan"]


def test_a_reversal_goes_to_exception_only_once_its_attempts_are_spent(h: Harness) -> None:
    queue_id = h.cancel(h.captured())
    for attempt in range(1, 4):
        h.post(queue_id)
        assert h.item(queue_id).status is (P.PENDING if attempt < 3 else P.EXCEPTION)
        h.later(10_000)

    item = h.item(queue_id)
    assert (
        item.attempts == 3
        and item.last_error == f"ATTEMPTS_EXHAUSTED: 3 attempts; last: {NOT_AT_LMS}"
    )
    assert h.lms.cancels() == []


def test_a_receipt_already_cancelled_at_the_lms_is_not_cancelled_again(h: Harness) -> None:
    txn = h.captured()
    h.at_lms(status=CANCELLED)
    queue_id = h.cancel(txn)

    assert h.post(queue_id)["cancelled_resolved"] == 1

    assert h.lms.cancels() == []
    item = h.item(queue_id)
    assert (item.status, item.lms_receipt_id) == (P.POSTED, "LMSR0000000001")
    assert "lms_cancelled_at" in h.transaction(txn)


def test_a_refused_cancellation_goes_to_exception_with_the_lms_reason(h: Harness) -> None:
    txn = h.captured()
    h.at_lms()
    queue_id = h.cancel(txn)
    h.lms.fail["cancel"] = [LmsRefused(404, "RECEIPT_NOT_FOUND", "no such receipt")]

    assert h.post(queue_id)["exception"] == 1

    item = h.item(queue_id)
    assert (item.status, item.last_error, item.in_doubt) == (
        P.EXCEPTION,
        "RECEIPT_NOT_FOUND: no such receipt",
        False,
    )
    h.later(10**6)
    assert h.post(queue_id)["skipped"] == 1 and len(h.lms.cancels()) == 1
    assert "lms_cancelled_at" not in h.transaction(txn)


@pytest.mark.parametrize("landed", [True, False])
def test_an_unknown_cancellation_stays_in_doubt_and_the_next_claim_asks_first(
    h: Harness, landed: bool
) -> None:
    txn = h.captured()
    h.at_lms()
    queue_id = h.cancel(txn)
    h.lms.fail["cancel"] = [("applied", unknown()) if landed else unknown()]

    assert h.post(queue_id)["retry_scheduled"] == 1
    waiting = h.item(queue_id)
    assert (waiting.status, waiting.in_doubt) == (P.PENDING, True)

    h.later(15)
    h.lms.calls.clear()
    counts = h.post(queue_id)

    assert h.lms.calls[0] == ("find", receipt_number(1))  # asked before anything else
    if landed:  # found cancelled: posted without a second cancellation
        assert counts["cancelled_resolved"] == 1 and h.lms.cancels() == []
    else:  # found uncancelled: the cancellation goes again, once
        assert counts["cancelled"] == 1 and len(h.lms.cancels()) == 1
    item = h.item(queue_id)
    assert (item.status, item.in_doubt) == (P.POSTED, False)
    assert h.lms.book[receipt_number(1)].status == CANCELLED


def test_a_lookup_that_fails_keeps_the_doubt_and_cancels_nothing(h: Harness) -> None:
    h.at_lms()
    queue_id = h.cancel(h.captured())
    h.lms.fail["cancel"] = [unknown()]
    h.post(queue_id)
    h.later(15)
    h.lms.fail["find"] = [down()]

    h.post(queue_id)

    item = h.item(queue_id)
    assert (item.status, item.in_doubt, item.attempts) == (P.PENDING, True, 2)
    assert len(h.lms.cancels()) == 1


def test_the_receipt_found_uncancelled_settles_the_doubt_whatever_follows(h: Harness) -> None:
    h.at_lms()
    queue_id = h.cancel(h.captured())
    h.lms.fail["cancel"] = [unknown(), down()]
    h.post(queue_id)
    h.later(15)

    h.post(queue_id)  # found uncancelled, so the first did not land; the second got a definite 503

    item = h.item(queue_id)
    assert (item.status, item.in_doubt, item.last_error) == (P.PENDING, False, "503 UNAVAILABLE")


def test_a_reversal_without_a_reason_goes_to_exception_without_calling_the_lms(
    h: Harness,
) -> None:
    queue_id = h.cancel(h.captured(), reason=" ")
    assert h.post(queue_id)["exception"] == 1
    assert h.lms.calls == [] and h.item(queue_id).status is P.EXCEPTION


def test_a_long_reason_reaches_the_lms_within_its_limit(h: Harness) -> None:
    h.at_lms()
    queue_id = h.cancel(h.captured(), reason="x" * 300)
    assert h.post(queue_id)["cancelled"] == 1
    assert h.lms.cancels() == [f"LMSR0000000001: {'x' * REASON_MAX}"]


def test_one_sweep_posts_a_receipt_then_its_reversal_due_at_the_same_second(
    h: Harness,
) -> None:
    txn = h.captured()
    receipt_id = h.queue_receipt(txn)
    reversal_id = h.cancel(txn)

    counts = h.poster().sweep(10, lambda: TIME_LEFT)

    assert (counts["posted"], counts["cancelled"]) == (1, 1)
    assert [op for op, _ in h.lms.calls] == ["post", "find", "cancel"]
    assert h.lms.book[receipt_number(1)].status == CANCELLED
    assert [h.item(i).status for i in (receipt_id, reversal_id)] == [P.POSTED, P.POSTED]
    marked = h.transaction(txn)
    assert marked["lms_receipt_id"] == "LMSR0000000001" and marked["version"] == 5
    assert "lms_cancelled_at" in marked


def test_a_receipt_in_doubt_found_cancelled_by_our_reversal_is_posted(h: Harness) -> None:
    txn = h.captured()
    receipt_id = h.queue_receipt(txn)
    reversal_id = h.cancel(txn)
    h.lms.fail["post"] = [("applied", unknown())]
    h.post(receipt_id)  # landed, answer lost: in doubt
    h.post(reversal_id)  # found it there and cancelled it
    assert h.item(receipt_id).reversal_requested_at == "2027-01-15T08:00:00.000Z"
    h.later(15)

    assert h.post(receipt_id)["posted_resolved"] == 1

    assert h.item(receipt_id).status is P.POSTED
    assert h.transaction(txn)["lms_receipt_id"] == "LMSR0000000001"


def test_a_receipt_cancelled_at_the_lms_by_someone_else_waits_for_a_person(h: Harness) -> None:
    txn = h.captured()
    receipt_id = h.queue_receipt(txn)
    h.lms.fail["post"] = [("applied", unknown())]
    h.post(receipt_id)
    h.lms.book[receipt_number(1)].status = CANCELLED  # not by us: no reversal queued
    h.later(15)

    assert h.post(receipt_id)["exception"] == 1
    last_error = h.item(receipt_id).last_error
    assert last_error is not None and last_error.startswith("RECEIPT_CANCELLED")


def test_no_cancellation_is_asked_for_until_the_receipt_item_is_marked(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    txn = h.captured()
    h.queue_receipt(txn)
    h.at_lms()
    queue_id = h.cancel(txn)

    def throttled(transaction_id: str, at: str) -> None:
        raise Conflict("update still conflicting after 2 attempts")

    monkeypatch.setattr(h.store, "note_reversal", throttled)
    assert h.post(queue_id)["retry_scheduled"] == 1

    assert h.lms.cancels() == []
    item = h.item(queue_id)
    assert (item.status, item.in_doubt) == (P.PENDING, False)
    assert item.last_error == "the receipt's item could not be marked (Conflict)"


def test_an_open_breaker_holds_reversals_untouched(h: Harness) -> None:
    h.at_lms()
    queue_id = h.cancel(h.captured())
    h.breaker.open(h.clock())
    assert h.post(queue_id)["held"] == 1
    assert h.item(queue_id).attempts == 0 and h.lms.calls == []


def test_the_gauges_count_each_kind_and_the_oldest_of_all(h: Harness) -> None:
    txn = h.captured()
    h.queue_receipt(h.captured(2), n=2)
    h.cancel(txn)  # queued at CANCELLED_AT, later than the receipt

    depths, age = queue_gauges_by_type(h.store, h.clock())

    assert depths == {LMS_RECEIPT: 1, LMS_CANCEL: 1}
    assert age == NOW - 1_796_280_000  # the receipt's 2026-12-03T06:40:00Z
    assert queue_gauges(h.store, h.clock()) == (2, age)


def test_the_stream_consumer_and_its_filter_take_due_reversals() -> None:
    image = {"queue_type": LMS_CANCEL, "status": "PENDING", "retry_timestamp": NOW}
    records = [
        {"eventName": "INSERT", "dynamodb": {"NewImage": ddb.to_item(image | {"queue_id": "a"})}},
        {
            "eventName": "MODIFY",
            "dynamodb": {"NewImage": ddb.to_item(image | {"queue_id": "b", "status": "POSTED"})},
        },
    ]
    assert due_queue_ids(records, NOW) == ["a"]
    source = next(s for s in EVENT_SOURCES if s.function == LMS_POSTER.name)
    assert source.filter_pattern is not None
    admitted = source.filter_pattern["dynamodb"]["NewImage"]["queue_type"]["S"]
    assert set(admitted) == {LMS_RECEIPT, LMS_CANCEL}


def test_the_staff_listing_shows_a_reversal_for_what_it_is(h: Harness) -> None:
    queue_id = h.cancel(h.captured(), reason=" ")
    h.post(queue_id)  # poison: EXCEPTION
    interventions = InterventionStore(
        h.dynamodb, TRANSACTION_QUEUE.logical_name, TRANSACTIONS.logical_name, cast(Any, None)
    )

    [listed] = interventions.in_status(P.EXCEPTION, 10).items
    view = posting_view(listed)

    assert (view["queue_type"], view["status"], view["receipt_number"]) == (
        LMS_CANCEL,
        "EXCEPTION",
        receipt_number(1),
    )
    assert view["amount"] is None and view["loan_account_number"] is None
