"""POST /api/v1/customer/payments: our payment first, RazorPay's one order second."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from tests.integration.engine.payments.support import Portal
from tests.integration.engine.razorpay_support import KEY_ID


def test_create_records_the_payment_and_one_order_in_paise(portal: Portal) -> None:
    token = portal.session()
    response = portal.create("2500.50", token=token)

    assert response.status == 201, response.body
    body = response.body
    assert set(body) == {"payment_id", "razorpay_order_id", "razorpay_key_id", "amount", "currency"}
    assert body["amount"] == "2500.50" and body["currency"] == "INR"
    assert body["razorpay_key_id"] == KEY_ID
    orders = portal.sim.orders()
    assert len(orders) == 1
    order = orders[0]
    assert order["id"] == body["razorpay_order_id"]
    assert order["amount"] == 250050  # paise, at the client edge only
    assert order["receipt"] == body["payment_id"]
    assert order["notes"]["loan_account_number"] == "LN0000000001"
    assert order["notes"]["payment_id"] == body["payment_id"]
    sent = next(r for r in portal.sim.received() if r["path"] == "/v1/orders")
    assert sent["body"]["unique_receipt"] is True
    stored = portal.payment(body["payment_id"])
    assert stored.status.value == "CREATED"
    assert stored.amount == Decimal("2500.50")
    assert stored.razorpay_order_id == order["id"]
    assert stored.branch_code == "BR001"
    assert stored.version == 2


def assert_nothing_written(portal: Portal) -> None:
    assert portal.all_payments() == []
    assert portal.table_items("IDEMPOTENCY_TABLE") == []
    assert portal.sim.orders() == []


def test_the_minimum_is_one_rupee(portal: Portal) -> None:
    response = portal.create("0.99", token=portal.session())
    assert response.status == 422
    assert response.body["error"]["code"] == "AMOUNT_BELOW_MINIMUM"
    assert_nothing_written(portal)
    assert portal.create("1.00", token=portal.session(), key="key-one-rupee").status == 201


def test_three_decimals_is_a_validation_error(portal: Portal) -> None:
    response = portal.create("10.005", token=portal.session())
    assert response.status == 400
    assert response.body["error"]["code"] == "VALIDATION_ERROR"
    assert response.body["error"]["details"][0]["field"] == "amount"
    assert_nothing_written(portal)
    number = portal.create(10.005, token=portal.session())
    assert number.status == 400


def test_more_than_the_outstanding_is_refused(portal: Portal) -> None:
    response = portal.create("250000.01", token=portal.session())
    assert response.status == 422
    error = response.body["error"]
    assert error["code"] == "AMOUNT_EXCEEDS_OUTSTANDING"
    assert error["details"][0]["payable"] == "250000.00"
    assert_nothing_written(portal)
    assert portal.create("250000.00", token=portal.session()).status == 201


def test_more_than_the_configured_maximum_is_refused(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import wiring

    monkeypatch.setenv("MAX_PAYMENT_AMOUNT", "100000.00")
    wiring.reset()
    response = portal.create("100000.01", token=portal.session())
    assert response.status == 422
    assert response.body["error"]["code"] == "AMOUNT_ABOVE_MAXIMUM"
    assert_nothing_written(portal)


def test_a_closed_loan_takes_no_payment(portal: Portal) -> None:
    response = portal.create("100.00", token=portal.session("LN0000000003"), loan="LN0000000003")
    assert response.status == 422
    assert response.body["error"]["code"] == "LOAN_CLOSED"
    assert_nothing_written(portal)


def test_captured_not_yet_synced_is_not_payable_twice(portal: Portal) -> None:
    token = portal.session()
    first = portal.create("200000.00", token=token, key="key-first-0001").body
    paid = portal.checkout(first["razorpay_order_id"])
    assert portal.notify(first["payment_id"], paid, token=token).status == 200
    # PostgreSQL still says 250000.00 outstanding: the stream has not synced the capture.
    refused = portal.create("50000.01", token=token, key="key-second-001")
    assert refused.status == 422
    assert refused.body["error"]["code"] == "AMOUNT_EXCEEDS_OUTSTANDING"
    assert refused.body["error"]["details"][0]["payable"] == "50000.00"
    assert len(portal.all_payments()) == 1
    assert portal.create("50000.00", token=token, key="key-second-001").status == 201


def test_the_same_key_and_body_replay_the_first_answer(portal: Portal) -> None:
    token = portal.session()
    first = portal.create("2500", token=token)
    again = portal.create("2500.00", token=token)  # the same amount, written differently
    assert first.status == again.status == 201
    assert again.body == first.body
    assert len(portal.sim.orders()) == 1
    assert len(portal.all_payments()) == 1


def test_the_same_key_with_another_body_is_409(portal: Portal) -> None:
    token = portal.session()
    assert portal.create("2500.00", token=token).status == 201
    response = portal.create("2600.00", token=token)
    assert response.status == 409
    assert response.body["error"]["code"] == "CONFLICT"
    assert len(portal.all_payments()) == 1 and len(portal.sim.orders()) == 1


def test_a_replay_still_answers_after_the_loan_was_paid_down(portal: Portal) -> None:
    """The first request paid the loan off; its retry is the first answer, not a 422."""
    token = portal.session()
    first = portal.create("250000.00", token=token)
    paid = portal.checkout(first.body["razorpay_order_id"])
    assert portal.notify(first.body["payment_id"], paid, token=token).status == 200
    portal.sql(
        "UPDATE loan_accounts SET outstanding_balance = 0, loan_status = 'CLOSED'"
        " WHERE loan_account_number = 'LN0000000001'"
    )
    again = portal.create("250000.00", token=token)
    assert again.status == 201 and again.body == first.body
    other = portal.create("250000.00", token=token, key="key-another-01")
    assert other.status == 422 and other.body["error"]["code"] == "LOAN_CLOSED"


def test_the_idempotency_key_is_required_and_checked(portal: Portal) -> None:
    token = portal.session()
    for key in (None, "short", "has space inside", "x" * 129):
        response = portal.create("100.00", token=token, key=key)
        assert response.status == 400, key
        assert response.body["error"]["details"][0]["field"] == "Idempotency-Key"
    assert_nothing_written(portal)


def test_keys_are_per_loan(portal: Portal) -> None:
    mine = portal.create("100.00", token=portal.session(), key="shared-key-001")
    theirs = portal.create(
        "100.00", token=portal.session("LN0000000002"), key="shared-key-001", loan="LN0000000002"
    )
    assert mine.status == theirs.status == 201
    assert mine.body["payment_id"] != theirs.body["payment_id"]


def test_twenty_concurrent_identical_creates_make_one_order(portal: Portal) -> None:
    token = portal.session()
    barrier = threading.Barrier(20)
    answers = []

    def create() -> None:
        barrier.wait()
        answers.append(portal.create("4321.00", token=token, key="key-concurrent"))

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status for a in answers] == [201] * 20, [a.body for a in answers if a.status != 201]
    assert len({a.body["payment_id"] for a in answers}) == 1
    assert len({a.body["razorpay_order_id"] for a in answers}) == 1
    assert len(portal.sim.orders()) == 1
    assert len(portal.all_payments()) == 1


def test_razorpay_5xx_writes_nothing_half_and_the_retry_reuses_the_payment(
    portal: Portal,
) -> None:
    token = portal.session()
    portal.sim.set_mode("error_5xx", count=2)  # the attempt and its one retry
    failed = portal.create("999.00", token=token)
    assert failed.status == 503
    assert failed.body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert failed.headers.get("Retry-After")
    (recorded,) = portal.all_payments()
    assert recorded["status"] == "CREATED" and "razorpay_order_id" not in recorded
    assert portal.sim.orders() == []
    retried = portal.create("999.00", token=token)
    assert retried.status == 201
    assert retried.body["payment_id"] == recorded["transaction_id"]
    assert len(portal.sim.orders()) == 1 and len(portal.all_payments()) == 1


def test_razorpay_timeouts_never_make_a_second_order(portal: Portal) -> None:
    """A timed-out create may have made the order; unique_receipt returns it on retry."""
    token = portal.session()
    portal.sim.set_mode("timeout", count=2)
    failed = portal.create("1234.00", token=token)
    assert failed.status == 503
    assert len(portal.sim.orders()) == 1  # made, its answer lost
    retried = portal.create("1234.00", token=token)
    assert retried.status == 201
    assert retried.body["razorpay_order_id"] == portal.sim.orders()[0]["id"]
    assert len(portal.sim.orders()) == 1


def test_a_timeout_then_an_answer_within_the_budget_succeeds_at_once(portal: Portal) -> None:
    portal.sim.set_mode("timeout", count=1)
    response = portal.create("1234.00", token=portal.session())
    assert response.status == 201
    assert len(portal.sim.orders()) == 1


def test_without_a_session_nothing_happens(portal: Portal) -> None:
    assert portal.create("100.00", token=None).status == 401
    assert (
        portal.create("100.00", token="not-a-real-session-token-000000000000000000").status == 401
    )
    assert_nothing_written(portal)


def test_an_expired_session_is_401(portal: Portal) -> None:
    response = portal.create("100.00", token=portal.session(ttl=-1))
    assert response.status == 401
    assert_nothing_written(portal)


def test_another_loans_session_is_404_and_writes_nothing(portal: Portal) -> None:
    response = portal.create("100.00", token=portal.session("LN0000000002"))
    assert response.status == 404
    assert response.body["error"]["code"] == "NOT_FOUND"
    assert_nothing_written(portal)
