"""Writes cancelled by a conflicting write (not by the payout's own condition) are retried,
and what still cannot be written is never read as "someone else already did it".

moto does not produce TransactionConflict by itself: `ConflictInjector` wraps the handlers'
DynamoDB client and makes writes touching one table fail as a conflicting write would.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.payouts.test_payouts_webhooks import (
    hooks,  # noqa: F401 - the fixture
    pending_payout,
    send,
    status_event,
)
from tests.support import ConflictInjector, Payouts

BODY = {"customer_id": "cust-1", "amount": 100.5, "payout_method": "PayId"}


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The stores' retry pauses, recorded instead of slept."""
    from shared import ddb_writes

    pauses: list[float] = []
    monkeypatch.setattr(ddb_writes, "_sleep", pauses.append)
    return pauses


def inject(
    monkeypatch: pytest.MonkeyPatch, table: str, times: int | None = None
) -> ConflictInjector:
    from payouts import wiring
    from shared import aws

    injector = ConflictInjector(aws.client("dynamodb"), table, times)
    monkeypatch.setattr(wiring, "dynamodb", lambda: injector)
    return injector


def test_a_webhook_conflicting_once_is_retried_and_applied(
    hooks: Payouts,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    backoff: list[float],
) -> None:
    txn = pending_payout(hooks)
    injector = inject(monkeypatch, hooks.resources.tables["Transactions"], times=1)

    response = send(status_event(txn, "Payment Successful"))

    assert (response.status, response.body["result"]) == (200, "applied")
    assert injector.injected == 1
    assert len(backoff) == 1
    assert hooks.payout(txn)["status"] == "Completed"


def test_a_webhook_that_stays_conflicted_is_dead_lettered_not_stale(
    hooks: Payouts,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    backoff: list[float],
) -> None:
    txn = pending_payout(hooks)
    injector = inject(monkeypatch, hooks.resources.tables["Transactions"])

    response = send(status_event(txn, "Payment Successful"), webhook_id="31")

    assert (response.status, response.body["result"]) == (200, "dead_lettered")
    assert injector.injected == 4  # the store's attempts, then it gave up
    [letter] = hooks.dlq_messages()
    assert letter["webhook_id"] == "31"
    assert letter["error"] == "processing failed: Conflict"
    assert hooks.payout(txn)["status"] == "Pending"


def test_an_unknown_outcome_survives_a_conflicting_breaker_counter(
    payouts: Payouts, monkeypatch: pytest.MonkeyPatch, backoff: list[float]
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    payouts.simulator.set_mode("error_5xx")
    injector = inject(monkeypatch, payouts.resources.tables["CircuitBreaker"])

    response = payouts.post_payout(BODY)

    assert response.status == 202
    assert injector.injected >= 1
    payout = payouts.payout(response.body["transaction_id"])
    assert payout["status"] == "UNKNOWN"  # the outcome was written; the counter was not
    assert payouts.balance("cust-1") == Decimal("899.50")


def test_a_decline_survives_a_conflicting_breaker_counter(
    payouts: Payouts, monkeypatch: pytest.MonkeyPatch, backoff: list[float]
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    payouts.simulator.set_mode("decline", count=1)
    inject(monkeypatch, payouts.resources.tables["CircuitBreaker"])

    response = payouts.post_payout(BODY)

    assert payouts.payout(response.body["transaction_id"])["status"] == "Rejected"


def test_an_outcome_write_conflicting_once_is_retried(
    payouts: Payouts, monkeypatch: pytest.MonkeyPatch, backoff: list[float]
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    payouts.simulator.set_mode("error_5xx")
    # The first hit is the create's own transaction, the second the outcome's write.
    injector = inject(monkeypatch, payouts.resources.tables["Transactions"], times=2)

    response = payouts.post_payout(BODY)

    assert injector.injected == 2
    assert payouts.payout(response.body["transaction_id"])["status"] == "UNKNOWN"
    assert payouts.balance("cust-1") == Decimal("899.50")  # debited once


def test_a_credit_back_conflicting_once_is_retried(
    payouts: Payouts, monkeypatch: pytest.MonkeyPatch, backoff: list[float]
) -> None:
    payouts.seed_customer("cust-1")
    payouts.simulator.set_webhook_url(None)
    payouts.simulator.set_mode("decline", count=1)
    txn = payouts.post_payout(BODY).body["transaction_id"]
    injector = inject(monkeypatch, payouts.resources.tables["Customers"], times=1)

    payouts.pump_stream()  # asserts the batch had no failures

    assert injector.injected == 1
    assert payouts.balance("cust-1") == Decimal("1000.00")
    assert payouts.payout(txn)["refunded_at"]
