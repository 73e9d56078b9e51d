"""AWS calls per payment operation on a warm container (secrets and clients cached).

The goals are create <= 2, notification <= 3, webhook <= 2. What the rules cost instead:

* create 3: the session read, the one transaction that records the payment with its
  idempotency claim and payable check BEFORE RazorPay is called, and recording RazorPay's
  order on it afterwards. Recording before the side effect is the rule that needs the third.
* notification 5 (capture): the session, the payment (its stored order id and version), the
  receipt number's ADD (a transaction cannot return a counter), the capture transaction and
  the payment.captured event. 2 when the payment is already captured.
* webhook 4 for the capture (the payment, the receipt ADD, the transaction, the event);
  2 for authorized/failed (the payment, the transaction); 1 for a duplicate (the payment).

These numbers are asserted so that a change that adds a call shows up here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.integration.engine.payments.support import Portal


def warm(portal: Portal, token: str) -> None:
    """One whole payment first: secrets, clients and the database connection are cached."""
    body = portal.create("10.00", token=token, key="key-warm-00001").body
    paid = portal.checkout(body["razorpay_order_id"])
    assert portal.notify(body["payment_id"], paid, token=token).status == 200
    event = portal.sim.events()[-1]  # and the webhook function's secret
    headers = {"X-Razorpay-Signature": event["signature"], "x-razorpay-event-id": event["event_id"]}
    assert portal.post_webhook(event["body"].encode(), headers).status == 200


def calls(portal: Portal, work: Any) -> Counter[str]:
    _, made = portal.calls.measure(work)
    return Counter(made)


def test_calls_per_operation_on_a_warm_container(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    warm(portal, token)
    created: dict[str, Any] = {}

    def create() -> None:
        created.update(portal.create("2500.00", token=token, key="key-measure-01").body)

    assert calls(portal, create) == {
        "dynamodb.GetItem": 1,  # the session
        "dynamodb.TransactWriteItems": 1,  # claim + CREATED payment + payable check
        "dynamodb.UpdateItem": 1,  # RazorPay's order recorded
    }
    paid = portal.checkout(created["razorpay_order_id"])
    notify = calls(portal, lambda: portal.notify(created["payment_id"], paid, token=token))
    assert notify == {
        "dynamodb.GetItem": 2,  # the session, the payment
        "dynamodb.UpdateItem": 1,  # the receipt number
        "dynamodb.TransactWriteItems": 1,  # CAPTURED + loan counter + LMS item
        "eventbridge.PutEvents": 1,
    }
    again = calls(portal, lambda: portal.notify(created["payment_id"], paid, token=token))
    assert again == {"dynamodb.GetItem": 2}
    assert calls(portal, lambda: portal.status(created["payment_id"], token=token)) == {
        "dynamodb.GetItem": 2
    }


def test_webhook_calls(portal: Portal) -> None:
    portal.sim.set_mode("lost_webhook")
    token = portal.session()
    warm(portal, token)
    body = portal.create("2500.00", token=token, key="key-measure-02").body
    portal.checkout(body["razorpay_order_id"])
    order_id = body["razorpay_order_id"]
    events = {e["event"]: e for e in portal.sim.events() if e["order_id"] == order_id}

    def deliver(name: str) -> Any:
        event = events[name]
        headers = {
            "X-Razorpay-Signature": event["signature"],
            "x-razorpay-event-id": event["event_id"],
        }
        return lambda: portal.post_webhook(event["body"].encode(), headers)

    assert calls(portal, deliver("payment.authorized")) == {
        "dynamodb.GetItem": 1,
        "dynamodb.TransactWriteItems": 1,
    }
    assert calls(portal, deliver("payment.captured")) == {
        "dynamodb.GetItem": 1,
        "dynamodb.UpdateItem": 1,
        "dynamodb.TransactWriteItems": 1,
        "eventbridge.PutEvents": 1,
    }
    assert calls(portal, deliver("order.paid")) == {"dynamodb.GetItem": 1}
    assert calls(portal, deliver("payment.captured")) == {"dynamodb.GetItem": 1}
