"""After a failover: the first capture in the Region taking over gets a receipt number above
every one the old Region issued, once the DR runbook has carried the counters over.

The Counters table is regional, so the new Region's is empty. PostgreSQL (promoted) holds the
old Region's receipts that had synced; the carry-over lifts the counter above them by the gap.
"""

from __future__ import annotations

from typing import Any

from engine.logic import receipts
from local.events import LambdaContext
from shared import clock
from tests.integration.engine.payments.support import Portal

GAP = 1000  # the default (config/engine.py receipt_counter_gap)


def carry_over() -> dict[str, Any]:
    from engine.handlers.jobs import receipt_counters

    context = LambdaContext(function_name="ReceiptCountersCarryOver", timeout_seconds=240)
    answer: dict[str, Any] = receipt_counters.handler({}, context)
    return answer


def old_regions_receipt(portal: Portal, number: str) -> None:
    """A capture the old Region numbered, as the stream sync left it in PostgreSQL."""
    portal.sql(
        "INSERT INTO payments (transaction_id, loan_account_number, branch_code, amount,"
        " status, receipt_number, channel, created_at, captured_at, version)"
        " VALUES ('pay_mumbai000000000042', 'LN0000000001', 'BR001', 100.00, 'CAPTURED', %s,"
        " 'PORTAL', now(), now(), 3)",
        (number,),
    )


def captured_receipt(portal: Portal, key: str) -> str:
    portal.sim.set_mode("lost_webhook")  # the notification captures, nothing races it
    token = portal.session()
    created = portal.create("2500.00", token=token, key=key)
    assert created.status == 201, created.body
    paid = portal.checkout(created.body["razorpay_order_id"])
    answer = portal.notify(created.body["payment_id"], paid, token=token)
    assert answer.status == 200, answer.body
    return str(answer.body["receipt_number"])


def test_the_first_capture_after_the_carry_over_is_numbered_above_the_old_regions(
    portal: Portal,
) -> None:
    year = receipts.financial_year(clock.now())
    old_regions_receipt(portal, f"BR001/{year}/000042")

    assert carry_over()["counters_raised"] == 1

    assert captured_receipt(portal, "key-carry-0001") == f"BR001/{year}/{42 + GAP + 1:06d}"
    # And the counter goes on from there; a second carry-over changes nothing.
    assert carry_over()["counters_already_higher"] == 1
    assert captured_receipt(portal, "key-carry-0002") == f"BR001/{year}/{42 + GAP + 2:06d}"


def test_without_the_carry_over_the_empty_counter_would_repeat_a_number(portal: Portal) -> None:
    """What the runbook's step prevents: the regional counter starts again from 1."""
    year = receipts.financial_year(clock.now())
    old_regions_receipt(portal, f"BR001/{year}/000001")

    assert captured_receipt(portal, "key-carry-0003") == f"BR001/{year}/000001"
