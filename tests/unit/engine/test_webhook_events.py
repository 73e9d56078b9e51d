"""Reading RazorPay webhook bodies: what is an event, which payment it names, what is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from engine.logic.webhooks import InvalidEvent, parse

ENTITY = {
    "id": "pay_RZP0000000001",
    "entity": "payment",
    "amount": 250050,
    "currency": "INR",
    "status": "captured",
    "order_id": "order_ABC",
    "method": "upi",
    "amount_refunded": 0,
    "notes": {"payment_id": "pay_abcdefghijklmnopqrst"},
    "error_code": None,
    "error_description": None,
}


def body(event: str, **payload: Any) -> bytes:
    return json.dumps({"entity": "event", "event": event, "payload": payload}).encode()


def test_a_payment_event_carries_its_payment_in_rupees() -> None:
    event = parse(body("payment.captured", payment={"entity": ENTITY}), "evt_1")
    assert event.name == "payment.captured" and event.event_id == "evt_1"
    assert event.payment is not None
    assert event.payment.amount == Decimal("2500.50")
    assert event.notes["payment_id"] == "pay_abcdefghijklmnopqrst"
    assert event.order_receipt is None


def test_order_paid_names_our_payment_by_the_orders_receipt() -> None:
    order = {"id": "order_ABC", "receipt": "pay_abcdefghijklmnopqrst", "status": "paid"}
    event = parse(body("order.paid", payment={"entity": ENTITY}, order={"entity": order}), None)
    assert event.order_receipt == "pay_abcdefghijklmnopqrst"


def test_empty_notes_arrive_as_a_list_and_are_no_notes() -> None:
    event = parse(body("payment.failed", payment={"entity": {**ENTITY, "notes": []}}), "e")
    assert event.notes == {}


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"payload": {}}',
        body("payment.captured"),  # no payment entity
        body("payment.captured", payment={"entity": {**ENTITY, "amount": 2500.5}}),
        body("payment.captured", payment={"entity": {**ENTITY, "amount": "250050"}}),
        body("refund.processed", payment={"entity": {**ENTITY, "id": None}}),
        b'{"event": "payment.captured", "payload": {"payment": {"entity": {"id": NaN}}}}',
    ],
)
def test_what_is_not_a_readable_event_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse(raw, "evt_x")


def test_events_not_handled_need_no_payment() -> None:
    event = parse(body("subscription.charged"), "evt_2")
    assert event.name == "subscription.charged" and event.payment is None
