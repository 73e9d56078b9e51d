"""Request and response shapes of the payouts API (JSON Schema draft-04, read by API Gateway)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# The rules of a create request, declared once: the gateway model below is built from them
# and the handler's parser (logic/validation.py) applies the same values, and a test drives
# a corpus of bodies through both and requires the same verdict.
MIN_AMOUNT = "0.01"
MAX_AMOUNT = "1000"
AMOUNT_STEP = "0.01"  # whole cents: at most 2 decimal places (JSON Schema `multipleOf`)
PAYOUT_METHODS = ("PayId", "BankAccount")
# `(?![\s\S])` is "end of input" in every engine that reads this pattern (ECMA for the
# OpenAPI document, Java in API Gateway, Python here): `$` alone also matches before a final
# newline in Java and Python, which would let "cust-1\n" past the gateway.
CUSTOMER_ID_PATTERN = "^[A-Za-z0-9-]{1,64}(?![\\s\\S])"


def _number(text: str) -> int | float:
    """A JSON number for the model; exact for these short decimals (0.01 prints as 0.01)."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


CREATE_PAYOUT_REQUEST: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "CreatePayoutRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["customer_id", "amount", "payout_method"],
    "properties": {
        "customer_id": {"type": "string", "pattern": CUSTOMER_ID_PATTERN},
        "amount": {
            "type": "number",
            "minimum": _number(MIN_AMOUNT),
            "maximum": _number(MAX_AMOUNT),
            "multipleOf": _number(AMOUNT_STEP),
        },
        "payout_method": {"type": "string", "enum": list(PAYOUT_METHODS)},
    },
}

ERROR_RESPONSE: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Error",
    "type": "object",
    "required": ["error", "message", "timestamp"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "timestamp": {"type": "string"},
    },
}
