"""Input rules for payouts and destination formats: Monoova's PayID types (PhoneNumber,
Email, ABN and ACN with their check digits, OrganisationId), `999-999` BSBs, NPP account
numbers (up to 28 letters and digits) and account names (at least 2 characters)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from payouts.models.api import (
    AMOUNT_STEP,
    CUSTOMER_ID_PATTERN,
    MAX_AMOUNT,
    MIN_AMOUNT,
    PAYOUT_METHODS,
)
from payouts.models.payout import CreatePayoutCommand
from shared.http import ValidationError

_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)
_STEP_EXPONENT = int(Decimal(AMOUNT_STEP).as_tuple().exponent)  # -2: whole cents
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,128}")
_FIELDS = {"customer_id", "amount", "payout_method"}

PAYID_PATTERNS = {
    "PhoneNumber": re.compile(r"[+][0-9]{1,3}-[1-9][0-9]{1,29}"),
    "Email": re.compile(
        r"(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
        r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
    ),
    "ABN": re.compile(r"[0-9]{11}"),
    "ACN": re.compile(r"[0-9]{9}"),
    "OrganisationId": re.compile(r"[!-@\[-~][ -@\[-~]{0,254}[!-@\[-~]"),
}
_BSB = re.compile(r"[0-9]{3}-[0-9]{3}")
_NPP_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,28}")
_MAX_PAYID = {"PhoneNumber": 35}
_ABN_WEIGHTS = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
_ACN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1)


def parse_create_request(body: Any, idempotency_key: str | None) -> CreatePayoutCommand:
    if not idempotency_key:
        raise ValidationError("the Idempotency-Key header is required")
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValidationError("Idempotency-Key must be 8 to 128 printable ASCII characters")
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    missing = sorted(_FIELDS - body.keys())
    if missing:
        raise ValidationError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(body.keys() - _FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}")
    customer_id = body["customer_id"]
    if not isinstance(customer_id, str) or not _CUSTOMER_ID.fullmatch(customer_id):
        raise ValidationError("customer_id must be 1-64 letters, digits or hyphens")
    method = body["payout_method"]
    if method not in PAYOUT_METHODS:
        raise ValidationError(f"payout_method must be one of {', '.join(PAYOUT_METHODS)}")
    return CreatePayoutCommand(customer_id, parse_amount(body["amount"]), method, idempotency_key)


def parse_amount(value: Any) -> Decimal:
    """A JSON number (read as Decimal) between 0.01 and 1000 AUD with at most 2 decimals."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValidationError("amount must be a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValidationError("amount must be a finite number")
    # The model's multipleOf AMOUNT_STEP, read off the digits (a remainder of 1e400 would
    # overflow the context): normalized, 10.50 has one decimal place.
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < _STEP_EXPONENT:
        raise ValidationError("amount must have at most 2 decimal places")
    if amount < Decimal(MIN_AMOUNT) or amount > Decimal(MAX_AMOUNT):
        raise ValidationError(f"amount must be between {MIN_AMOUNT} and {MAX_AMOUNT} AUD")
    return amount.quantize(Decimal(AMOUNT_STEP))


def validate_pay_id(pay_id: str, pay_id_type: str) -> None:
    pattern = PAYID_PATTERNS.get(pay_id_type)
    if pattern is None:
        raise ValueError(f"unsupported PayID type {pay_id_type!r}")
    if len(pay_id) > _MAX_PAYID.get(pay_id_type, 256) or not pattern.fullmatch(pay_id):
        raise ValueError(f"not a valid {pay_id_type} PayID")
    if pay_id_type == "ABN" and not abn_is_valid(pay_id):
        raise ValueError("ABN check digits do not match")
    if pay_id_type == "ACN" and not acn_is_valid(pay_id):
        raise ValueError("ACN check digit does not match")


def validate_bank_account(bsb: str, account_number: str) -> None:
    if not _BSB.fullmatch(bsb):
        raise ValueError("BSB must be in the format 999-999")
    if not _NPP_ACCOUNT.fullmatch(account_number):
        raise ValueError("account number must be 1-28 letters or digits")


def validate_account_name(name: str) -> None:
    if not 2 <= len(name.strip()) <= 140:
        raise ValueError("account name must be 2-140 characters")


def abn_is_valid(abn: str) -> bool:
    """The ATO rule: subtract 1 from the first digit, weight, sum, divisible by 89."""
    if not re.fullmatch(r"[0-9]{11}", abn):
        return False
    digits = [int(d) for d in abn]
    digits[0] -= 1
    return sum(w * d for w, d in zip(_ABN_WEIGHTS, digits, strict=True)) % 89 == 0


def acn_is_valid(acn: str) -> bool:
    if not re.fullmatch(r"[0-9]{9}", acn):
        return False
    digits = [int(d) for d in acn]
    total = sum(w * d for w, d in zip(_ACN_WEIGHTS, digits[:8], strict=True))
    return (10 - total % 10) % 10 == digits[8]
