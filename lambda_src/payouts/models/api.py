"""Request and response shapes of the payouts API (JSON Schema draft-04, read by API Gateway)."""

from __future__ import annotations

from typing import Any

MIN_AMOUNT = "0.01"
MAX_AMOUNT = "1000"
PAYOUT_METHODS = ("PayId", "BankAccount")
CUSTOMER_ID_PATTERN = "^[A-Za-z0-9-]{1,64}$"

CREATE_PAYOUT_REQUEST: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "CreatePayoutRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["customer_id", "amount", "payout_method"],
    "properties": {
        "customer_id": {"type": "string", "pattern": CUSTOMER_ID_PATTERN},
        "amount": {"type": "number", "minimum": 0.01, "maximum": 1000},
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
