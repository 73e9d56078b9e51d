"""Webhook payloads and signing, as Monoova does them for NPP payouts.

Delivery (POST, retry, records) is :mod:`simulators.common.webhooks`.

* Bodies carry the PascalCase fields of ``event.NppPaymentStatusWebhook`` /
  ``event.NppReturnWebhook``.
* ``Verification-Signature`` is base64 of an RSA PKCS#1 v1.5 SHA-256 signature over the exact
  body bytes. Monoova documents "SHA256" and an RSA public key, not the padding or the bytes
  signed; PKCS#1 v1.5 over the raw body is our assumption (.NET's default), to confirm with
  Monoova in the sandbox.
* The public key is published as the hex of a DER PKCS#1 ``RSAPublicKey`` (it starts
  ``3082010A0282010100`` for RSA-2048), like ``/public/v1/certificate/public-key``.
* Timestamps are UTC written without an offset (``2019-07-22T00:00:00``): Monoova's examples
  carry no offset and its time zone is undocumented.
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Delivery itself is shared by every simulator; kept importable from here.
from simulators.common.webhooks import DELIVERY_TIMEOUT_SECONDS, post_webhook

__all__ = [
    "DELIVERY_TIMEOUT_SECONDS",
    "WebhookSigner",
    "payment_status_payload",
    "post_webhook",
    "return_payload",
]

REJECTION_REASON = "ACCOUNT CLOSED"
RETURN_REASON = "ACCOUNT CLOSED"
_CENT = Decimal("0.01")
# Webhook schema maxLength of AccountName is 140; the request only has minLength 2.
_ACCOUNT_NAME_MAX = 140


class WebhookSigner:
    """An RSA-2048 key pair generated at construction, used to sign webhook bodies."""

    def __init__(self) -> None:
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = self._private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        self.public_key_hex = der.hex().upper()

    def sign(self, body: bytes) -> str:
        signature = self._private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")


def _timestamp(moment: datetime, fraction: bool = False) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{moment.microsecond // 10000:02d}"
    return text


def _money(value: Any) -> Decimal:
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(_CENT)


def _payee_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Fields taken from the (first NPP) disbursement of the recorded execute body."""
    disbursements = [item for item in body.get("disbursements") or [] if isinstance(item, dict)]
    npp = [
        item
        for item in disbursements
        if item.get("disbursementMethod") in ("NppCreditPayId", "NppCreditBankAccount")
    ]
    chosen = (npp or disbursements or [{}])[0]
    fields: dict[str, Any] = {"Amount": _money(chosen.get("amount", body.get("totalAmount", 0)))}
    if chosen.get("disbursementMethod") == "NppCreditBankAccount":
        details = chosen.get("toNppCreditBankAccountDetails") or {}
        fields["Bsb"] = details.get("bsbNumber")
        fields["AccountNumber"] = details.get("accountNumber")
    else:
        details = chosen.get("toNppCreditPayIdDetails") or {}
        fields["PayId"] = details.get("payId")
        fields["PayIdType"] = details.get("payIdType")
    name = details.get("accountName")
    fields["AccountName"] = name[:_ACCOUNT_NAME_MAX] if isinstance(name, str) else None
    fields["EndToEndId"] = details.get("endToEndId")
    fields["RemitterName"] = details.get("remitterName")
    fields["LodgementRef"] = chosen.get("lodgementReference")
    return fields


def _without_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


def payment_status_payload(
    *,
    body: dict[str, Any],
    unique_reference: str | None,
    transaction_id: int,
    transaction_date: datetime,
    status: str,
    decided_at: datetime,
    rejection_transaction_id: int | None = None,
) -> dict[str, Any]:
    """``NppPaymentStatus`` body; ``status`` is ``Payment Successful`` or ``Rejected``."""
    payload: dict[str, Any] = {
        "TransactionDate": _timestamp(transaction_date),
        "UniqueReference": unique_reference,
        "TransactionId": transaction_id,
        "Status": status,
    }
    payload.update(_payee_fields(body))
    if status == "Rejected":
        payload["RejectionDateTime"] = _timestamp(decided_at, fraction=True)
        payload["RejectionReasonDescription"] = REJECTION_REASON
        payload["RejectionTransactionId"] = rejection_transaction_id
    return _without_none(payload)


def return_payload(
    *,
    body: dict[str, Any],
    unique_reference: str | None,
    transaction_id: int,
    transaction_date: datetime,
    returned_at: datetime,
    return_transaction_id: int,
) -> dict[str, Any]:
    """``NppReturn`` body: the original payment's details plus the return's."""
    payload: dict[str, Any] = {"ReturnDate": _timestamp(returned_at)}
    payload.update(_payee_fields(body))
    payload.update(
        {
            "ReturnReason": RETURN_REASON,
            "TransactionDate": _timestamp(transaction_date),
            "TransactionId": transaction_id,
            "UniqueReference": unique_reference,
            "ReturnTransactionId": return_transaction_id,
        }
    )
    return _without_none(payload)
