"""The payments units of work on moto: each write whole or not at all, in domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.dal.ddb import idempotency
from engine.dal.ddb.counters import CounterStore, loan_counter_id
from engine.dal.ddb.payments import (
    Capture,
    ClaimTaken,
    NotPayable,
    PaymentStore,
    StaleVersion,
)
from engine.dal.ddb.queue import QueueStore, lms_queue_id
from engine.models.payment import Payment, new_payment_id
from engine.models.status import PaymentStatus
from engine.tables import COUNTERS, IDEMPOTENCY, TRANSACTION_QUEUE, TRANSACTIONS
from shared import cursors, ddb, ddb_writes
from shared.store_errors import Conflict

S = PaymentStatus
LOAN = "LN0000000001"
NO_WAIT = ddb_writes.Retry(attempts=3, base_seconds=0)


@pytest.fixture
def store(dynamodb: Any) -> Iterator[PaymentStore]:
    for spec in (TRANSACTIONS, IDEMPOTENCY, COUNTERS, TRANSACTION_QUEUE):
        dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
    yield PaymentStore(
        dynamodb,
        TRANSACTIONS.logical_name,
        idempotency_table=IDEMPOTENCY.logical_name,
        counters=CounterStore(dynamodb, COUNTERS.logical_name),
        queue=QueueStore(TRANSACTION_QUEUE.logical_name),
        retry=NO_WAIT,
    )


def new_payment(amount: str = "2500.00", created: str = "2026-12-03T06:40:00.000Z") -> Payment:
    return Payment(
        transaction_id=new_payment_id(),
        loan_account_number=LOAN,
        branch_code="BR001",
        customer_id="c-1",
        amount=Decimal(amount),
        status=S.CREATED,
        created_date=created,
        updated_at=created,
        idempotency_key_hash="h",
    )


def claim_for(payment: Payment, key: str = "key-00000001") -> idempotency.Claim:
    key_hash = idempotency.key_hash(LOAN, key)
    fingerprint = idempotency.fingerprint(LOAN, payment.amount)
    return idempotency.request_claim(key_hash, fingerprint, payment.transaction_id, 1_800_000_000)


def item(store: PaymentStore, table: str, key: dict[str, str]) -> dict[str, Any] | None:
    found = store.client.get_item(TableName=table, Key=ddb.to_item(key)).get("Item")
    return ddb.from_item(found)


def test_open_writes_the_claim_and_the_payment_together(store: PaymentStore) -> None:
    payment = new_payment()
    store.open(payment, claim_for(payment), Decimal("250000"))
    assert store.get(payment.transaction_id) == payment
    record = item(store, IDEMPOTENCY.logical_name, {"id": claim_for(payment).record_id})
    assert record is not None and record["payment_id"] == payment.transaction_id


def test_a_second_open_under_the_same_key_is_claim_taken_with_the_first_facts(
    store: PaymentStore,
) -> None:
    first, second = new_payment(), new_payment()
    store.open(first, claim_for(first), Decimal("250000"))
    with pytest.raises(ClaimTaken) as taken:
        store.open(second, claim_for(second), Decimal("250000"))
    assert taken.value.record["payment_id"] == first.transaction_id
    assert store.get(second.transaction_id) is None  # nothing of the second was written


def test_open_refuses_when_captured_not_yet_synced_leaves_too_little(store: PaymentStore) -> None:
    store.client.update_item(
        **store.counters.add_captured_op(LOAN, Decimal("1000.00"), "2026-12-03T06:00:00Z")["Update"]
    )
    payment = new_payment()
    with pytest.raises(NotPayable) as refused:
        store.open(payment, claim_for(payment), Decimal("999.99"))
    assert refused.value.captured == Decimal("1000.00")
    assert store.get(payment.transaction_id) is None
    assert item(store, IDEMPOTENCY.logical_name, {"id": claim_for(payment).record_id}) is None
    store.open(payment, claim_for(payment), Decimal("1000.00"))  # exactly payable: fine


def test_the_claim_wins_over_the_payable_check(store: PaymentStore) -> None:
    first = new_payment()
    store.open(first, claim_for(first), Decimal("1"))
    store.client.update_item(
        **store.counters.add_captured_op(LOAN, Decimal("5000.00"), "t")["Update"]
    )
    with pytest.raises(ClaimTaken):  # a replay, never a 422, for a request that succeeded
        store.open(new_payment(), claim_for(first), Decimal("0"))


def test_attach_order_records_once_and_keeps_the_first_order(store: PaymentStore) -> None:
    payment = new_payment()
    store.open(payment, claim_for(payment), Decimal("250000"))
    attached = store.attach_order(payment, "order_A", "2026-12-03T06:40:01.000Z")
    assert attached.razorpay_order_id == "order_A" and attached.version == 2
    assert store.get(payment.transaction_id) == attached
    assert store.attach_order(attached, "order_A", "later") is attached  # no write
    with pytest.raises(StaleVersion) as stale:
        store.attach_order(payment, "order_B", "2026-12-03T06:40:02.000Z")
    assert stale.value.payment is not None
    assert stale.value.payment.razorpay_order_id == "order_A"


def opened(store: PaymentStore, amount: str = "2500.00") -> Payment:
    payment = new_payment(amount)
    store.open(payment, claim_for(payment, key=payment.transaction_id), Decimal("250000"))
    return store.attach_order(payment, "order_" + payment.transaction_id[4:], "t1")


def capture_of(receipt: str = "BR001/2026-27/000001") -> Capture:
    return Capture(receipt, "pay_RZP1", "upi", "2026-12-03T06:41:00.000Z", 1_796_280_000)


def test_capture_moves_the_payment_adds_the_counter_and_queues_the_posting(
    store: PaymentStore,
) -> None:
    payment = opened(store)
    captured = store.capture(payment, capture_of())
    assert store.get(payment.transaction_id) == captured
    assert captured.status is S.CAPTURED and captured.version == 3
    counter = item(store, COUNTERS.logical_name, {"counter_id": loan_counter_id(LOAN)})
    assert counter is not None and counter["captured"] == Decimal("2500.00")
    queued = item(
        store,
        TRANSACTION_QUEUE.logical_name,
        {"queue_id": lms_queue_id(payment.transaction_id)},
    )
    assert queued is not None
    assert queued["queue_type"] == "LMS_RECEIPT" and queued["status"] == "PENDING"
    assert queued["payload"]["receipt_number"] == "BR001/2026-27/000001"
    assert queued["retry_timestamp"] == 1_796_280_000


def test_a_second_capture_from_the_old_read_is_stale_and_changes_nothing(
    store: PaymentStore,
) -> None:
    payment = opened(store)
    captured = store.capture(payment, capture_of())
    with pytest.raises(StaleVersion) as stale:
        store.capture(payment, capture_of("BR001/2026-27/000002"))
    assert stale.value.payment == captured
    counter = item(store, COUNTERS.logical_name, {"counter_id": loan_counter_id(LOAN)})
    assert counter is not None and counter["captured"] == Decimal("2500.00")


def test_a_claimed_event_id_is_claim_taken_and_nothing_moves(store: PaymentStore) -> None:
    payment = opened(store)
    claim = idempotency.webhook_claim("evt_1", payment.transaction_id, 1)
    moved = store.move(payment, S.AUTHORIZED, "t2", {"razorpay_payment_id": "pay_R"}, (claim,))
    assert moved.status is S.AUTHORIZED
    with pytest.raises(ClaimTaken):
        store.capture(moved, capture_of(), (claim,))
    assert store.get(payment.transaction_id) == moved


def test_an_undeclared_move_is_refused_before_any_write(store: PaymentStore) -> None:
    captured = store.capture(opened(store), capture_of())
    with pytest.raises(ValueError, match="not a declared transition"):
        store.move(captured, S.FAILED, "t3")


def test_refund_facts_on_a_captured_payment_and_a_full_refund(store: PaymentStore) -> None:
    captured = store.capture(opened(store), capture_of())
    partial = store.move(captured, S.CAPTURED, "t4", {"refunded_amount": Decimal("500.00")})
    assert partial.status is S.CAPTURED and partial.refunded_amount == Decimal("500.00")
    full = store.move(partial, S.REFUNDED, "t5", {"refunded_amount": Decimal("2500.00")})
    assert store.get(captured.transaction_id) == full


def test_a_failed_capture_leaves_no_outbox_item_and_no_counter(store: PaymentStore) -> None:
    payment = opened(store)
    store.move(payment, S.FAILED, "t2", {"failure_reason": "bank"})
    with pytest.raises(StaleVersion):
        store.capture(payment, capture_of())  # read before the failure: refused whole
    key = {"queue_id": lms_queue_id(payment.transaction_id)}
    assert item(store, TRANSACTION_QUEUE.logical_name, key) is None
    assert item(store, COUNTERS.logical_name, {"counter_id": loan_counter_id(LOAN)}) is None


def test_a_capture_after_a_failure_applies_and_clears_the_reason(store: PaymentStore) -> None:
    failed = store.move(opened(store), S.FAILED, "t2", {"failure_reason": "bank"})
    captured = store.capture(failed, capture_of())
    assert captured.failure_reason is None
    stored = store.get(failed.transaction_id)
    assert stored is not None and stored.failure_reason is None
    assert stored.status is S.CAPTURED


def test_history_is_newest_first_with_a_cursor_bound_to_the_loan(store: PaymentStore) -> None:
    made = []
    for minute in range(5):
        payment = new_payment(created=f"2026-12-03T06:4{minute}:00.000Z")
        store.open(payment, claim_for(payment, key=payment.transaction_id), Decimal("250000"))
        made.append(payment.transaction_id)
    page, cursor = store.history(LOAN, None, 2)
    assert [p.transaction_id for p in page] == [made[4], made[3]]
    seen = [p.transaction_id for p in page]
    while cursor:
        page, cursor = store.history(LOAN, cursor, 2)
        seen += [p.transaction_id for p in page]
    assert seen == list(reversed(made))
    _, cursor = store.history(LOAN, None, 2)
    assert cursor is not None
    with pytest.raises(cursors.BadCursor):
        store.history("LN0000000002", cursor, 2)
    with pytest.raises(cursors.BadCursor):
        store.history(LOAN, cursor[:-2] + "xx", 2)


def test_in_status_finds_open_payments_oldest_first(store: PaymentStore) -> None:
    old = new_payment(created="2026-12-03T06:00:00.000Z")
    new = new_payment(created="2026-12-03T06:59:00.000Z")
    for payment in (new, old):
        store.open(payment, claim_for(payment, key=payment.transaction_id), Decimal("250000"))
    found = store.in_status(S.CREATED, "2026-12-03T05:00:00.000Z", "2026-12-03T06:30:00.000Z", 10)
    assert [p.transaction_id for p in found] == [old.transaction_id]


class Throttled:
    """A client whose transactions always conflict: the store retries, then says Conflict."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.attempts = 0

    def transact_write_items(self, **_: Any) -> None:
        self.attempts += 1
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "x"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_conflict_is_retried_then_reported_never_read_as_a_failed_condition(
    store: PaymentStore,
) -> None:
    payment = opened(store)
    store.client = Throttled(store.client)
    with pytest.raises(Conflict):
        store.capture(payment, capture_of())
    assert store.client.attempts == NO_WAIT.attempts
    store.client = store.client.real
    assert store.get(payment.transaction_id) == payment
