"""The customer portal's request and response shapes.

Requests are `Shape`s (engine.models.shapes): one declaration gives the gateway model set on
the route, the OpenAPI schema and the handler's parser. Responses are OpenAPI schemas for the
document (`RESPONSES`, by component name); amounts in answers are decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.models.shapes import Amount, Field, Shape, Text, anchored

# Identifiers (their cores: `anchored()` makes the gateway patterns).
LOAN_ACCOUNT_NUMBER = r"[A-Z0-9]{6,20}"
MOBILE_NUMBER = r"(?:\+91)?[6-9][0-9]{9}"
# What logic/otp.py issues: secrets.token_urlsafe(24) is always 32 characters of this set.
CHALLENGE_ID = r"[A-Za-z0-9_-]{32}"
OTP = r"[0-9]{6}"
PAYMENT_ID = r"pay_[a-z2-7]{20}"
RAZORPAY_ORDER_ID = r"order_[A-Za-z0-9]{1,40}"
RAZORPAY_PAYMENT_ID = r"pay_[A-Za-z0-9]{1,40}"
# HMAC-SHA256 as RazorPay's checkout writes it: 64 lowercase hex digits.
RAZORPAY_SIGNATURE = r"[0-9a-f]{64}"


def last_ten_digits(mobile: str) -> str:
    """The canonical form: a +91 prefix is accepted and dropped."""
    return mobile[-10:]


LOAN = Text(LOAN_ACCOUNT_NUMBER, "6 to 20 capital letters or digits", "LN0000000001")
MOBILE = Text(
    MOBILE_NUMBER,
    "10 digits starting 6-9, optionally after +91",
    "9876543210",
    normalise=last_ten_digits,
)


@dataclass(frozen=True)
class ValidateLoanRequest:
    loan_account_number: str
    mobile_number: str  # 10 digits, no prefix


@dataclass(frozen=True)
class CreateSessionRequest:
    challenge_id: str
    otp: str


@dataclass(frozen=True)
class CreatePaymentRequest:
    loan_account_number: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentNotificationRequest:
    payment_id: str
    razorpay_order_id: str
    razorpay_payment_id: str
    razorpay_signature: str


VALIDATE_LOAN = Shape(
    "ValidateLoanRequest",
    (Field("loan_account_number", LOAN), Field("mobile_number", MOBILE)),
    ValidateLoanRequest,
    description="A loan account and the mobile number registered with it.",
)
CREATE_SESSION = Shape(
    "CreateSessionRequest",
    (
        Field("challenge_id", Text(CHALLENGE_ID, "the challenge_id validate-loan answered")),
        Field("otp", Text(OTP, "the 6-digit code sent by SMS", "123456")),
    ),
    CreateSessionRequest,
)
CREATE_PAYMENT = Shape(
    "CreatePaymentRequest",
    (Field("loan_account_number", LOAN), Field("amount", Amount())),
    CreatePaymentRequest,
    description="Amount: a JSON number or a decimal string, in rupees, at most 2 decimals.",
)
PAYMENT_NOTIFICATION = Shape(
    "PaymentNotificationRequest",
    (
        Field("payment_id", Text(PAYMENT_ID, "our payment id (pay_ + 20 base32 characters)")),
        Field("razorpay_order_id", Text(RAZORPAY_ORDER_ID, "RazorPay's order id")),
        Field("razorpay_payment_id", Text(RAZORPAY_PAYMENT_ID, "RazorPay's payment id")),
        Field("razorpay_signature", Text(RAZORPAY_SIGNATURE, "64 lowercase hex digits")),
    ),
    PaymentNotificationRequest,
    description="What RazorPay Checkout hands the page when the customer pays.",
)

REQUESTS: tuple[Shape[Any], ...] = (
    VALIDATE_LOAN,
    CREATE_SESSION,
    CREATE_PAYMENT,
    PAYMENT_NOTIFICATION,
)

# --- Responses (OpenAPI only: the handlers build them, tests check them against these).
_MONEY = {"type": "string", "pattern": anchored(r"-?[0-9]+\.[0-9]{2}"), "example": "2500.00"}
_DATE = {"type": "string", "format": "date", "example": "2026-12-05"}
_SECONDS = {"type": "integer", "minimum": 0}
_LOAN_STATUS = {"type": "string", "enum": ["ACTIVE", "NPA", "CLOSED", "FORECLOSED", "WRITTEN_OFF"]}


def _object(title: str, properties: dict[str, Any], nullable: tuple[str, ...] = ()) -> dict:
    props = {k: ({**v, "nullable": True} if k in nullable else v) for k, v in properties.items()}
    return {
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": props,
    }


CHALLENGE_RESPONSE = _object(
    "Challenge",
    {
        "challenge_id": {"type": "string", "pattern": anchored(CHALLENGE_ID)},
        "otp_sent_to": {"type": "string", "example": "******3210"},
        "expires_in": _SECONDS,
    },
)
SESSION_RESPONSE = _object(
    "Session",
    {"session_token": {"type": "string"}, "expires_in": _SECONDS},
)
LOAN_RESPONSE = _object(
    "Loan",
    {
        "loan_account_number": {"type": "string", "pattern": anchored(LOAN_ACCOUNT_NUMBER)},
        "customer_name": {"type": "string", "example": "R*** K****"},
        "loan_type": {"type": "string", "enum": ["LAP", "HL"]},
        "outstanding": _MONEY,
        "emi": _MONEY,
        "next_due_date": _DATE,
        "overdue_amount": _MONEY,
        "status": _LOAN_STATUS,
    },
    nullable=("emi", "next_due_date"),
)

RESPONSES: dict[str, dict[str, Any]] = {
    schema["title"]: schema for schema in (CHALLENGE_RESPONSE, SESSION_RESPONSE, LOAN_RESPONSE)
}
