"""The body of Monoova's `POST /financial/v2/transaction/execute` for one NPP payout: one
`NppCreditPayId` or `NppCreditBankAccount` disbursement paid from our mAccount.

Built only here, at the client edge: amounts stay Decimal and are written as exact JSON numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from payouts.models.payout import Destination
from payouts.settings import MonoovaSettings

_END_TO_END_MAX = 35
_REMITTER_MAX = 140


def execute_body(
    unique_reference: str, amount: Decimal, destination: Destination, settings: MonoovaSettings
) -> dict[str, Any]:
    disbursement: dict[str, Any] = {"disbursementMethod": _method(destination)}
    details: dict[str, Any] = {
        "accountName": destination.account_name,
        "endToEndId": unique_reference[:_END_TO_END_MAX],
        "remitterName": settings.remitter_name[:_REMITTER_MAX],
    }
    if destination.method == "PayId":
        details = {"payId": destination.pay_id, "payIdType": destination.pay_id_type, **details}
        disbursement["toNppCreditPayIdDetails"] = details
    else:
        details = {
            "bsbNumber": destination.bsb,
            "accountNumber": destination.account_number,
            **details,
        }
        disbursement["toNppCreditBankAccountDetails"] = details
    disbursement.update(
        sourceAccountBsb=settings.source_bsb,
        sourceAccountNumber=settings.source_account_number,
        lodgementReference=f"Payout {unique_reference}",
        amount=amount,
    )
    return {
        "uniqueReference": unique_reference,
        "totalAmount": amount,
        "paymentSource": "mAccount",
        "mAccount": {"token": settings.maccount_token},
        "description": "Customer payout",
        "disbursements": [disbursement],
    }


def _method(destination: Destination) -> str:
    return "NppCreditPayId" if destination.method == "PayId" else "NppCreditBankAccount"
