"""CustomerStore: creating a customer never overwrites one (and so never a balance)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payouts.dal.customers import CustomerStore
from payouts.models.payout import Destination
from payouts.tables import CUSTOMERS
from shared.fieldcrypto import FieldCrypto
from shared.store_errors import AlreadyExists

TABLE = "customers"
PAY_ID = Destination("PayId", "Jane Citizen", pay_id="jane@example.com", pay_id_type="Email")


@pytest.fixture
def store(dynamodb: Any, kms: Any) -> CustomerStore:
    dynamodb.create_table(**CUSTOMERS.create_table_kwargs(TABLE))
    key = kms.create_key(Description="pii")["KeyMetadata"]["Arn"]
    return CustomerStore(dynamodb, TABLE, FieldCrypto(kms, key))


def test_a_new_customer_is_created_with_its_balance(store: CustomerStore) -> None:
    store.create("cust-1", Decimal("250"), [PAY_ID])

    item = store.get("cust-1")
    assert item is not None
    assert item["available_balance"] == Decimal("250.00")
    assert item["destinations"]["PayId"]["status"] == "active"


def test_creating_an_existing_customer_is_refused_and_keeps_its_balance(
    store: CustomerStore,
) -> None:
    store.create("cust-1", Decimal("250"), [PAY_ID])
    store.client.update_item(  # a payout debited it meanwhile
        **store.debit_op("cust-1", Decimal("100"), "PayId")["Update"]
    )

    with pytest.raises(AlreadyExists):
        store.create("cust-1", Decimal("1000000"), [PAY_ID])

    item = store.get("cust-1")
    assert item is not None
    assert item["available_balance"] == Decimal("150.00")
