"""RazorPay's order, payment and refund entities, shaped as its API returns them (providers.md 2.3).

Amounts are integer paise, times unix seconds, ids ``order_``/``pay_``/``rfnd_``/``evt_`` plus
14 base62 characters. Empty ``notes`` are written ``[]``, as RazorPay does; given notes are
echoed as an object. Fees are 2% of the amount and GST 18% of the fee, in whole paise, set at
capture.
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METHODS", "Order", "Payment", "Refund", "new_id", "now"]

METHODS = ("upi", "card", "netbanking", "wallet")
_BASE62 = string.ascii_letters + string.digits
_FEE_PERCENT = 2
_GST_PERCENT = 18
FAILURE = {
    "error_code": "BAD_REQUEST_ERROR",
    "error_description": "Payment failed",
    "error_source": "bank",
    "error_step": "payment_authorization",
    "error_reason": "payment_failed",
}
NO_ERROR = dict.fromkeys(FAILURE)


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_BASE62) for _ in range(14))


def now() -> int:
    return int(time.time())


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def notes_view(notes: dict[str, Any]) -> dict[str, Any] | list[Any]:
    return dict(notes) if notes else []


@dataclass
class Order:
    id: str
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any]
    partial_payment: bool
    created_at: int = field(default_factory=now)
    status: str = "created"
    amount_paid: int = 0
    attempts: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity": "order",
            "amount": self.amount,
            "amount_paid": self.amount_paid,
            "amount_due": self.amount - self.amount_paid,
            "currency": self.currency,
            "receipt": self.receipt,
            "offer_id": None,
            "status": self.status,
            "attempts": self.attempts,
            "notes": notes_view(self.notes),
            "created_at": self.created_at,
        }


def _method_details(method: str, contact: str) -> dict[str, Any]:
    """The fields a payment has for its method; the rest of them are null."""
    details: dict[str, Any] = {"card_id": None, "bank": None, "wallet": None, "vpa": None}
    if method == "upi":
        vpa = "success@razorpay"
        details["vpa"] = vpa
        details["upi"] = {"payer_account_type": "bank_account", "vpa": vpa, "flow": "collect"}
        details["acquirer_data"] = {"rrn": _digits(12), "upi_transaction_id": secrets.token_hex(16)}
    elif method == "card":
        card_id = new_id("card")
        details["card_id"] = card_id
        details["card"] = {
            "id": card_id,
            "entity": "card",
            "name": "Test Customer",
            "last4": "1111",
            "network": "Visa",
            "type": "debit",
            "issuer": "HDFC",
            "international": False,
            "emi": False,
            "sub_type": "consumer",
        }
        details["acquirer_data"] = {"auth_code": _digits(6)}
    elif method == "netbanking":
        details["bank"] = "HDFC"
        details["acquirer_data"] = {"bank_transaction_id": _digits(10)}
    else:
        details["wallet"] = "paytm"
        details["acquirer_data"] = {"transaction_id": None}
    details["contact"] = contact
    return details


@dataclass
class Payment:
    id: str
    order_id: str
    amount: int
    currency: str
    method: str
    email: str
    contact: str
    notes: dict[str, Any]
    description: str | None = None
    created_at: int = field(default_factory=now)
    status: str = "created"
    amount_refunded: int = 0
    fee: int | None = None
    tax: int | None = None
    error: dict[str, Any] = field(default_factory=lambda: dict(NO_ERROR))
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.details:
            self.details = _method_details(self.method, self.contact)

    def authorize(self) -> None:
        self.status, self.error = "authorized", dict(NO_ERROR)

    def fail(self) -> None:
        self.status, self.error = "failed", dict(FAILURE)

    def capture(self) -> None:
        self.status, self.error = "captured", dict(NO_ERROR)
        self.fee = self.amount * _FEE_PERCENT // 100
        self.tax = self.fee * _GST_PERCENT // 100

    def refund(self, amount: int) -> None:
        self.amount_refunded += amount
        if self.amount_refunded == self.amount:
            self.status = "refunded"

    @property
    def refund_status(self) -> str | None:
        if not self.amount_refunded:
            return None
        return "full" if self.amount_refunded == self.amount else "partial"

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity": "payment",
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "order_id": self.order_id,
            "invoice_id": None,
            "international": False,
            "method": self.method,
            "amount_refunded": self.amount_refunded,
            "refund_status": self.refund_status,
            "captured": self.status in ("captured", "refunded"),
            "description": self.description,
            **self.details,
            "email": self.email,
            "notes": notes_view(self.notes),
            "fee": self.fee,
            "tax": self.tax,
            **self.error,
            "created_at": self.created_at,
        }


@dataclass
class Refund:
    id: str
    payment_id: str
    amount: int
    currency: str
    notes: dict[str, Any]
    receipt: str | None
    speed_requested: str
    created_at: int = field(default_factory=now)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entity": "refund",
            "amount": self.amount,
            "currency": self.currency,
            "payment_id": self.payment_id,
            "notes": notes_view(self.notes),
            "receipt": self.receipt,
            "acquirer_data": {"arn": None},
            "created_at": self.created_at,
            "batch_id": None,
            "status": "processed",
            "speed_processed": "normal",
            "speed_requested": self.speed_requested,
        }
