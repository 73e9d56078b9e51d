"""A cancelled receipt's reversal reaching the LMS simulator over HTTP: the receipt posted by
the LmsPoster handler from its stream record, then the cancellation's LMS_CANCEL item posted
the same way, and the simulator's book holding the receipt CANCELLED with our reason. The
tables are moto's, the LMS credentials in moto's Secrets Manager as the function reads them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engine import settings, wiring_lms
from engine.dal.ddb.queue import QueueStore, lms_cancel_queue_id, lms_queue_id
from engine.handlers.consumers import lms_poster
from engine.handlers.jobs import lms_sweep
from engine.logic.lms_posting import NOT_AT_LMS, Poster
from engine.models.payment import Payment
from engine.models.status import PaymentStatus, PostingStatus
from engine.tables import COUNTERS, TRANSACTION_QUEUE, TRANSACTIONS
from local.events import LambdaContext
from shared import clock, ddb, ddb_writes
from simulators.lms import LmsSimulator
from tests.integration.engine.lms_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeClock,
    outstanding,
    ref,
    running_simulator,
)

REGION = "ap-south-1"
LOAN = "LN0000000001"  # 1,850,000.00 outstanding in the seed
P = PostingStatus


@dataclass
class Harness:
    sim: LmsSimulator
    dynamodb: Any

    def capture(self, n: int) -> Payment:
        """A captured payment and its LMS_RECEIPT item, written together as a capture does."""
        at = clock.iso(clock.now())
        payment = Payment(
            transaction_id=f"pay_{n:018d}cnc",
            loan_account_number=LOAN,
            branch_code="BR001",
            customer_id="c-1",
            amount=Decimal("2500.00"),
            status=PaymentStatus.CAPTURED,
            created_date=at,
            updated_at=at,
            idempotency_key_hash="h",
            version=3,
            payment_method="upi",
            receipt_number=ref(n),
            captured_at=at,
        )
        put = {
            "Put": {
                "TableName": TRANSACTIONS.logical_name,
                "Item": ddb.to_item(payment.to_item()),
            }
        }
        queue = QueueStore(TRANSACTION_QUEUE.logical_name)
        ddb_writes.transact(self.dynamodb, [put, queue.lms_receipt_op(payment, int(clock.epoch()))])
        return payment

    def cancel(self, payment: Payment, reason: str) -> None:
        queue = QueueStore(TRANSACTION_QUEUE.logical_name)
        assert payment.receipt_number
        op = queue.lms_cancel_op(
            payment.transaction_id,
            payment.receipt_number,
            reason,
            clock.iso(clock.now()),
            int(clock.epoch()),
        )
        ddb_writes.transact(self.dynamodb, [op])

    def deliver(self, queue_id: str) -> dict[str, Any]:
        """The item's INSERT as the TransactionQueue stream hands it to LmsPoster."""
        item = self.raw(TRANSACTION_QUEUE.logical_name, {"queue_id": queue_id})
        record = {"eventName": "INSERT", "dynamodb": {"NewImage": ddb.to_item(item)}}
        context = LambdaContext(function_name="LmsPoster", timeout_seconds=60)
        return lms_poster.handler({"Records": [record]}, context)

    def raw(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        found = self.dynamodb.get_item(TableName=table, Key=ddb.to_item(key), ConsistentRead=True)
        return ddb.from_item(found["Item"]) or {}

    def book(self, reference: str) -> dict[str, Any]:
        [receipt] = [r for r in self.sim.receipts() if r["reference"] == reference]
        return receipt


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TRANSACTIONS_TABLE": TRANSACTIONS.logical_name,
        "TRANSACTION_QUEUE_TABLE": TRANSACTION_QUEUE.logical_name,
        "COUNTERS_TABLE": COUNTERS.logical_name,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in (TRANSACTIONS, TRANSACTION_QUEUE, COUNTERS):
            dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
        for sim in running_simulator(FakeClock()):
            arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name="engine/test/lms",
                SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )["ARN"]
            assert sim.base_url
            monkeypatch.setenv("LMS_BASE_URL", sim.base_url)
            monkeypatch.setenv("LMS_SECRET_ARN", arn)
            settings.reset()
            wiring_lms.reset()
            try:
                yield Harness(sim, dynamodb)
            finally:
                wiring_lms.reset()
                settings.reset()


def test_a_posted_receipt_is_cancelled_at_the_lms_by_its_reversal(h: Harness) -> None:
    payment = h.capture(1)
    assert h.deliver(lms_queue_id(payment.transaction_id)) == {"batchItemFailures": []}
    posted = h.book(ref(1))
    assert posted["status"] == "POSTED"
    assert outstanding(h.sim, LOAN) == Decimal("1847500.00")

    h.cancel(payment, "collected against the wrong loan")
    assert h.deliver(lms_cancel_queue_id(payment.transaction_id)) == {"batchItemFailures": []}

    cancelled = h.book(ref(1))
    assert (cancelled["status"], cancelled["cancel_reason"]) == (
        "CANCELLED",
        "collected against the wrong loan",
    )
    assert outstanding(h.sim, LOAN) == Decimal("1850000.00")  # the receipt's effect reversed
    reversal = h.raw(
        TRANSACTION_QUEUE.logical_name, {"queue_id": lms_cancel_queue_id(payment.transaction_id)}
    )
    assert (reversal["status"], reversal["lms_receipt_id"]) == (
        P.POSTED.value,
        posted["receipt_id"],
    )
    assert reversal["cancelled_at"] == cancelled["cancelled_at"]
    marked = h.raw(TRANSACTIONS.logical_name, {"transaction_id": payment.transaction_id})
    assert marked["lms_receipt_id"] == posted["receipt_id"] and "lms_cancelled_at" in marked
    assert marked["version"] == 5  # the posting's mark and the reversal's


def test_a_reversal_queued_before_its_receipt_landed_waits_then_lands(h: Harness) -> None:
    payment = h.capture(2)
    h.cancel(payment, "duplicate receipt")

    h.deliver(lms_cancel_queue_id(payment.transaction_id))  # the receipt is not at the LMS
    queue_id = lms_cancel_queue_id(payment.transaction_id)
    waiting = h.raw(TRANSACTION_QUEUE.logical_name, {"queue_id": queue_id})
    assert (waiting["status"], waiting["attempts"], waiting["last_error"]) == (
        P.PENDING.value,
        1,
        NOT_AT_LMS,
    )
    assert h.sim.receipts() == []

    h.deliver(lms_queue_id(payment.transaction_id))  # the receipt's own posting
    gauges = lms_sweep.handler({}, LambdaContext(function_name="LmsSweeper", timeout_seconds=120))
    assert gauges["depths"] == {"LMS_RECEIPT": 0, "LMS_CANCEL": 1} and gauges["depth"] == 1
    # The sweep once the reversal is due (its clock moved past the backoff).
    later = float(waiting["retry_timestamp"])
    poster = wiring_lms.poster()
    sweeper = Poster(poster.store, poster.lms, poster.breaker, poster.policy, now=lambda: later)
    counts = sweeper.sweep(10, lambda: 60.0)

    assert counts["cancelled"] == 1
    assert h.book(ref(2))["status"] == "CANCELLED"
    landed = h.raw(TRANSACTION_QUEUE.logical_name, {"queue_id": queue_id})
    assert (landed["status"], landed["attempts"]) == (P.POSTED.value, 2)
