"""A repayment as the Transactions table holds it, and the money conversions at its edges.

Amounts are Decimal rupees with 2 places everywhere inside the engine; RazorPay speaks integer
paise, converted only where its client builds or reads a request (`paise`, `rupees`).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from engine.models.status import PaymentStatus

CURRENCY = "INR"
CHANNEL_PORTAL = "PORTAL"
CENTS = Decimal("0.01")
PAYMENT_ID_PATTERN = "^pay_[a-z2-7]{20}$"
METHODS = frozenset({"upi", "card", "netbanking", "wallet", "emi"})


def new_payment_id() -> str:
    """`pay_` + 20 base32 characters (100 random bits): fits RazorPay's 40-character receipt."""
    text = base64.b32encode(secrets.token_bytes(13)).decode("ascii").lower()
    return "pay_" + text[:20]


def paise(amount: Decimal) -> int:
    """Rupees to paise; refuses a fraction of a paisa rather than rounding money away."""
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise ValueError("amount has more than 2 decimal places")
    return int(scaled)


def rupees(amount_paise: int) -> Decimal:
    return (Decimal(amount_paise) / 100).quantize(CENTS)


@dataclass(frozen=True)
class Payment:
    transaction_id: str
    loan_account_number: str
    branch_code: str
    customer_id: str
    amount: Decimal
    status: PaymentStatus
    created_date: str
    updated_at: str
    idempotency_key_hash: str
    version: int = 1
    channel: str = CHANNEL_PORTAL
    currency: str = CURRENCY
    razorpay_order_id: str | None = None
    razorpay_payment_id: str | None = None
    payment_method: str | None = None
    receipt_number: str | None = None
    captured_at: str | None = None
    refunded_amount: Decimal = Decimal("0.00")
    failure_reason: str | None = None

    def to_item(self) -> dict[str, Any]:
        """Plain values for shared.ddb (None attributes are left out of the item)."""
        item = asdict(self)
        item["status"] = self.status.value
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Payment:
        known = {name: item[name] for name in cls.__dataclass_fields__ if name in item}
        known["status"] = PaymentStatus(item["status"])
        known["amount"] = Decimal(item["amount"]).quantize(CENTS)
        known["refunded_amount"] = Decimal(item.get("refunded_amount", 0)).quantize(CENTS)
        known["version"] = int(item.get("version", 1))
        return cls(**known)

    def with_changes(self, **changes: Any) -> Payment:
        return replace(self, **changes)

    def status_view(self) -> dict[str, Any]:
        """GET /api/v1/customer/payments/{payment_id} and the history's rows."""
        return {
            "payment_id": self.transaction_id,
            "loan_account_number": self.loan_account_number,
            "status": self.status.value,
            "amount": self.amount,
            "currency": self.currency,
            "receipt_number": self.receipt_number,
            "payment_method": self.payment_method,
            "created_at": self.created_date,
            "captured_at": self.captured_at,
            "refunded_amount": self.refunded_amount,
        }
