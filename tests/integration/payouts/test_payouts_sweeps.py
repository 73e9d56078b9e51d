"""The jobs that make sure nothing is lost: the refund sweep (credits the table stream
missed) and the return check (returns whose NppReturn webhook never arrived)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support import Payouts, wait_for

BODY = {"customer_id": "cust-1", "amount": 100.5, "payout_method": "PayId"}
UNREACHABLE = "http://127.0.0.1:9/webhooks/monoova"  # nothing listens: every delivery fails


@pytest.fixture
def quiet(payouts: Payouts) -> Payouts:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    return payouts


def later(monkeypatch: pytest.MonkeyPatch, **delta: float) -> None:
    from shared import clock

    moment = clock.now() + timedelta(**delta)
    monkeypatch.setattr(clock, "now", lambda: moment)


def declined(payouts: Payouts) -> str:
    payouts.simulator.set_mode("decline", count=1)
    txn = payouts.post_payout(BODY).body["transaction_id"]
    assert payouts.payout(txn)["status"] == "Rejected"
    return txn


def test_a_credit_the_stream_missed_is_made_by_the_sweep_exactly_once(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    txn = declined(quiet)  # its stream record is never delivered: the stream "lost" it
    assert quiet.balance("cust-1") == Decimal("899.50")
    later(monkeypatch, minutes=6)

    report = quiet.run_refund_sweep()

    assert (report["credited"], report["errors"]) == (1, 0)
    assert quiet.balance("cust-1") == Decimal("1000.00")
    assert quiet.payout(txn)["refunded_at"]
    assert '"RefundsSwept":[1.0]' in capsys.readouterr().out  # the metric that alarms
    # Neither a second sweep nor the late stream record credits it again.
    assert quiet.run_refund_sweep()["due"] == 0
    quiet.pump_stream()
    assert quiet.balance("cust-1") == Decimal("1000.00")


def test_the_sweep_leaves_fresh_refunds_to_the_stream(
    quiet: Payouts, capsys: pytest.CaptureFixture[str]
) -> None:
    declined(quiet)

    report = quiet.run_refund_sweep()

    assert (report["due"], report["credited"]) == (0, 0)
    assert '"RefundsSwept":[0.0]' in capsys.readouterr().out  # published every run
    quiet.pump_stream()
    assert quiet.balance("cust-1") == Decimal("1000.00")


def test_a_payout_the_stream_credited_is_never_swept(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    declined(quiet)
    quiet.pump_stream()
    later(monkeypatch, minutes=30)

    assert quiet.run_refund_sweep()["due"] == 0
    assert quiet.balance("cust-1") == Decimal("1000.00")


def completed_then_returned_without_webhook(payouts: Payouts) -> str:
    txn = payouts.post_payout(BODY).body["transaction_id"]
    payouts.simulator.set_webhook_url(payouts.webhook_url)
    assert payouts.simulator.send_webhook(txn)["status_code"] == 200
    assert payouts.payout(txn)["status"] == "Completed"
    payouts.simulator.set_webhook_url(UNREACHABLE)
    payouts.simulator.send_webhook(txn, event="NppReturn")  # Monoova returns it; delivery fails
    wait_for(lambda: len(payouts.simulator.deliveries()) >= 3, timeout=5)  # and its one retry
    payouts.simulator.set_webhook_url(None)
    return txn


def test_a_return_whose_webhook_was_lost_is_found_and_credited(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    txn = completed_then_returned_without_webhook(quiet)
    assert quiet.run_reconciler(job="return-check")["examined"] == 0  # not due yet
    later(monkeypatch, hours=1, seconds=1)

    report = quiet.run_reconciler(job="return-check")

    assert (report["examined"], report["returned"]) == (1, 1)
    returned = quiet.payout(txn)
    assert returned["status"] == "Returned"
    assert [h["source"] for h in returned["status_history"]][-1] == "return-check"
    quiet.pump_stream()  # the stream credits it as it credits every return
    assert quiet.balance("cust-1") == Decimal("1000.00")


def test_a_completed_payout_is_checked_until_its_return_window_closes(
    quiet: Payouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    txn = quiet.post_payout(BODY).body["transaction_id"]
    quiet.simulator.set_webhook_url(quiet.webhook_url)
    quiet.simulator.send_webhook(txn)
    later(monkeypatch, hours=2)

    first = quiet.run_reconciler(job="return-check")
    again = quiet.run_reconciler(job="return-check")  # checked: not due again for an hour
    later(monkeypatch, days=8)
    closing = quiet.run_reconciler(job="return-check")
    after_close = quiet.run_reconciler(job="return-check")

    assert (first["examined"], first["returned"], first["window_closed"]) == (1, 0, 0)
    assert again["examined"] == 0
    assert (closing["examined"], closing["window_closed"]) == (1, 1)
    assert after_close["examined"] == 0
    item = quiet.payout(txn)
    assert item["status"] == "Completed" and "due_work" not in item
    assert quiet.balance("cust-1") == Decimal("899.50")
