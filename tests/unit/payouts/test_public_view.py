"""payouts.models.payout: the API view of a stored payout."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payouts.models.payout import Destination, public_view, status_of
from payouts.models.status import Status

CREATED = "2025-01-02T03:04:05.678Z"


def stored(**extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "transaction_id": "po_0123456789abcdef0123456789abcdef",
        "unique_reference": "po_0123456789abcdef0123456789abcdef",
        "customer_id": "cust-1",
        "amount": Decimal("100.1"),
        "currency": "AUD",
        "payout_method": "BankAccount",
        "status": "Pending",
        "open_status": "Pending",
        "created_at": CREATED,
        "idempotency_record": "payout#abc",
        "submit_attempts": Decimal(1),
        "status_history": [{"status": "Pending", "at": CREATED, "source": "create"}],
        # destination details must never reach the API
        "bsb": "062-205",
        "account_number": "55500077",
        "account_name": "Jane Citizen",
        "pay_id": "jane@example.com",
        "pay_id_type": "Email",
        "data_key": b"wrapped",
        "destinations": {"BankAccount": {"bsb": "sealed"}},
    }
    item.update(extra)
    return item


def test_minimal_view_has_exactly_the_public_fields() -> None:
    view = public_view(stored())

    assert view == {
        "transaction_id": "po_0123456789abcdef0123456789abcdef",
        "customer_id": "cust-1",
        "amount": "100.10",
        "currency": "AUD",
        "payout_method": "BankAccount",
        "status": "Pending",
        "created_at": CREATED,
        "updated_at": CREATED,  # falls back to created_at
    }


def test_no_destination_or_internal_field_leaks() -> None:
    view = public_view(stored())
    leaked = {
        "bsb",
        "account_number",
        "account_name",
        "pay_id",
        "pay_id_type",
        "data_key",
        "destinations",
        "idempotency_record",
        "open_status",
        "status_history",
        "unique_reference",
    } & set(view)

    assert leaked == set()
    text = repr(view)
    assert "55500077" not in text
    assert "jane@example.com" not in text


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("100"), "100.00"),
        (Decimal("0.01"), "0.01"),
        (Decimal("1000.00"), "1000.00"),
        (Decimal("10.5"), "10.50"),
        ("7.1", "7.10"),
        (5, "5.00"),
    ],
)
def test_amount_is_a_two_decimal_string(amount: Any, expected: str) -> None:
    assert public_view(stored(amount=amount))["amount"] == expected


def test_optional_fields_appear_when_set() -> None:
    view = public_view(
        stored(
            status="Rejected",
            updated_at="2025-01-02T04:00:00.000Z",
            status_reason="Rejected: ACCOUNT CLOSED",
            finalised_at="2025-01-02T04:00:00.000Z",
            refunded_at="2025-01-02T04:00:01.000Z",
            monoova_transaction_id=Decimal(1022),
            currency="AUD",
        )
    )

    assert view["status"] == "Rejected"
    assert view["updated_at"] == "2025-01-02T04:00:00.000Z"
    assert view["status_reason"] == "Rejected: ACCOUNT CLOSED"
    assert view["finalised_at"] == "2025-01-02T04:00:00.000Z"
    assert view["refunded_at"] == "2025-01-02T04:00:01.000Z"
    assert view["monoova_transaction_id"] == 1022
    assert type(view["monoova_transaction_id"]) is int


def test_empty_optional_fields_are_left_out() -> None:
    view = public_view(stored(status_reason="", finalised_at=None, monoova_transaction_id=None))

    assert not {"status_reason", "finalised_at", "refunded_at", "monoova_transaction_id"} & set(
        view
    )


def test_currency_defaults_to_aud() -> None:
    item = stored()
    del item["currency"]

    assert public_view(item)["currency"] == "AUD"


def test_status_of_reads_the_enum() -> None:
    assert status_of(stored(status="Completed")) is Status.COMPLETED
    with pytest.raises(ValueError):
        status_of(stored(status="Settled"))


def test_destination_repr_is_redacted() -> None:
    destination = Destination("BankAccount", "Jane Citizen", bsb="062-205", account_number="999")

    assert "Jane" not in repr(destination)
    assert "062-205" not in repr(destination)
    assert "BankAccount" in repr(destination)
