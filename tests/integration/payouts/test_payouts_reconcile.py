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

    monkeypatch.setenv("BREAKER_MIN_VOLUME", "2")
    settings.reset()
    quiet.simulator.set_mode("error_5xx")
    quiet.post_payout(BODY, key="order-trip")  # 2 failed attempts (bounded create): trips it
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

    monkeypatch.setenv("BREAKER_MIN_VOLUME", "2")
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


def test_a_payout_that_cannot_be_sent_as_first_sent_goes_to_manual_review(
    quiet: Payouts, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet.seed_customer("cust-2")
    quiet.simulator.set_mode("error_5xx")
    broken = quiet.post_payout({**BODY, "customer_id": "cust-2"}, key="order-broken").body
    fine = quiet.post_payout(BODY, key="order-fine").body
    quiet.simulator.set_mode("ok")
    quiet.client("dynamodb").update_item(  # a destination snapshot that no longer opens
        TableName=quiet.resources.tables["Transactions"],
        Key={"transaction_id": {"S": broken["transaction_id"]}},
        UpdateExpression="SET destination.pay_id = :junk",
        ExpressionAttributeValues={":junk": {"S": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
    )

    report = quiet.run_reconciler()

    assert (report["needs_review"], report["resubmitted"], report["errors"]) == (1, 1, 0)
    review = quiet.payout(broken["transaction_id"])
    assert review["status"] == "ManualReview"
    assert "cannot be sent again" in review["status_reason"]
    assert "due_work" not in review  # no job keeps retrying it; a person decides
    assert quiet.simulator.executions(broken["transaction_id"]) == []
    assert quiet.balance("cust-2") == Decimal("899.50")  # still debited: nothing refunded
    assert '"PayoutNeedsReview"' in capsys.readouterr().out  # the metric that pages
    assert quiet.payout(fine["transaction_id"])["status"] == "Pending"


def test_a_payout_made_before_destination_snapshots_goes_to_manual_review(
    quiet: Payouts,
) -> None:
    quiet.simulator.set_mode("error_5xx")
    txn = quiet.post_payout(BODY).body["transaction_id"]
    quiet.simulator.set_mode("ok")
    quiet.client("dynamodb").update_item(
        TableName=quiet.resources.tables["Transactions"],
        Key={"transaction_id": {"S": txn}},
        UpdateExpression="REMOVE destination",
    )

    assert quiet.run_reconciler()["needs_review"] == 1
    assert quiet.payout(txn)["status"] == "ManualReview"
    assert quiet.simulator.executions(txn) == []


@pytest.mark.parametrize("change", ["deactivated", "replaced"])
def test_a_resubmission_sends_the_destination_the_payout_was_created_with(
    quiet: Payouts, change: str
) -> None:
    from payouts import wiring
    from payouts.dal import destinations
    from payouts.models.payout import Destination
    from shared import ddb

    quiet.simulator.set_mode("error_5xx")
    txn = quiet.post_payout(BODY).body["transaction_id"]
    quiet.simulator.set_mode("ok")
    table = quiet.resources.tables["Customers"]
    if change == "deactivated":
        update = "SET destinations.PayId.#s = :off"
        names, values = {"#s": "status"}, {":off": {"S": "inactive"}}
    else:  # the customer now has another PayID, sealed as the store seals it
        other = Destination("PayId", "Someone Else", pay_id="else@example.com", pay_id_type="Email")
        entry = destinations.seal(
            wiring.field_crypto(), destinations.customer_scope("cust-1", "PayId"), other
        )
        update = "SET destinations.PayId.pay_id = :p, destinations.PayId.data_key = :k"
        names = {}
        values = ddb.values({":p": entry["pay_id"], ":k": entry["data_key"]})
    quiet.client("dynamodb").update_item(
        TableName=table,
        Key={"customer_id": {"S": "cust-1"}},
        UpdateExpression=update,
        ExpressionAttributeValues=values,
        **({"ExpressionAttributeNames": names} if names else {}),
    )

    report = quiet.run_reconciler()

    assert report["resubmitted"] == 1
    [execution] = quiet.simulator.executions(txn)
    details = execution["body"]["disbursements"][0]["toNppCreditPayIdDetails"]
    assert (details["payId"], details["accountName"]) == ("jane@example.com", "Jane Citizen")


def test_stuck_payouts_do_not_keep_newer_ones_from_being_looked_at(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payouts import settings

    monkeypatch.setenv("RECONCILE_BATCH_LIMIT", "2")
    settings.reset()
    quiet.simulator.set_mode("error_5xx")  # no answer from the status API either: all stuck
    made = [
        quiet.post_payout(BODY, key=f"order-stuck-{i}").body["transaction_id"] for i in range(3)
    ]

    looked_at: list[set[str]] = []
    for _ in range(2):
        before = len(quiet.simulator.requests_log())
        report = quiet.run_reconciler()
        assert (report["examined"], report["unresolved"]) == (2, 2)
        looked_at.append(_status_requests(quiet, since=before))

    assert looked_at[0] == set(made[:2])  # the soonest due first
    assert made[2] in looked_at[1]  # then the newer one, not the same two again
    assert looked_at[0] | looked_at[1] == set(made)


def _status_requests(payouts: Payouts, since: int) -> set[str]:
    return {
        r["path"].rsplit("/", 1)[1]
        for r in payouts.simulator.requests_log()[since:]
        if "/status/" in r["path"]
    }


def test_an_open_payout_from_before_the_due_work_index_is_adopted_and_resolved(
    quiet: Payouts,
) -> None:
    quiet.simulator.set_mode("timeout", count=1)  # Monoova took it; the answer was lost
    txn = quiet.post_payout(BODY).body["transaction_id"]
    quiet.client("dynamodb").update_item(  # as written before the index existed
        TableName=quiet.resources.tables["Transactions"],
        Key={"transaction_id": {"S": txn}},
        UpdateExpression="REMOVE due_work, due_at",
    )
    wait_for(lambda: _sim_status(quiet, txn) == "Complete")

    report = quiet.run_reconciler()

    assert (report["adopted"], report["moved"]) == (1, {"Completed": 1})
    assert quiet.payout(txn)["status"] == "Completed"
    assert quiet.run_reconciler()["adopted"] == 0
