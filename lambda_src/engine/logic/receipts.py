"""Receipts: their numbers, their JSON, and their PDF (made once, then always the same bytes).

A receipt number is `<branch>/<financial year>/<6-digit sequence>`, e.g. BR001/2026-27/000042,
one sequence per branch per Indian financial year (April to March, in IST), shared by every
channel that issues receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

from engine.logic import receipt_pdf
from engine.models.payment import Payment
from engine.models.status import PaymentStatus
from shared import clock

IST = timezone(timedelta(hours=5, minutes=30), "IST")
TITLE = "Loan repayment receipt"
FOOTER = "A computer-generated receipt: no signature is required."
_METHOD_NAMES = {
    "upi": "UPI",
    "card": "Card",
    "netbanking": "Net banking",
    "wallet": "Wallet",
    "emi": "EMI",
}


class NotIssued(LookupError):
    """The payment has no receipt (it was never captured)."""


def financial_year(moment: datetime) -> str:
    local = moment.astimezone(IST)
    start = local.year if local.month >= 4 else local.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def receipt_number(branch_code: str, year: str, sequence: int) -> str:
    return f"{branch_code}/{year}/{sequence:06d}"


def issued(payment: Payment) -> bool:
    return payment.receipt_number is not None and payment.status in (
        PaymentStatus.CAPTURED,
        PaymentStatus.REFUNDED,
    )


def view(payment: Payment) -> dict[str, Any]:
    """The receipt as JSON (amounts as decimal strings, times in UTC)."""
    if not issued(payment):
        raise NotIssued(payment.transaction_id)
    return {
        "receipt_number": payment.receipt_number,
        "payment_id": payment.transaction_id,
        "loan_account_number": payment.loan_account_number,
        "branch_code": payment.branch_code,
        "amount": payment.amount,
        "currency": payment.currency,
        "paid_at": payment.captured_at,
        "payment_method": payment.payment_method,
        "razorpay_payment_id": payment.razorpay_payment_id,
        "channel": payment.channel,
        "status": payment.status.value,
        "refunded_amount": payment.refunded_amount,
    }


def indian_grouping(amount: Decimal) -> str:
    """2500000.5 -> "25,00,000.50": lakhs and crores, as an Indian receipt writes them."""
    whole, _, fraction = f"{amount.quantize(Decimal('0.01')):f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail]) + "." + fraction


def _rows(payment: Payment) -> list[tuple[str, str]]:
    paid = clock.parse_iso(payment.captured_at or payment.created_date).astimezone(IST)
    rows = [
        ("Receipt number", payment.receipt_number or ""),
        ("Date", paid.strftime("%d %b %Y, %H:%M IST")),
        ("Loan account", payment.loan_account_number),
        ("Branch", payment.branch_code),
        ("Amount received", f"{payment.currency} {indian_grouping(payment.amount)}"),
        ("Payment method", _METHOD_NAMES.get(payment.payment_method or "", "Online")),
        ("Payment reference", payment.transaction_id),
        ("RazorPay payment id", payment.razorpay_payment_id or ""),
    ]
    return rows


def pdf_bytes(payment: Payment) -> bytes:
    if not issued(payment):
        raise NotIssued(payment.transaction_id)
    created = clock.parse_iso(payment.captured_at or payment.created_date)
    return receipt_pdf.render(
        TITLE,
        _rows(payment),
        FOOTER,
        created=created.strftime("D:%Y%m%d%H%M%SZ"),
        document_title=f"Receipt {payment.receipt_number}",
    )


class DocumentStore(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put_once(self, key: str, body: bytes) -> bytes: ...


def pdf_key(payment: Payment) -> str:
    return f"receipts/{payment.transaction_id}.pdf"


@dataclass
class ReceiptPdfs:
    documents: DocumentStore

    def get(self, payment: Payment) -> bytes:
        """The stored PDF, or the one made and stored now (created once: a concurrent first
        download keeps whichever copy was stored first, byte for byte the same anyway)."""
        if not issued(payment):
            raise NotIssued(payment.transaction_id)
        key = pdf_key(payment)
        stored = self.documents.get(key)
        if stored is not None:
            return stored
        return self.documents.put_once(key, pdf_bytes(payment))
