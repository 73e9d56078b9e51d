"""The Payment record, its ids and the paise conversion at RazorPay's edge."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from engine.models.payment import PAYMENT_ID_PATTERN, Payment, new_payment_id, paise, rupees
from engine.models.status import PaymentStatus
from shared import ddb


def test_payment_ids_are_pay_and_20_base32_characters_and_fit_a_receipt() -> None:
    ids = {new_payment_id() for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert re.fullmatch(PAYMENT_ID_PATTERN, value)
        assert len(value) <= 40


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1.00", 100), ("2500", 250000), ("0.29", 29), ("123456.78", 12345678), ("1.1", 110)],
)
def test_rupees_become_exact_paise(amount: str, expected: int) -> None:
    assert paise(Decimal(amount)) == expected
    assert rupees(expected) == Decimal(amount).quantize(Decimal("0.01"))


def test_a_fraction_of_a_paisa_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="2 decimal places"):
        paise(Decimal("10.005"))


def test_the_item_round_trips_through_dynamodb_types() -> None:
    payment = Payment(
        transaction_id=new_payment_id(),
        loan_account_number="LN0000000001",
        branch_code="BR001",
        customer_id="c-1",
        amount=Decimal("2500.50"),
        status=PaymentStatus.CREATED,
        created_date="2026-12-03T06:40:00.123Z",
        updated_at="2026-12-03T06:40:00.123Z",
        idempotency_key_hash="h",
    )
    item = ddb.to_item(payment.to_item())
    assert "razorpay_order_id" not in item  # None attributes stay out of the item
    assert item["amount"] == {"N": "2500.50"}
    back = Payment.from_item(ddb.from_item(item) or {})
    assert back == payment
    assert back.status_view()["amount"] == Decimal("2500.50")
