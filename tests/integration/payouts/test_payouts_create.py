"""POST /payouts end to end: handler -> moto -> the Monoova simulator over HTTP."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from tests.support import Payouts, wait_for

BODY = {"customer_id": "cust-1", "amount": 100.5, "payout_method": "PayId"}


def test_payid_payout_is_accepted_debited_and_sent_once(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1", "500.00")

    response = payouts.post_payout(BODY, key="order-0001")

    assert response.status == 202
    assert set(response.body) == {"transaction_id", "status", "message", "created_at"}
    assert response.body["status"] == "Pending"
    txn = response.body["transaction_id"]
    assert payouts.balance("cust-1") == Decimal("399.50")
    [execution] = payouts.simulator.executions(txn)
    body = execution["body"]
    assert body["uniqueReference"] == txn
    assert body["paymentSource"] == "mAccount"
    assert body["totalAmount"] == Decimal("100.50")
    [disbursement] = body["disbursements"]
    assert disbursement["disbursementMethod"] == "NppCreditPayId"
    assert disbursement["amount"] == body["totalAmount"]
    assert disbursement["toNppCreditPayIdDetails"]["payId"] == "jane@example.com"
    assert disbursement["sourceAccountBsb"] == "802-985"
    stored = payouts.payout(txn)
    assert stored["status"] in ("Pending", "Completed")
    assert stored["monoova_transaction_id"] > 0
    assert stored["unique_reference"] == txn


def test_bank_account_payout_uses_npp_bank_account_details(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")

    response = payouts.post_payout({**BODY, "payout_method": "BankAccount"})

    assert response.status == 202
    [execution] = payouts.simulator.executions(response.body["transaction_id"])
    [disbursement] = execution["body"]["disbursements"]
    assert disbursement["disbursementMethod"] == "NppCreditBankAccount"
    details = disbursement["toNppCreditBankAccountDetails"]
    assert (details["bsbNumber"], details["accountNumber"]) == ("062-205", "12345678")


def test_webhook_completes_the_payout(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")

    txn = payouts.post_payout(BODY).body["transaction_id"]

    wait_for(lambda: payouts.payout(txn)["status"] == "Completed")
    item = payouts.payout(txn)
    assert "open_status" not in item
    assert [h["status"] for h in item["status_history"]] == ["Pending", "Completed"]
    assert payouts.balance("cust-1") == Decimal("899.50")


def test_same_key_same_body_replays_the_first_response(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")

    first = payouts.post_payout(BODY, key="order-0002")
    second = payouts.post_payout({**BODY, "amount": 100.50}, key="order-0002")

    assert second.status == 202
    assert second.body == first.body
    assert len(payouts.simulator.executions()) == 1
    assert payouts.balance("cust-1") == Decimal("899.50")
    assert len(payouts.all_payouts()) == 1


def test_same_key_different_body_is_a_conflict(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    payouts.post_payout(BODY, key="order-0003")

    response = payouts.post_payout({**BODY, "amount": 20}, key="order-0003")

    assert response.status == 409
    assert response.body["error"] == "Conflict"
    assert set(response.body) == {"error", "message", "timestamp"}
    assert payouts.balance("cust-1") == Decimal("899.50")


def test_twenty_concurrent_duplicates_make_one_payout(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    barrier = threading.Barrier(20)
    responses = []

    def post() -> None:
        barrier.wait()
        responses.append(payouts.post_payout(BODY, key="order-concurrent"))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status for r in responses] == [202] * 20
    assert len({r.body["transaction_id"] for r in responses}) == 1
    assert len(payouts.simulator.executions()) == 1
    assert payouts.balance("cust-1") == Decimal("899.50")
    assert len(payouts.all_payouts()) == 1


def test_insufficient_balance_is_422_and_writes_nothing(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1", "50.00")

    response = payouts.post_payout(BODY, key="order-0004")

    assert response.status == 422
    assert payouts.balance("cust-1") == Decimal("50.00")
    assert payouts.all_payouts() == []
    assert payouts.simulator.executions() == []
    # Nothing was recorded under the key: after a top-up the same request goes through.
    payouts.top_up("cust-1", "450.00")  # the customer store never overwrites a balance
    assert payouts.post_payout(BODY, key="order-0004").status == 202


def test_unknown_customer_is_404(payouts: Payouts) -> None:
    response = payouts.post_payout({**BODY, "customer_id": "nobody"})

    assert response.status == 404
    assert response.body["error"] == "NotFound"


def test_customer_without_that_destination_is_422(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1", pay_id=None)

    response = payouts.post_payout(BODY)

    assert response.status == 422
    assert "PayId" in response.body["message"]
    assert payouts.balance("cust-1") == Decimal("1000.00")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**BODY, "amount": 0}, "between"),
        ({**BODY, "amount": 1000.01}, "between"),
        ({**BODY, "amount": 10.005}, "2 decimal"),
        ({**BODY, "amount": "10.00"}, "number"),
        ({**BODY, "amount": True}, "number"),
        ({**BODY, "payout_method": "Cash"}, "payout_method"),
        ({**BODY, "customer_id": "bad id!"}, "customer_id"),
        ({**BODY, "extra": 1}, "unknown"),
        ({"customer_id": "cust-1"}, "missing"),
        ([1, 2], "object"),
    ],
)
def test_invalid_bodies_are_400_with_the_error_shape(
    payouts: Payouts, body: object, fragment: str
) -> None:
    payouts.seed_customer("cust-1")

    response = payouts.post_payout(body)

    assert response.status == 400
    assert response.body["error"] == "ValidationError"
    assert fragment in response.body["message"]
    assert payouts.all_payouts() == []


def test_malformed_json_and_missing_key_are_400(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")

    assert payouts.post_payout(None, raw="{not json").status == 400
    assert payouts.post_payout(None, raw='{"amount": NaN}').status == 400
    missing = payouts.post_payout(BODY, key=None)
    assert missing.status == 400
    assert "Idempotency-Key" in missing.body["message"]
    assert payouts.all_payouts() == []


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"customer_id": "cust-1", "payout_method": "PayId", "amount": ' + "1" * 5_000 + "}",
    ],
    ids=["nested-100k-deep", "integer-5000-digits"],
)
def test_a_body_the_json_reader_cannot_read_is_a_400_not_a_500(payouts: Payouts, raw: str) -> None:
    payouts.seed_customer("cust-1")

    response = payouts.post_payout(None, raw=raw)

    assert response.status == 400
    assert set(response.body) == {"error", "message", "timestamp"}
    assert response.body["error"] == "ValidationError"
    assert payouts.all_payouts() == []
    assert payouts.balance("cust-1") == Decimal("1000.00")


def test_synchronous_decline_rejects_and_restores_the_balance(payouts: Payouts) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_mode("decline", count=1)

    response = payouts.post_payout(BODY)

    assert response.status == 202
    txn = response.body["transaction_id"]
    assert payouts.payout(txn)["status"] == "Rejected"
    assert payouts.balance("cust-1") == Decimal("899.50")
    payouts.pump_stream()
    assert payouts.balance("cust-1") == Decimal("1000.00")
    assert payouts.payout(txn)["refunded_at"]
    payouts.pump_stream()  # redelivery credits nothing twice
    assert payouts.balance("cust-1") == Decimal("1000.00")


def test_a_refused_api_key_leaves_the_payout_pending_and_credits_nothing(
    payouts: Payouts, capsys: pytest.CaptureFixture[str]
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    payouts.simulator.set_mode("unauthorized")

    response = payouts.post_payout(BODY)

    assert response.status == 202
    txn = response.body["transaction_id"]
    item = payouts.payout(txn)
    assert item["status"] == "Pending"  # not Rejected: the payment was never refused
    assert item["provider_status"] == "Unauthorized"
    payouts.pump_stream()
    assert payouts.balance("cust-1") == Decimal("899.50")  # nothing credited back
    assert '"MonoovaAuthFailed"' in capsys.readouterr().out  # the metric that pages
    failed = sum(int(b.get("failed", 0)) for b in _breaker_buckets(payouts))
    assert failed == 1  # a failure for the circuit breaker

    payouts.simulator.set_mode("ok")  # the key is fixed
    report = payouts.run_reconciler()

    assert report["resubmitted"] == 1
    [execution] = payouts.simulator.executions(txn)  # sent again, same reference
    assert execution["body"]["uniqueReference"] == txn


def _breaker_buckets(payouts: Payouts) -> list[dict[str, Any]]:
    from shared import ddb

    table = payouts.resources.tables["CircuitBreaker"]
    items = payouts.client("dynamodb").scan(TableName=table)["Items"]
    return [i for i in (ddb.from_item(i) or {} for i in items) if "bucket" in i["pk"]]


def test_monoova_5xx_is_retried_once_then_unknown_never_resent_under_a_new_reference(
    payouts: Payouts,
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_mode("error_5xx")

    response = payouts.post_payout(BODY)

    assert response.status == 202
    txn = response.body["transaction_id"]
    item = payouts.payout(txn)
    assert item["status"] == "UNKNOWN"
    assert item["open_status"] == "UNKNOWN"
    # The create path is bounded: one attempt and one short retry, then 202 (the reconciler
    # takes over at its next run, with the full backoff).
    assert item["submit_attempts"] == 2
    [slept] = payouts.sleeps
    assert 0.4 <= slept <= 0.6
    assert (item["due_work"], item["due_at"]) == ("reconcile", item["updated_at"])
    references = {
        r["body"]["uniqueReference"]
        for r in payouts.simulator.requests_log()
        if r["path"].endswith("/execute")
    }
    assert references == {txn}
    assert payouts.balance("cust-1") == Decimal("899.50")  # still held: outcome unknown


def test_destinations_are_encrypted_at_rest_and_never_logged(
    payouts: Payouts, capsys: pytest.CaptureFixture[str]
) -> None:
    payouts.seed_customer("cust-1", pay_id="secret.person@example.com")

    payouts.post_payout(BODY)
    payouts.post_payout({**BODY, "payout_method": "BankAccount"}, key="order-bank-1")

    item = payouts.customer_item("cust-1")
    stored = repr(item)
    for clear in ("secret.person@example.com", "12345678", "062-205", "Jane Citizen"):
        assert clear not in stored
    assert item["destinations"]["PayId"]["pay_id_type"] == "Email"
    logs = capsys.readouterr()
    for clear in ("secret.person@example.com", "12345678", "Jane Citizen"):
        assert clear not in logs.out + logs.err
