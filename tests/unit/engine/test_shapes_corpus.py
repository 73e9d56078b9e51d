"""The gateway's request models and the handlers' parsers, on one corpus of bodies.

Each body goes through the model (jsonschema's draft-04 validator, numbers read as Decimal as
API Gateway compares them) and through the parser. The gateway must never refuse a body the
parser accepts; where it lets through what the parser refuses, the case says so ("parser"),
so a model that quietly grows looser, or stricter, fails here.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from engine.models import portal
from engine.models.errors import InvalidRequest
from engine.models.shapes import Shape
from shared import jsonutil

BOTH = "both accept"
GATEWAY = "gateway refuses"  # and the parser too (checked)
PARSER = "only the parser refuses"

LOAN = "LN0000000001"
SIGNATURE = "a" * 64


def payment(amount: str) -> str:
    return f'{{"loan_account_number": "{LOAN}", "amount": {amount}}}'


AMOUNTS: list[tuple[str, str]] = [
    ("1", BOTH),
    ("0.01", BOTH),
    ("0.29", BOTH),
    ("10.5", BOTH),
    ("10.50", BOTH),
    ("2500", BOTH),
    ("1e2", BOTH),
    ("1E+2", BOTH),
    ("1.0e1", BOTH),
    ("2.5e-1", BOTH),
    ("1e-2", BOTH),
    ("9999999999999.99", BOTH),
    ('"2500.00"', BOTH),
    ('"0.01"', BOTH),
    ('"7"', BOTH),
    ('"007.10"', BOTH),
    ('"9999999999999.99"', BOTH),
    ("10.005", PARSER),
    ("10.500", PARSER),  # three places as written, although the value has one
    ("0.001", PARSER),
    ("1e-3", PARSER),
    ("1e-400", PARSER),
    ("1.00000000001", PARSER),
    ('"0"', PARSER),
    ('"0.00"', PARSER),
    ("0", GATEWAY),
    ("-0", GATEWAY),
    ("-1", GATEWAY),
    ("-0.01", GATEWAY),
    ("1e13", GATEWAY),
    ("10000000000000", GATEWAY),
    ("1e400", GATEWAY),
    ('"10000000000000"', GATEWAY),
    ('"10.005"', GATEWAY),
    ('"10."', GATEWAY),
    ('".5"', GATEWAY),
    ('"-5"', GATEWAY),
    ('"+5"', GATEWAY),
    ('"1e2"', GATEWAY),
    ('" 5"', GATEWAY),
    ('"5\\n"', GATEWAY),
    ('"5,000"', GATEWAY),
    ('"\\u0665"', GATEWAY),  # an Arabic-Indic five: a digit to Unicode, not to us
    ('""', GATEWAY),
    ("true", GATEWAY),
    ("null", GATEWAY),
    ("[1]", GATEWAY),
    ('{"value": 1}', GATEWAY),
]

CASES: list[tuple[Shape[Any], str, str, str]] = [
    (portal.CREATE_PAYMENT, f"amount {raw}", payment(raw), verdict) for raw, verdict in AMOUNTS
]


def body(**fields: Any) -> str:
    return json.dumps({k: v for k, v in fields.items() if v is not DROP})


DROP = object()
VALID = {"loan_account_number": LOAN, "mobile_number": "9876543210"}


def validate(**changes: Any) -> str:
    return body(**{**VALID, **changes})


CASES += [
    (portal.VALIDATE_LOAN, name, raw, verdict)
    for name, raw, verdict in [
        ("ok", validate(), BOTH),
        ("mobile +91", validate(mobile_number="+919876543210"), BOTH),
        ("mobile starting 6", validate(mobile_number="6000000000"), BOTH),
        ("mobile starting 5", validate(mobile_number="5876543210"), GATEWAY),
        ("mobile 9 digits", validate(mobile_number="987654321"), GATEWAY),
        ("mobile 11 digits", validate(mobile_number="98765432100"), GATEWAY),
        ("mobile 91 without +", validate(mobile_number="919876543210"), GATEWAY),
        ("mobile +91 and space", validate(mobile_number="+91 9876543210"), GATEWAY),
        ("mobile newline", validate(mobile_number="9876543210\n"), GATEWAY),
        ("mobile number", validate(mobile_number=9876543210), GATEWAY),
        ("loan 6", validate(loan_account_number="AB1234"), BOTH),
        ("loan 20", validate(loan_account_number="A" * 20), BOTH),
        ("loan 5", validate(loan_account_number="AB123"), GATEWAY),
        ("loan 21", validate(loan_account_number="A" * 21), GATEWAY),
        ("loan lower case", validate(loan_account_number="ln0000000001"), GATEWAY),
        ("loan hyphen", validate(loan_account_number="LN-000001"), GATEWAY),
        ("loan newline", validate(loan_account_number=LOAN + "\n"), GATEWAY),
        ("loan leading newline", validate(loan_account_number="\n" + LOAN), GATEWAY),
        (
            "loan fullwidth digits",
            validate(loan_account_number="LN\uff10\uff10\uff10\uff10"),
            GATEWAY,
        ),
        ("loan null", validate(loan_account_number=None), GATEWAY),
        ("missing loan", validate(loan_account_number=DROP), GATEWAY),
        ("missing mobile", validate(mobile_number=DROP), GATEWAY),
        ("extra field", validate(otp="123456"), GATEWAY),
        ("empty object", "{}", GATEWAY),
        ("an array", json.dumps([VALID]), GATEWAY),
        ("a string", '"LN0000000001"', GATEWAY),
        ("null", "null", GATEWAY),
    ]
]
CASES += [
    (portal.CREATE_SESSION, name, raw, verdict)
    for name, raw, verdict in [
        ("ok", body(challenge_id="A" * 32, otp="012345"), BOTH),
        ("url-safe id", body(challenge_id="a-_Z" * 8, otp="999999"), BOTH),
        ("id 31", body(challenge_id="A" * 31, otp="012345"), GATEWAY),
        ("id with =", body(challenge_id="A" * 31 + "=", otp="012345"), GATEWAY),
        ("otp 5 digits", body(challenge_id="A" * 32, otp="12345"), GATEWAY),
        ("otp 7 digits", body(challenge_id="A" * 32, otp="1234567"), GATEWAY),
        ("otp as number", body(challenge_id="A" * 32, otp=123456), GATEWAY),
        ("otp letters", body(challenge_id="A" * 32, otp="12345a"), GATEWAY),
        ("missing otp", body(challenge_id="A" * 32), GATEWAY),
    ]
]
NOTE = {
    "payment_id": "pay_" + "a2" * 10,
    "razorpay_order_id": "order_Q1w2E3r4T5y6U7",
    "razorpay_payment_id": "pay_Q1w2E3r4T5y6U8",
    "razorpay_signature": SIGNATURE,
}
CASES += [
    (portal.PAYMENT_NOTIFICATION, name, raw, verdict)
    for name, raw, verdict in [
        ("ok", body(**NOTE), BOTH),
        ("our id upper case", body(**{**NOTE, "payment_id": "pay_" + "A2" * 10}), GATEWAY),
        ("our id base32 has no 1", body(**{**NOTE, "payment_id": "pay_" + "a1" * 10}), GATEWAY),
        ("signature upper", body(**{**NOTE, "razorpay_signature": "A" * 64}), GATEWAY),
        ("signature short", body(**{**NOTE, "razorpay_signature": "a" * 63}), GATEWAY),
        ("order prefix", body(**{**NOTE, "razorpay_order_id": "ord_1"}), GATEWAY),
        ("missing signature", body(**{**NOTE, "razorpay_signature": DROP}), GATEWAY),
    ]
]


def gateway_accepts(shape: Shape[Any], document: Any) -> bool:
    model = {k: v for k, v in shape.gateway_model().items() if k != "$schema"}
    exact = json.loads(json.dumps(model), parse_float=Decimal)
    return jsonschema.Draft4Validator(exact).is_valid(document)


def parser_accepts(shape: Shape[Any], raw: str) -> bool:
    try:
        shape.parse(raw.encode())
    except InvalidRequest:
        return False
    return True


@pytest.mark.parametrize(
    ("shape", "raw", "verdict"),
    [(shape, raw, verdict) for shape, _, raw, verdict in CASES],
    ids=[f"{shape.title}: {name}" for shape, name, _, _ in CASES],
)
def test_the_gateway_is_never_stricter_and_the_parser_decides_the_rest(
    shape: Shape[Any], raw: str, verdict: str
) -> None:
    document = jsonutil.loads(raw)
    gateway, parser = gateway_accepts(shape, document), parser_accepts(shape, raw)

    assert parser or not gateway or verdict == PARSER, "the parser refuses: mark it PARSER"
    assert gateway or not parser, "the gateway refuses what the parser accepts"
    assert {BOTH: (True, True), GATEWAY: (False, False), PARSER: (True, False)}[verdict] == (
        gateway,
        parser,
    )


def test_amounts_parse_to_two_place_decimals_never_floats() -> None:
    parsed = [
        portal.CREATE_PAYMENT.parse(payment(raw).encode()).amount
        for raw in ("1", "10.5", "1e2", '"007.10"', "0.29")
    ]

    assert parsed == [
        Decimal("1.00"),
        Decimal("10.50"),
        Decimal("100.00"),
        Decimal("7.10"),
        Decimal("0.29"),
    ]
    assert all(isinstance(a, Decimal) and a.as_tuple().exponent == -2 for a in parsed)


def test_the_mobile_number_is_normalised_to_ten_digits() -> None:
    request = portal.VALIDATE_LOAN.parse(validate(mobile_number="+919876543210").encode())

    assert request.mobile_number == "9876543210"


def test_every_broken_rule_is_a_detail() -> None:
    with pytest.raises(InvalidRequest) as caught:
        portal.CREATE_PAYMENT.parse(b'{"amount": "10.005", "note": 1}')

    assert caught.value.details == [
        {"field": "note", "issue": "unknown field"},
        {"field": "loan_account_number", "issue": "required"},
        {"field": "amount", "issue": "must be a decimal string with at most 2 decimals"},
    ]


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[1,", b'{"amount": NaN}', b"\xff\xfe", b"[" * 100_000, b"1" * 5000]
)
def test_unreadable_bodies_are_invalid_requests(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        portal.CREATE_PAYMENT.parse(raw)


def test_the_openapi_schema_is_the_model_with_its_documentation() -> None:
    for shape in portal.REQUESTS:
        model = shape.gateway_model()
        schema = shape.openapi_schema()
        assert model.pop("$schema") == "http://json-schema.org/draft-04/schema#"
        stripped = json.loads(json.dumps(schema))
        stripped.pop("description", None)
        for prop in stripped["properties"].values():
            prop.pop("description", None)
            prop.pop("example", None)
        assert stripped == model
