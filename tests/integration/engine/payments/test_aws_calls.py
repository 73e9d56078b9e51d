"""AWS calls per payment operation on a warm container (secrets and clients cached).

The goals are create <= 2, notification <= 3, webhook <= 2. What the rules cost instead:

* create 3: the session read, the one transaction that records the payment with its
  idempotency claim and payable check BEFORE RazorPay is called, and recording RazorPay's
  order on it afterwards. Recording before the side effect is the rule that needs the third;
  the session is read first because nothing (a loan's state, a 422) may answer without one.
* notification 4 (capture): the session and the payment in one TransactGetItems (its stored
  order id and version), the receipt number's ADD (a transaction cannot return a counter),
  the capture transaction and the payment.captured event (kept where it is: published after
  the capture, the TransactionQueue item being the durable hand-off). 1 when the payment is
  already captured; a status read and a receipt as JSON are 1 too.
* webhook 4 for the capture: the payment (its version, its branch for the receipt number, and
  the read that makes a duplicate or stale event cost nothing: a blind conditional write
  would take a receipt number for every duplicate first), the receipt ADD, the transaction,
  the event; 2 for authorized/failed (the payment, the transaction); 1 for a duplicate.

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
        "dynamodb.TransactGetItems": 1,  # the session and the payment, read together
        "dynamodb.UpdateItem": 1,  # the receipt number (a transaction cannot return it)
        "dynamodb.TransactWriteItems": 1,  # CAPTURED + loan counter + LMS item
        "eventbridge.PutEvents": 1,  # payment.captured, after the capture
    }
    again = calls(portal, lambda: portal.notify(created["payment_id"], paid, token=token))
    assert again == {"dynamodb.TransactGetItems": 1}  # captured already: nothing to write
    assert calls(portal, lambda: portal.status(created["payment_id"], token=token)) == {
        "dynamodb.TransactGetItems": 1  # the session and the payment
    }
    assert calls(portal, lambda: portal.receipt(created["payment_id"], token=token)) == {
        "dynamodb.TransactGetItems": 1  # the session and the payment; JSON needs no S3
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
        "dynamodb.GetItem": 1,  # the payment (its order, amount, version)
        "dynamodb.TransactWriteItems": 1,  # the event id's claim + AUTHORIZED
    }
    assert calls(portal, deliver("payment.captured")) == {
        "dynamodb.GetItem": 1,  # the payment (version, branch; a duplicate stops here)
        "dynamodb.UpdateItem": 1,  # the receipt number
        "dynamodb.TransactWriteItems": 1,  # claim + CAPTURED + loan counter + LMS item
        "eventbridge.PutEvents": 1,  # payment.captured
    }
    assert calls(portal, deliver("order.paid")) == {"dynamodb.GetItem": 1}  # already there
    assert calls(portal, deliver("payment.captured")) == {"dynamodb.GetItem": 1}  # a duplicate
