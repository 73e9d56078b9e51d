"""The reconciler and the circuit breaker against the simulator's failure modes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support import Payouts, wait_for

BODY = {"customer_id": "cust-1", "amount": 100.5, "payout_method": "PayId"}


@pytest.fixture
def quiet(payouts: Payouts) -> Payouts:
    """No automatic webhooks: only the reconciler can move payouts forward."""
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    return payouts


def test_lost_response_becomes_unknown_then_reconciles_to_completed(quiet: Payouts) -> None:
    quiet.simulator.set_mode("timeout")

    txn = quiet.post_payout(BODY).body["transaction_id"]

    assert quiet.payout(txn)["status"] == "UNKNOWN"
    wait_for(lambda: quiet.simulator.executions(txn))  # Monoova did take it
    quiet.simulator.set_mode("ok")
    wait_for(lambda: _sim_status(quiet, txn) == "Complete")

    report = quiet.run_reconciler()

    assert report["moved"] == {"Completed": 1}
    assert quiet.payout(txn)["status"] == "Completed"
    assert len(quiet.simulator.executions(txn)) == 1


def test_monoova_down_unknown_is_resent_with_the_same_reference(quiet: Payouts) -> None:
    quiet.simulator.set_mode("error_5xx")
    txn = quiet.post_payout(BODY).body["transaction_id"]
    assert quiet.payout(txn)["status"] == "UNKNOWN"
    assert quiet.simulator.executions(txn) == []
    quiet.simulator.set_mode("ok")

    report = quiet.run_reconciler()

    assert report["resubmitted"] == 1
    [execution] = quiet.simulator.executions(txn)
    assert execution["body"]["uniqueReference"] == txn
    assert quiet.payout(txn)["status"] == "Pending"
    assert [h["status"] for h in quiet.payout(txn)["status_history"]] == [
        "Pending",
        "UNKNOWN",
        "Pending",
    ]
    assert quiet.balance("cust-1") == Decimal("899.50")  # debited once, not twice


def test_reconciler_leaves_payouts_alone_while_monoova_gives_no_answer(quiet: Payouts) -> None:
    quiet.simulator.set_mode("error_5xx")
    txn = quiet.post_payout(BODY).body["transaction_id"]

    report = quiet.run_reconciler()

    assert report["unresolved"] == 1
    assert quiet.payout(txn)["status"] == "UNKNOWN"
    assert quiet.simulator.executions(txn) == []


def test_rejected_at_monoova_reconciles_to_rejected(quiet: Payouts) -> None:
    quiet.simulator.set_mode("reject", count=1)
    txn = quiet.post_payout(BODY).body["transaction_id"]
    wait_for(lambda: _sim_status(quiet, txn) == "Rejected")

    quiet.run_reconciler()

    assert quiet.payout(txn)["status"] == "Rejected"
    quiet.pump_stream()
    assert quiet.balance("cust-1") == Decimal("1000.00")


def test_stuck_unknown_count_is_reported(quiet: Payouts, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import clock

    quiet.simulator.set_mode("error_5xx")
    quiet.post_payout(BODY)
    quiet.post_payout(BODY, key="order-second")
    later = clock.now() + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)

    report = quiet.run_reconciler()

    assert report["stuck_unknown"] == 2


def test_circuit_opens_answers_503_debits_nothing_then_half_opens(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payouts import settings
    from shared import clock

    monkeypatch.setenv("BREAKER_MIN_VOLUME", "4")
    settings.reset()
    quiet.simulator.set_mode("error_5xx")
    quiet.post_payout(BODY, key="order-trip")  # 4 failed attempts: trips the breaker
    balance = quiet.balance("cust-1")
    payouts_before = len(quiet.all_payouts())

    refused = quiet.post_payout(BODY, key="order-refused")

    assert refused.status == 503
    assert refused.body["error"] == "ServiceUnavailable"
    assert 590 <= int(refused.headers["Retry-After"]) <= 600
    assert quiet.balance("cust-1") == balance
    assert len(quiet.all_payouts()) == payouts_before

    quiet.simulator.set_mode("ok")
    start = clock.epoch()
    monkeypatch.setattr(clock, "epoch", lambda: start + 601)
    probe = quiet.post_payout(BODY, key="order-probe")
    assert probe.status == 202
    assert quiet.post_payout(BODY, key="order-after").status == 202


def test_a_failed_probe_opens_the_circuit_again(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payouts import settings
    from shared import clock

    monkeypatch.setenv("BREAKER_MIN_VOLUME", "4")
    settings.reset()
    quiet.simulator.set_mode("error_5xx")
    quiet.post_payout(BODY, key="order-trip")
    start = clock.epoch()
    monkeypatch.setattr(clock, "epoch", lambda: start + 601)

    assert quiet.post_payout(BODY, key="order-probe").status == 202  # the probe fails: UNKNOWN
    again = quiet.post_payout(BODY, key="order-again")

    assert again.status == 503
    assert int(again.headers["Retry-After"]) > 500


def _sim_status(payouts: Payouts, txn: str) -> str | None:
    execution = payouts.simulator.executions(txn)
    return execution[0].get("transaction_status") if execution else None


def test_submission_failure_after_the_debit_still_answers_202_and_reconciles(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payouts import wiring

    sm = quiet.client("secretsmanager")
    monkeypatch.setenv("MONOOVA_API_SECRET_ARN", quiet.resources.api_secret_arn + "-gone")
    wiring.reset()

    response = quiet.post_payout(BODY)

    assert response.status == 202
    txn = response.body["transaction_id"]
    assert quiet.payout(txn)["status"] == "Pending"
    assert quiet.simulator.executions(txn) == []
    assert quiet.balance("cust-1") == Decimal("899.50")
    monkeypatch.setenv("MONOOVA_API_SECRET_ARN", quiet.resources.api_secret_arn)
    wiring.reset()
    assert sm.describe_secret(SecretId=quiet.resources.api_secret_arn)

    report = quiet.run_reconciler()

    assert report["resubmitted"] == 1
    assert len(quiet.simulator.executions(txn)) == 1


def test_one_broken_payout_does_not_stop_the_run(quiet: Payouts) -> None:
    quiet.seed_customer("cust-2")
    quiet.simulator.set_mode("error_5xx")
    broken = quiet.post_payout({**BODY, "customer_id": "cust-2"}, key="order-broken").body
    fine = quiet.post_payout(BODY, key="order-fine").body
    quiet.simulator.set_mode("ok")
    dynamodb = quiet.client("dynamodb")
    dynamodb.update_item(  # a destination that no longer decrypts
        TableName=quiet.resources.tables["Customers"],
        Key={"customer_id": {"S": "cust-2"}},
        UpdateExpression="SET destinations.PayId.pay_id = :junk",
        ExpressionAttributeValues={":junk": {"S": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
    )

    report = quiet.run_reconciler()

    assert report["errors"] == 1
    assert report["resubmitted"] == 1
    assert quiet.payout(broken["transaction_id"])["status"] == "UNKNOWN"
    assert quiet.payout(fine["transaction_id"])["status"] == "Pending"
