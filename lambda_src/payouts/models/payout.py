"""Payout records as stored and as shown by the API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payouts.models.status import Status

CURRENCY = "AUD"


@dataclass(frozen=True)
class CreatePayoutCommand:
    customer_id: str
    amount: Decimal
    payout_method: str  # "PayId" | "BankAccount"
    idempotency_key: str

    def request_fingerprint(self) -> str:
        """What makes two requests 'the same body' for idempotency (amount normalised)."""
        return f"{self.customer_id}|{self.amount:.2f}|{self.payout_method}"


@dataclass(frozen=True)
class Destination:
    """A decrypted payout destination; lives only in memory, never logged."""

    method: str
    account_name: str
    pay_id: str | None = None
    pay_id_type: str | None = None
    bsb: str | None = None
    account_number: str | None = None

    def __repr__(self) -> str:
        return f"Destination(method={self.method!r}, <redacted>)"


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored payout: no destination details, money as text."""
    view = {
        "transaction_id": item["transaction_id"],
        "customer_id": item["customer_id"],
        "amount": f"{Decimal(item['amount']):.2f}",
        "currency": item.get("currency", CURRENCY),
        "payout_method": item["payout_method"],
        "status": item["status"],
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
    }
    for optional in ("status_reason", "finalised_at", "refunded_at"):
        if item.get(optional):
            view[optional] = item[optional]
    if item.get("monoova_transaction_id") is not None:
        view["monoova_transaction_id"] = int(item["monoova_transaction_id"])
    return view


def status_of(item: dict[str, Any]) -> Status:
    return Status(item["status"])
