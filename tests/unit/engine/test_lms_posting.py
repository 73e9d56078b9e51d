"""The LMS poster on moto (the real queue store and breaker store) with a scripted LMS: each
receipt posted once, unknown outcomes asked about before any re-post, refusals and spent
attempts to EXCEPTION, the breaker holding items untouched while open."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest

from engine.clients.lms import LmsRefused, LmsUnavailable, ReceiptPost
from engine.dal.ddb.posting import ClaimLost
from engine.dal.ddb.queue import LMS_RECEIPT, lms_queue_id
from engine.handlers.consumers.lms_poster import due_queue_ids
from engine.logic.lms_posting import PostingPolicy, next_due, queue_gauges
from engine.models.status import PostingStatus
from engine.tables import TRANSACTION_QUEUE
from shared import ddb
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


@dataclass
class ScriptedLms:
    """Answers posts and lookups from scripts (an exception is raised; a default otherwise)."""

    posts: list[Any] = field(default_factory=list)
    lookups: list[Any] = field(default_factory=list)
    posted: list[ReceiptPost] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def post_receipt(self, receipt: ReceiptPost) -> Posted:
        self.posted.append(receipt)
        answer = self.posts.pop(0) if self.posts else None
        if isinstance(answer, Exception):
            raise answer
        return answer or Posted(Receipt(f"LMSR{len(self.posted):010d}"))

    def receipt_by_reference(self, reference: str) -> Receipt | None:
        self.asked.append(reference)
        answer = self.lookups.pop(0) if self.lookups else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def cancel_receipt(self, receipt_id: str, reason: str) -> Receipt:
        raise AssertionError("posting a receipt never cancels one")


def unknown() -> LmsUnavailable:
    return LmsUnavailable("no answer to POST /api/v1/receipts", outcome_unknown=True)


def down(retry_after: int | None = None) -> LmsUnavailable:
    return LmsUnavailable("503 UNAVAILABLE", outcome_unknown=False, retry_after=retry_after)


@dataclass
class Harness(PosterHarness):
    lms: ScriptedLms

    def queue(self, n: int = 1, **payload: Any) -> str:
        txn = self.captured(n)
        body = {
            "transaction_id": txn,
            "receipt_number": f"BR001/2026-27/{n:06d}",
            "loan_account_number": "LN0000000001",
            "branch_code": "BR001",
            "amount": Decimal("2500.00"),
            "currency": "INR",
            "channel": "PORTAL",
            "payment_method": "upi",
            "razorpay_payment_id": f"pay_RZP{n:010d}",
            "captured_at": "2026-12-03T06:40:00.000Z",
        } | payload
        item = {
            "queue_id": lms_queue_id(txn),
            "queue_type": LMS_RECEIPT,
            "retry_timestamp": NOW,
            "status": "PENDING",
            "attempts": 0,
            "transaction_id": txn,
            "created_at": "2026-12-03T06:40:00.000Z",
            "payload": {k: v for k, v in body.items() if v is not None},
        }
        self.dynamodb.put_item(TableName=TRANSACTION_QUEUE.logical_name, Item=ddb.to_item(item))
        return lms_queue_id(txn)

    def transaction(self, queue_id: str) -> dict[str, Any]:
        """The row of the transaction the queue item posts."""
        return super().transaction(self.item(queue_id).transaction_id)


@pytest.fixture
def h(dynamodb: Any) -> Iterator[Harness]:
    store, breaker = stores(dynamodb)
    yield Harness(dynamodb, store, breaker, ScriptedLms(), Clock())


def post(h: Harness, *ids: str, policy: PostingPolicy = POLICY) -> dict[str, int]:
    return h.poster(policy).post(list(ids), lambda: TIME_LEFT)


def test_a_queued_receipt_is_posted_once_and_leaves_the_index(h: Harness) -> None:
    queue_id = h.queue()
    assert post(h, queue_id)["posted"] == 1

    item = h.item(queue_id)
    assert (item.status, item.lms_receipt_id, item.in_doubt) == (P.POSTED, "LMSR0000000001", False)
    marked = h.transaction(queue_id)
    # A new version: the stream sync and the repair job carry the facts to PostgreSQL.
    assert (marked["lms_receipt_id"], marked["version"]) == ("LMSR0000000001", 4)
    [sent] = h.lms.posted
    assert (sent.reference, sent.amount, sent.payment_mode) == (
        "BR001/2026-27/000001",
        Decimal("2500.00"),
        "UPI",
    )
    assert h.store.due(NOW + 10_000, 10) == [] and h.store.live_summary() == (0, None)
    assert post(h, queue_id)["skipped"] == 1  # posted: never claimed again
    assert len(h.lms.posted) == 1


def test_an_unknown_outcome_is_asked_about_before_any_repost(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [unknown()]
    assert post(h, queue_id)["retry_scheduled"] == 1
    waiting = h.item(queue_id)
    assert (waiting.status, waiting.in_doubt, waiting.attempts) == (P.PENDING, True, 1)
    assert waiting.retry_timestamp == NOW + 15  # base 30 s, the upper half's floor (rand 0)

    h.later(15)
    h.lms.lookups = [Receipt("LMSR0000000777")]  # the first post had landed
    assert post(h, queue_id)["posted_resolved"] == 1

    assert len(h.lms.posted) == 1 and h.lms.asked == ["BR001/2026-27/000001"]
    assert h.item(queue_id).lms_receipt_id == "LMSR0000000777"


def test_an_unknown_outcome_the_lms_never_saw_is_posted_again_once(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [unknown()]
    post(h, queue_id)
    h.later(15)
    assert post(h, queue_id)["posted"] == 1  # lookup found nothing, so it posts
    assert len(h.lms.posted) == 2 and len(h.lms.asked) == 1
    assert h.item(queue_id).status is P.POSTED


def test_a_definite_refusal_to_serve_retries_without_asking_first(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [down(retry_after=600)]
    post(h, queue_id)
    waiting = h.item(queue_id)
    assert (waiting.in_doubt, waiting.retry_timestamp) == (False, NOW + 600)  # Retry-After won

    h.later(599)
    assert post(h, queue_id)["skipped"] == 1  # not due yet
    h.later(1)
    post(h, queue_id)
    assert h.lms.asked == [] and len(h.lms.posted) == 2


def test_a_lookup_that_fails_keeps_the_doubt(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [unknown()]
    post(h, queue_id)
    h.later(15)
    h.lms.lookups = [down()]
    post(h, queue_id)
    assert h.item(queue_id).in_doubt is True and len(h.lms.posted) == 1


def test_a_refusal_goes_to_exception_with_the_lms_reason(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [LmsRefused(422, "LOAN_CLOSED", "loan LN0000000001 is closed")]
    assert post(h, queue_id)["exception"] == 1

    item = h.item(queue_id)
    assert (
        item.status is P.EXCEPTION and item.last_error == "LOAN_CLOSED: loan LN0000000001 is closed"
    )
    assert item.retry_timestamp is None and h.store.due(NOW + 10**6, 10) == []
    h.later(10**6)
    assert post(h, queue_id)["skipped"] == 1 and len(h.lms.posted) == 1


def test_an_item_past_its_attempts_waits_for_a_person_still_in_doubt(h: Harness) -> None:
    queue_id = h.queue()
    h.lms.posts = [unknown(), down(), down()]
    h.lms.lookups = [None]
    for _ in range(3):
        post(h, queue_id)
        h.later(10_000)

    item = h.item(queue_id)
    assert item.status is P.EXCEPTION and item.attempts == 3
    assert item.last_error is not None and item.last_error.startswith("ATTEMPTS_EXHAUSTED")
    assert item.in_doubt is False  # the lookup had settled the first doubt


def test_a_poison_item_goes_to_exception_without_calling_the_lms(h: Harness) -> None:
    queue_id = h.queue(receipt_number=None)
    assert post(h, queue_id)["exception"] == 1
    assert h.lms.posted == [] and h.item(queue_id).status is P.EXCEPTION


def test_staff_collections_go_with_their_channel_mode_and_purpose(h: Harness) -> None:
    staff = {"razorpay_payment_id": None}
    ids = [
        h.queue(1),  # a portal payment: no purpose in its payload
        h.queue(2, channel="FIELD", payment_method="cash", purpose="EMI", **staff),
        h.queue(3, channel="BRANCH", payment_method="cheque", purpose="LEGAL_FEE", **staff),
        h.queue(4, channel="FIELD", payment_method="demand_draft", purpose="CHALLAN", **staff),
    ]
    assert post(h, *ids)["posted"] == 4
    assert [(r.channel, r.payment_mode, r.purpose) for r in h.lms.posted] == [
        ("PORTAL", "UPI", "EMI"),
        ("FIELD", "CASH", "EMI"),
        ("BRANCH", "CHEQUE", "LEGAL_FEE"),
        ("FIELD", "DEMAND_DRAFT", "CHALLAN"),
    ]
    assert [r.external_reference for r in h.lms.posted] == ["pay_RZP0000000001", None, None, None]


def test_a_cheques_number_goes_with_it_when_the_item_carries_one(h: Harness) -> None:
    queue_id = h.queue(
        channel="BRANCH", payment_method="cheque", purpose="EMI", instrument_number="004512"
    )
    post(h, queue_id)
    [sent] = h.lms.posted
    assert sent.body()["instrument_number"] == "004512"


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "FIELD", "payment_method": "cash", "purpose": "PENALTY"},
        {"purpose": "fee"},  # on a portal payment too
        {"channel": "FIELD", "payment_method": "upi", "purpose": "EMI"},  # no staff mode
        {"channel": "DOORSTEP", "payment_method": "cash", "purpose": "EMI"},
    ],
)
def test_an_unknown_purpose_channel_or_staff_mode_is_poison_never_sent(
    h: Harness, payload: dict[str, Any]
) -> None:
    queue_id = h.queue(1, **payload)
    assert post(h, queue_id)["exception"] == 1
    item = h.item(queue_id)
    assert item.status is P.EXCEPTION and item.retry_timestamp is None
    assert h.lms.posted == [] and h.lms.asked == []


def test_one_poison_item_does_not_hold_up_the_others(h: Harness) -> None:
    ids = [h.queue(1), h.queue(2, amount="not money"), h.queue(3)]
    counts = post(h, *ids)
    assert (counts["posted"], counts["exception"]) == (2, 1)
    assert [h.item(i).status for i in ids] == [P.POSTED, P.EXCEPTION, P.POSTED]


def test_two_posters_never_hold_the_same_item(h: Harness) -> None:
    queue_id = h.queue()
    first = h.store.claim(queue_id, NOW, 120, "2026-12-03T06:41:00.000Z")
    second = h.store.claim(queue_id, NOW, 120, "2026-12-03T06:41:00.000Z")
    assert first is not None and second is None
    assert post(h, queue_id)["skipped"] == 1 and h.lms.posted == []


def test_a_claim_that_ran_out_is_taken_again_and_asked_about_first(h: Harness) -> None:
    queue_id = h.queue()
    assert h.store.claim(queue_id, NOW, 120, "t") is not None  # a poster that then died
    assert h.store.due(NOW + 119, 10) == []
    h.later(120)
    h.lms.lookups = [None]
    assert h.poster().sweep(10, lambda: TIME_LEFT)["posted"] == 1
    assert h.lms.asked == ["BR001/2026-27/000001"] and h.item(queue_id).attempts == 2


def test_a_poster_whose_claim_ran_out_cannot_overwrite_the_next_one(h: Harness) -> None:
    queue_id = h.queue()
    before = h.store.claim(queue_id, NOW, 120, "t")
    assert before is not None
    slow = replace(before, status=P.IN_FLIGHT, attempts=1)
    h.later(121)
    h.lms.lookups = [None]
    post(h, queue_id)  # the next claimer posts it
    posted = h.item(queue_id)

    with pytest.raises(ClaimLost):
        h.store.reschedule(slow, NOW, "late answer", in_doubt=True)
    assert h.item(queue_id) == posted


def test_an_open_breaker_holds_every_item_untouched(h: Harness) -> None:
    ids = [h.queue(1), h.queue(2)]
    h.breaker.open(h.clock())
    assert post(h, *ids)["held"] == 2
    assert [h.item(i).attempts for i in ids] == [0, 0] and h.lms.posted == []


def test_failures_open_the_breaker_mid_batch_and_the_rest_stay_queued(h: Harness) -> None:
    ids = [h.queue(n) for n in range(1, 6)]
    h.lms.posts = [down(), down(), down(), down(), down()]
    counts = post(h, *ids)
    assert counts["breaker_opened"] == 1 and counts["held"] == 3
    assert [h.item(i).attempts for i in ids] == [1, 1, 0, 0, 0]
    assert len(h.lms.posted) == 2


def test_half_open_one_probe_then_the_rest_when_it_answers(h: Harness) -> None:
    ids = [h.queue(1), h.queue(2), h.queue(3)]
    h.breaker.open(h.clock())
    h.later(61)
    counts = post(h, *ids)
    assert counts["posted"] == 3 and h.breaker.read(h.clock()).opened_at is None


def test_half_open_a_failed_probe_opens_it_again(h: Harness) -> None:
    ids = [h.queue(1), h.queue(2)]
    h.breaker.open(h.clock())
    h.later(61)
    h.lms.posts = [down()]
    counts = post(h, *ids)
    assert counts["held"] == 1 and len(h.lms.posted) == 1
    assert h.breaker.read(h.clock()).opened_at == pytest.approx(h.clock())
    assert post(h, *ids)["held"] == 2  # open again: nothing more tried


def test_the_gauges_count_live_items_and_the_oldest_wait(h: Harness) -> None:
    ids = [h.queue(1), h.queue(2)]
    post(h, ids[0])
    depth, age = queue_gauges(h.store, h.clock())
    assert depth == 1
    assert age == NOW - 1_796_280_000  # 2026-12-03T06:40:00Z


@pytest.mark.parametrize(
    ("attempts", "rand", "expected"),
    [(1, 0.0, 15), (1, 1.0, 30), (3, 0.5, 90), (20, 1.0, 3600), (20, 0.0, 1800)],
)
def test_backoff_doubles_within_its_upper_half_up_to_the_cap(
    attempts: int, rand: float, expected: int
) -> None:
    policy = PostingPolicy(backoff_base_seconds=30, backoff_cap_seconds=3600)
    assert next_due(NOW, attempts, policy, lambda: rand) - NOW == expected


def test_retry_after_is_a_floor_never_a_ceiling() -> None:
    policy = PostingPolicy(backoff_base_seconds=30)
    assert next_due(NOW, 1, policy, lambda: 1.0, retry_after=5) - NOW == 30
    assert next_due(NOW, 1, policy, lambda: 1.0, retry_after=300) - NOW == 300


def stream_record(event: str, **image: Any) -> dict[str, Any]:
    return {"eventName": event, "dynamodb": {"NewImage": ddb.to_item(image)}}


def test_the_stream_consumer_takes_only_receipts_due_now() -> None:
    due = {"queue_type": LMS_RECEIPT, "status": "PENDING", "retry_timestamp": NOW}
    records = [
        stream_record("INSERT", queue_id="lms#a", **due),
        stream_record("MODIFY", queue_id="lms#b", **due),  # a person's "retry now"
        stream_record("MODIFY", queue_id="lms#c", **(due | {"retry_timestamp": NOW + 60})),
        stream_record("MODIFY", queue_id="lms#d", **(due | {"status": "IN_FLIGHT"})),
        stream_record("INSERT", queue_id="other#e", **(due | {"queue_type": "OTHER"})),
        {"eventName": "REMOVE", "dynamodb": {}},
    ]
    assert due_queue_ids(records, NOW) == ["lms#a", "lms#b"]
