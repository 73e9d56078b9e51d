"""POST /api/v1/customer/payment-notification: verify over our order, believe RazorPay,
capture once with a receipt, the loan's counter and the LMS posting together."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from engine.dal.ddb.counters import loan_counter_id
from engine.logic.receipts import financial_year
from shared import clock
from tests.integration.engine.payments.support import Portal

RECEIPT_PREFIX = f"BR001/{financial_year(clock.now())}/"


def created(portal: Portal, token: str, amount: str = "2500.00", key: str = "key-notify-01") -> Any:
    response = portal.create(amount, token=token, key=key)
    assert response.status == 201, response.body
    return response.body


def emitted(capsys: pytest.CaptureFixture[str], name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if name in line]
    return [line for line in lines if name in line]


def test_notification_captures_with_a_receipt_and_queues_the_lms_posting(
    portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    portal.sim.set_mode("lost_webhook")  # the notification alone
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    capsys.readouterr()

    response = portal.notify(payment["payment_id"], paid, token=token)

    assert response.status == 200, response.body
    assert response.body == {"status": "CAPTURED", "receipt_number": RECEIPT_PREFIX + "000001"}
    stored = portal.payment(payment["payment_id"])
    assert stored.status.value == "CAPTURED"
    assert stored.razorpay_payment_id == paid["razorpay_payment_id"]
    assert stored.payment_method == "upi"
    (queued,) = portal.queue_items()
    assert queued["queue_id"] == f"lms#{payment['payment_id']}"
    assert queued["queue_type"] == "LMS_RECEIPT" and queued["status"] == "PENDING"
    assert queued["payload"]["receipt_number"] == RECEIPT_PREFIX + "000001"
    assert queued["payload"]["amount"] == Decimal("2500.00")
    counter = portal.counter(loan_counter_id("LN0000000001"))
    assert counter is not None and counter["captured"] == Decimal("2500.00")
    (event,) = portal.captured_events()
    assert event["detail-type"] == "payment.captured"
    assert event["detail"]["payment_id"] == payment["payment_id"]
    assert event["detail"]["receipt_number"] == RECEIPT_PREFIX + "000001"
    rates = emitted(capsys, "payment_success_rate")
    assert [r["payment_success_rate"] for r in rates] == [[100.0], [100.0]]
    dimension_sets = [r["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for r in rates]
    assert dimension_sets == [[["channel", "payment_method"]], [[]]]
    assert (rates[0]["channel"], rates[0]["payment_method"]) == ("PORTAL", "upi")
    status = portal.status(payment["payment_id"], token=token)
    assert status.status == 200
    assert status.body["status"] == "CAPTURED"
    assert status.body["receipt_number"] == RECEIPT_PREFIX + "000001"
    assert status.body["amount"] == "2500.00"


def test_a_repeated_notification_changes_nothing(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    first = portal.notify(payment["payment_id"], paid, token=token)
    fetches = len(portal.sim.received())
    again = portal.notify(payment["payment_id"], paid, token=token)
    assert again.body == first.body
    assert len(portal.sim.received()) == fetches  # answered from our record
    assert len(portal.queue_items()) == 1


def test_a_forged_signature_is_400_and_nothing_changes(portal: Portal) -> None:
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    forged = {**paid, "razorpay_signature": "0" * 64}

    response = portal.notify(payment["payment_id"], forged, token=token)

    assert response.status == 400
    assert response.body["error"]["details"][0]["field"] == "razorpay_signature"
    stored = portal.payment(payment["payment_id"])
    assert stored.version == 2  # created, order attached: untouched since
    assert not [r for r in portal.sim.received() if r["path"].startswith("/v1/payments")]


def test_a_signature_for_another_order_does_not_pay_this_one(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    cheap = created(portal, token, "1.00", key="key-cheap-0001")
    dear = created(portal, token, "90000.00", key="key-dear-00001")
    paid_cheap = portal.checkout(cheap["razorpay_order_id"])

    # The cheap order's genuine result, presented as the dear payment's.
    response = portal.notify(dear["payment_id"], paid_cheap, token=token)
    assert response.status == 400
    assert portal.payment(dear["payment_id"]).status.value == "CREATED"
    # The dear order's id in the body with the cheap order's signature: still refused.
    mixed = {**paid_cheap, "razorpay_order_id": dear["razorpay_order_id"]}
    assert portal.notify(dear["payment_id"], mixed, token=token).status == 400
    assert portal.payment(dear["payment_id"]).status.value == "CREATED"
    # The right order id in the body but a signed pair for the other order: 400 as well.
    wrong_order = {**paid_cheap, "razorpay_order_id": cheap["razorpay_order_id"]}
    assert portal.notify(dear["payment_id"], wrong_order, token=token).status == 400
    assert portal.queue_items() == []


def test_an_amount_that_differs_from_ours_is_not_captured(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    _set_amount(portal, payment["payment_id"], "2400.00")

    response = portal.notify(payment["payment_id"], paid, token=token)

    assert response.status == 422
    assert response.body["error"]["code"] == "AMOUNT_MISMATCH"
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    assert portal.queue_items() == []


def _set_amount(portal: Portal, payment_id: str, amount: str) -> None:
    from tests.integration.engine.payments.support import aws

    aws("dynamodb").update_item(
        TableName=portal.env["TRANSACTIONS_TABLE"],
        Key={"transaction_id": {"S": payment_id}},
        UpdateExpression="SET amount = :a",
        ExpressionAttributeValues={":a": {"N": amount}},
    )


def test_another_loans_session_cannot_notify(portal: Portal) -> None:
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    other = portal.session("LN0000000002")
    response = portal.notify(payment["payment_id"], paid, token=other)
    assert response.status == 404
    assert portal.status(payment["payment_id"], token=other).status == 404


def test_the_session_is_checked_first_though_it_is_read_with_the_payment(portal: Portal) -> None:
    """The session and the payment come in one read; what is answered is what it always was:
    401 without a live session, whatever the body or the id, and nothing moves."""
    portal.sim.set_mode("lost_webhook")  # else the simulator's webhook may capture it meanwhile
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    expired = portal.session(ttl=-1)
    for dead in (expired, "not-a-real-session-token-000000000000000000"):
        assert portal.notify(payment["payment_id"], paid, token=dead).status == 401
        bad_body = portal.notify(payment["payment_id"], paid, token=dead, razorpay_signature="x")
        assert bad_body.status == 401
        assert portal.status(payment["payment_id"], token=dead).status == 401
        assert portal.status("not-a-payment", token=dead).status == 401
        assert portal.receipt(payment["payment_id"], token=dead).status == 401
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    # With a live session the body and the id are judged as before.
    bad_body = portal.notify(payment["payment_id"], paid, token=token, razorpay_signature="x")
    assert bad_body.status == 400
    assert portal.status("not-a-payment", token=token).status == 404
    assert portal.notify(payment["payment_id"], paid, token=token).status == 200


def test_auto_capture_off_captures_an_authorized_payment_at_razorpay(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import wiring

    monkeypatch.setenv("RAZORPAY_AUTO_CAPTURE", "false")
    wiring.reset()
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"], outcome="authorized")

    response = portal.notify(payment["payment_id"], paid, token=token)

    assert response.status == 200 and response.body["status"] == "CAPTURED"
    captures = [r for r in portal.sim.received() if r["path"].endswith("/capture")]
    assert len(captures) == 1
    assert captures[0]["body"] == {"amount": 250000, "currency": "INR"}
    assert portal.sim.payments()[0]["status"] == "captured"


def test_auto_capture_on_leaves_an_authorized_payment_to_razorpay(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"], outcome="authorized")
    response = portal.notify(payment["payment_id"], paid, token=token)
    assert response.body == {"status": "AUTHORIZED", "receipt_number": None}
    assert not [r for r in portal.sim.received() if r["path"].endswith("/capture")]


def test_razorpay_down_at_notification_is_503_and_the_retry_captures(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    portal.sim.set_mode("error_5xx", count=2)
    failed = portal.notify(payment["payment_id"], paid, token=token)
    assert failed.status == 503
    assert portal.payment(payment["payment_id"]).status.value == "CREATED"
    retried = portal.notify(payment["payment_id"], paid, token=token)
    assert retried.status == 200 and retried.body["status"] == "CAPTURED"


def test_notification_and_webhook_converge_on_one_receipt(portal: Portal) -> None:
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])  # webhooks race the notification
    response = portal.notify(payment["payment_id"], paid, token=token)
    assert response.status == 200 and response.body["status"] == "CAPTURED"
    assert portal.webhook is not None
    portal.wait_for(lambda: len(portal.sim.deliveries()) >= 3)
    portal.wait_for(lambda: all(d["status_code"] == 200 for d in portal.sim.deliveries()))
    stored = portal.payment(payment["payment_id"])
    assert stored.receipt_number == response.body["receipt_number"]
    assert len(portal.queue_items()) == 1
    counter = portal.counter(loan_counter_id("LN0000000001"))
    assert counter is not None and counter["captured"] == Decimal("2500.00")
    assert len(portal.captured_events()) == 1


def test_webhook_first_then_the_notification_answers_its_receipt(portal: Portal) -> None:
    token = portal.session()
    payment = created(portal, token)
    paid = portal.checkout(payment["razorpay_order_id"])
    portal.wait_for(lambda: portal.payment(payment["payment_id"]).status.value == "CAPTURED")
    receipt = portal.payment(payment["payment_id"]).receipt_number
    fetches = len(portal.sim.received())
    response = portal.notify(payment["payment_id"], paid, token=token)
    assert response.body == {"status": "CAPTURED", "receipt_number": receipt}
    assert len(portal.sim.received()) == fetches
