"""Customers: available balance and encrypted payout destinations."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from payouts.dal import destinations as sealing
from payouts.logic import validation
from payouts.models.payout import Destination
from shared import clock, ddb
from shared.store_errors import AlreadyExists

if TYPE_CHECKING:  # cryptography loads only where destinations are opened
    from shared.fieldcrypto import FieldCrypto

ACTIVE = "active"


class CustomerStore:
    def __init__(self, client: Any, table: str, crypto: FieldCrypto | None) -> None:
        self.client = client
        self.table = table
        self._crypto = crypto

    @staticmethod
    def key(customer_id: str) -> dict[str, str]:
        return {"customer_id": customer_id}

    def get(self, customer_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item(self.key(customer_id)), ConsistentRead=True
        )
        return ddb.from_item(response.get("Item"))

    def exists(self, customer_id: str) -> bool:
        response = self.client.get_item(
            TableName=self.table,
            Key=ddb.to_item(self.key(customer_id)),
            ProjectionExpression="customer_id",
        )
        return "Item" in response

    def destination(self, customer: dict[str, Any], method: str) -> Destination:
        entry = active_destination(customer, method)
        if entry is None or self._crypto is None:
            raise LookupError(f"no active {method} destination")
        scope = sealing.customer_scope(customer["customer_id"], method)
        return sealing.open_sealed(self._crypto, scope, entry, method)

    def create(
        self, customer_id: str, balance: Decimal, destinations: list[Destination]
    ) -> dict[str, Any]:
        """Create a customer; destination formats are validated before sealing.

        Create-only: a customer that exists raises AlreadyExists and keeps its balance. Only
        the conditional debit and credit ever change `available_balance`.
        """
        if self._crypto is None:
            raise RuntimeError("a FieldCrypto is needed to store destinations")
        sealed = {d.method: self._seal(customer_id, d) for d in destinations}
        item = {
            "customer_id": customer_id,
            "available_balance": balance.quantize(Decimal("0.01")),
            "currency": "AUD",
            "destinations": sealed,
            "updated_at": clock.iso(clock.now()),
        }
        try:
            self.client.put_item(
                TableName=self.table,
                Item=ddb.to_item(item),
                ConditionExpression="attribute_not_exists(customer_id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise AlreadyExists(f"customer {customer_id} exists already") from exc
        return item

    def debit_op(self, customer_id: str, amount: Decimal, method: str) -> dict[str, Any]:
        """Conditional debit: only if the balance covers it and the destination is active."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(self.key(customer_id)),
                "UpdateExpression": "SET available_balance = available_balance - :amount",
                "ConditionExpression": (
                    "available_balance >= :amount AND destinations.#method.#status = :active"
                ),
                "ExpressionAttributeNames": {"#method": method, "#status": "status"},
                "ExpressionAttributeValues": ddb.values({":amount": amount, ":active": ACTIVE}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def credit_op(self, customer_id: str, amount: Decimal) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(self.key(customer_id)),
                "UpdateExpression": "SET available_balance = available_balance + :amount",
                "ConditionExpression": "attribute_exists(customer_id)",
                "ExpressionAttributeValues": ddb.values({":amount": amount}),
            }
        }

    def _seal(self, customer_id: str, destination: Destination) -> dict[str, Any]:
        _validate(destination)
        assert self._crypto is not None
        scope = sealing.customer_scope(customer_id, destination.method)
        entry = sealing.seal(self._crypto, scope, destination)
        del entry["method"]  # the entry's key in `destinations` names it
        return {"status": ACTIVE, "hint": hint(destination), **entry}


def active_destination(customer: dict[str, Any], method: str) -> dict[str, Any] | None:
    entry = (customer.get("destinations") or {}).get(method)
    if isinstance(entry, dict) and entry.get("status") == ACTIVE:
        return entry
    return None


def _validate(destination: Destination) -> None:
    validation.validate_account_name(destination.account_name)
    if destination.method == "PayId":
        validation.validate_pay_id(destination.pay_id or "", destination.pay_id_type or "")
    elif destination.method == "BankAccount":
        validation.validate_bank_account(destination.bsb or "", destination.account_number or "")
    else:
        raise ValueError(f"unknown payout method {destination.method!r}")


def hint(destination: Destination) -> str:
    """Enough for a person to recognise a destination, too little to pay it: kept in clear."""
    if destination.method == "BankAccount":
        return "account ending " + (destination.account_number or "")[-3:]
    pay_id = destination.pay_id or ""
    if destination.pay_id_type == "Email":
        local, _, domain = pay_id.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{destination.pay_id_type} ending {pay_id[-3:]}"


def public_customer(customer: dict[str, Any]) -> dict[str, Any]:
    """The API view of a customer: balance and destinations by hint, nothing decryptable."""
    destinations = []
    for method, entry in sorted((customer.get("destinations") or {}).items()):
        view = {"method": method, "status": entry.get("status"), "hint": entry.get("hint")}
        if entry.get("pay_id_type"):
            view["pay_id_type"] = entry["pay_id_type"]
        destinations.append(view)
    return {
        "customer_id": customer["customer_id"],
        "available_balance": f"{Decimal(customer['available_balance']):.2f}",
        "currency": customer.get("currency", "AUD"),
        "destinations": destinations,
    }
