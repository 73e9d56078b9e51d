"""RazorPay's input rules for orders, captures and refunds (providers.md 2.4, 2.5).

Each parser takes the decoded JSON body and returns a typed request or raises a 400
:class:`~simulators.razorpay.errors.RazorpayError` naming the field. Like RazorPay, a field the
endpoint does not take is refused ("... is/are not required and should not be sent"), so a typo
in a caller's body fails here rather than being ignored. Amounts must be JSON integers (paise):
``500.0`` or ``"500"`` is refused, so a caller that sends rupees or floats finds out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from simulators.razorpay.errors import bad_request

__all__ = [
    "CaptureRequest",
    "OrderRequest",
    "RefundRequest",
    "capture_request",
    "order_request",
    "refund_key",
    "refund_request",
]

CURRENCY = "INR"
MIN_AMOUNT = 100  # paise: "The amount must be atleast INR 1.00"
RECEIPT_MAX = 40
NOTES_MAX = 15
NOTE_VALUE_MAX = 256
REFUND_KEY_MIN = 10
_ORDER_FIELDS = frozenset(
    {"amount", "currency", "receipt", "notes", "partial_payment", "unique_receipt"}
)
_CAPTURE_FIELDS = frozenset({"amount", "currency"})
_REFUND_FIELDS = frozenset({"amount", "speed", "notes", "receipt"})
_SPEEDS = ("normal", "optimum")


@dataclass(frozen=True)
class OrderRequest:
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any]
    partial_payment: bool
    unique_receipt: bool


@dataclass(frozen=True)
class CaptureRequest:
    amount: int
    currency: str


@dataclass(frozen=True)
class RefundRequest:
    amount: int | None
    speed: str
    notes: dict[str, Any]
    receipt: str | None

    def fingerprint(self) -> tuple[Any, ...]:
        return (self.amount, self.speed, tuple(sorted(self.notes.items())), self.receipt)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _no_extra_fields(body: dict[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(name for name in body if name not in allowed)
    if extra:
        names = ", ".join(extra)
        raise bad_request(f"{names} is/are not required and should not be sent", extra[0])


def _amount(body: dict[str, Any], what: str = "amount") -> int:
    value = body.get("amount")
    if value is None:
        raise bad_request("The amount field is required.", "amount")
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("The amount must be an integer.", "amount")
    if value < MIN_AMOUNT:
        raise bad_request(f"The {what} must be atleast INR 1.00", "amount")
    return value


def _currency(body: dict[str, Any]) -> str:
    value = body.get("currency")
    if value is None:
        raise bad_request("The currency field is required.", "currency")
    if value != CURRENCY:
        raise bad_request(
            f"Currency {value} is not supported (the simulator takes INR)", "currency"
        )
    return CURRENCY


def _receipt(body: dict[str, Any]) -> str | None:
    value = body.get("receipt")
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request("The receipt must be a string.", "receipt")
    if len(value) > RECEIPT_MAX:
        raise bad_request(
            f"The receipt may not be greater than {RECEIPT_MAX} characters.", "receipt"
        )
    return value


def _notes(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("notes")
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise bad_request("The notes must be an object of key-value pairs.", "notes")
    if len(value) > NOTES_MAX:
        raise bad_request(f"Number of notes cannot be more than {NOTES_MAX}", "notes")
    for key, note in value.items():
        if isinstance(note, bool) or not isinstance(note, str | int):
            raise bad_request(f"The notes.{key} must be a string or a number.", "notes")
        if len(str(note)) > NOTE_VALUE_MAX:
            raise bad_request(
                f"The notes.{key} may not be greater than {NOTE_VALUE_MAX} characters.", "notes"
            )
    return dict(value)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise bad_request(f"The {name} field must be true or false.", name)
    return value


def order_request(body: Any) -> OrderRequest:
    body = _object(body)
    _no_extra_fields(body, _ORDER_FIELDS)
    request = OrderRequest(
        amount=_amount(body),
        currency=_currency(body),
        receipt=_receipt(body),
        notes=_notes(body),
        partial_payment=_flag(body, "partial_payment"),
        unique_receipt=_flag(body, "unique_receipt"),
    )
    if request.unique_receipt and request.receipt is None:
        raise bad_request("The receipt field is required when unique_receipt is true.", "receipt")
    return request


def capture_request(body: Any) -> CaptureRequest:
    body = _object(body)
    _no_extra_fields(body, _CAPTURE_FIELDS)
    return CaptureRequest(amount=_amount(body), currency=_currency(body))


def refund_request(body: Any) -> RefundRequest:
    body = _object(body)
    _no_extra_fields(body, _REFUND_FIELDS)
    speed = body.get("speed", "normal")
    if speed not in _SPEEDS:
        raise bad_request("The selected speed is invalid.", "speed")
    return RefundRequest(
        amount=_amount(body, "refund amount") if "amount" in body else None,
        speed=speed,
        notes=_notes(body),
        receipt=_receipt(body),
    )


def refund_key(value: str | None) -> str | None:
    """The ``X-Refund-Idempotency`` header: optional, at least 10 characters when sent."""
    if value is not None and len(value.strip()) < REFUND_KEY_MIN:
        raise bad_request(
            f"X-Refund-Idempotency must be at least {REFUND_KEY_MIN} characters",
            "X-Refund-Idempotency",
        )
    return value
