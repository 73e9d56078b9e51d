"""payouts.logic.validation: the create request, amounts and destination formats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payouts.logic.validation import (
    abn_is_valid,
    acn_is_valid,
    parse_amount,
    parse_create_request,
    validate_account_name,
    validate_bank_account,
    validate_pay_id,
)
from payouts.models.payout import CreatePayoutCommand
from shared.http import ValidationError

KEY = "idem-key-0001"


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "customer_id": "cust-123",
        "amount": Decimal("100.10"),
        "payout_method": "PayId",
    }
    values.update(overrides)
    return values


# --- parse_create_request ------------------------------------------------------------------


def test_valid_request_becomes_a_command() -> None:
    command = parse_create_request(body(), KEY)

    assert command == CreatePayoutCommand("cust-123", Decimal("100.10"), "PayId", KEY)
    assert isinstance(command.amount, Decimal)


def test_bank_account_method_is_accepted() -> None:
    assert parse_create_request(body(payout_method="BankAccount"), KEY).payout_method == (
        "BankAccount"
    )


@pytest.mark.parametrize("key", [None, ""])
def test_missing_idempotency_key_is_rejected(key: str | None) -> None:
    with pytest.raises(ValidationError, match="Idempotency-Key header is required"):
        parse_create_request(body(), key)


@pytest.mark.parametrize(
    "key",
    [
        "short7c",  # 7 characters
        "x" * 129,
        "has a space",
        "tab\tinside-key",
        "ключ-идемпотентности",  # not ASCII
    ],
)
def test_malformed_idempotency_key_is_rejected(key: str) -> None:
    with pytest.raises(ValidationError, match="8 to 128 printable ASCII"):
        parse_create_request(body(), key)


@pytest.mark.parametrize("key", ["8chars!!", "k" * 128, "~!@#$%^&*()_+{}|:<>?"])
def test_idempotency_key_boundaries_are_accepted(key: str) -> None:
    assert parse_create_request(body(), key).idempotency_key == key


@pytest.mark.parametrize("payload", [None, [], ["customer_id"], "text", 5, Decimal("1.5")])
def test_body_must_be_an_object(payload: Any) -> None:
    with pytest.raises(ValidationError, match="must be a JSON object"):
        parse_create_request(payload, KEY)


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_create_request({"customer_id": "cust-1"}, KEY)

    assert caught.value.message == "missing field(s): amount, payout_method"


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_create_request(body(currency="AUD", note="x"), KEY)

    assert caught.value.message == "unknown field(s): currency, note"


@pytest.mark.parametrize("customer_id", ["a", "A-1-b", "x" * 64, "0123456789"])
def test_customer_id_pattern_accepts(customer_id: str) -> None:
    assert parse_create_request(body(customer_id=customer_id), KEY).customer_id == customer_id


@pytest.mark.parametrize(
    "customer_id", ["", "x" * 65, "cust_1", "cust 1", "cust/1", "ä", 123, None, ["cust"]]
)
def test_customer_id_pattern_rejects(customer_id: Any) -> None:
    with pytest.raises(ValidationError, match="customer_id"):
        parse_create_request(body(customer_id=customer_id), KEY)


def test_customer_id_with_trailing_newline_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_create_request(body(customer_id="cust-1\n"), KEY)


@pytest.mark.parametrize("method", ["payid", "PAYID", "Card", "", None, 1])
def test_payout_method_must_be_in_the_enum(method: Any) -> None:
    with pytest.raises(ValidationError, match="payout_method must be one of PayId, BankAccount"):
        parse_create_request(body(payout_method=method), KEY)


def test_amount_is_validated_through_the_request() -> None:
    with pytest.raises(ValidationError, match="between"):
        parse_create_request(body(amount=Decimal("1000.01")), KEY)


# --- parse_amount --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.01"), "0.01"),
        (Decimal("1000"), "1000.00"),
        (Decimal("1000.00"), "1000.00"),
        (Decimal("10.50"), "10.50"),
        (Decimal("10.5"), "10.50"),
        (Decimal("10.500"), "10.50"),  # trailing zero: still 2 decimals of value
        (Decimal("1E+3"), "1000.00"),
        (1, "1.00"),
        (1000, "1000.00"),
    ],
)
def test_amount_accepted_and_quantized(value: Any, expected: str) -> None:
    amount = parse_amount(value)

    assert isinstance(amount, Decimal)
    assert str(amount) == expected
    assert amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0"),
        Decimal("0.00"),
        Decimal("-1"),
        Decimal("-0.01"),
        Decimal("1000.01"),
        Decimal("1001"),
        0,
        -1,
        1001,
    ],
)
def test_amount_out_of_range_is_rejected(value: Any) -> None:
    with pytest.raises(ValidationError, match=r"between 0\.01 and 1000"):
        parse_amount(value)


@pytest.mark.parametrize(
    "value", [Decimal("0.001"), Decimal("10.005"), Decimal("999.999"), Decimal("0.015")]
)
def test_amount_with_more_than_two_decimals_is_rejected(value: Decimal) -> None:
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        parse_amount(value)


@pytest.mark.parametrize("value", [True, False, "10.00", "10", None, 10.5, [10], {"v": 1}])
def test_amount_of_the_wrong_type_is_rejected(value: Any) -> None:
    with pytest.raises(ValidationError, match="amount must be a number"):
        parse_amount(value)


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
def test_amount_must_be_finite(value: Decimal) -> None:
    with pytest.raises(ValidationError):
        parse_amount(value)


@pytest.mark.parametrize("value", [Decimal("1E+30"), 10**30])
def test_huge_amount_is_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        parse_amount(value)


def test_fingerprint_normalises_the_amount() -> None:
    a = CreatePayoutCommand("c", parse_amount(Decimal("10.5")), "PayId", KEY)
    b = CreatePayoutCommand("c", parse_amount(Decimal("10.50")), "PayId", "other-key")
    c = CreatePayoutCommand("c", parse_amount(Decimal("10.51")), "PayId", KEY)

    assert a.request_fingerprint() == b.request_fingerprint() == "c|10.50|PayId"
    assert a.request_fingerprint() != c.request_fingerprint()


# --- PayID formats (Monoova's PayID format rules) -------------------------------------------

VALID_PAY_IDS = [
    ("+61-412345678", "PhoneNumber"),
    ("+1-2025550123", "PhoneNumber"),
    ("+612-4" + "1" * 29, "PhoneNumber"),  # 35 characters, the maximum
    ("jane.citizen@example.com", "Email"),
    ("a+b_c@sub.example.com.au", "Email"),
    ("51824753556", "ABN"),
    ("53004085616", "ABN"),
    ("004085616", "ACN"),
    ("000000019", "ACN"),
    ("010499966", "ACN"),
    ("acme-corp", "OrganisationId"),
    ("acme corp 01", "OrganisationId"),
    ("ab", "OrganisationId"),
    ("o" * 256, "OrganisationId"),
]


@pytest.mark.parametrize(("pay_id", "pay_id_type"), VALID_PAY_IDS)
def test_valid_pay_ids(pay_id: str, pay_id_type: str) -> None:
    validate_pay_id(pay_id, pay_id_type)


BAD_FORMAT = "not a valid"
BAD_CHECKSUM = "check digit"

INVALID_PAY_IDS = [
    ("0412345678", "PhoneNumber", BAD_FORMAT),
    ("+61412345678", "PhoneNumber", BAD_FORMAT),
    ("+61-0412345678", "PhoneNumber", BAD_FORMAT),  # first subscriber digit must be 1-9
    ("+6112-412345678", "PhoneNumber", BAD_FORMAT),  # country code of 4 digits
    ("+61-4123 45678", "PhoneNumber", BAD_FORMAT),
    ("Jane@Example.com", "Email", BAD_FORMAT),
    ("JANE@EXAMPLE.COM", "Email", BAD_FORMAT),
    ("jane.example.com", "Email", BAD_FORMAT),
    ("jane@localhost", "Email", BAD_FORMAT),
    ("jane..c@example.com", "Email", BAD_FORMAT),
    ("j" * 245 + "@example.com", "Email", BAD_FORMAT),  # 257 characters
    ("51824753557", "ABN", BAD_CHECKSUM),  # last digit changed
    ("61824753556", "ABN", BAD_CHECKSUM),
    ("5182475355", "ABN", BAD_FORMAT),  # 10 digits
    ("51 824 753 556", "ABN", BAD_FORMAT),
    ("004085617", "ACN", BAD_CHECKSUM),
    ("04085616", "ACN", BAD_FORMAT),
    ("51824753556", "ACN", BAD_FORMAT),  # an ABN is not an ACN
    ("004085616", "ABN", BAD_FORMAT),
    ("Acme", "OrganisationId", BAD_FORMAT),  # upper case
    (" acme", "OrganisationId", BAD_FORMAT),
    ("acme ", "OrganisationId", BAD_FORMAT),
    ("a", "OrganisationId", BAD_FORMAT),
    ("o" * 257, "OrganisationId", BAD_FORMAT),
]


@pytest.mark.parametrize(("pay_id", "pay_id_type", "message"), INVALID_PAY_IDS)
def test_invalid_pay_ids(pay_id: str, pay_id_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_pay_id(pay_id, pay_id_type)


@pytest.mark.parametrize("pay_id_type", ["Twitter", "email", "", "BSB"])
def test_unsupported_pay_id_type(pay_id_type: str) -> None:
    with pytest.raises(ValueError, match="unsupported PayID type"):
        validate_pay_id("jane@example.com", pay_id_type)


@pytest.mark.parametrize(
    ("abn", "valid"),
    [
        ("51824753556", True),
        ("33102417032", True),
        ("51824753557", False),
        ("00000000000", False),
        ("5182475355a", False),
        ("518247535561", False),
    ],
)
def test_abn_checksum(abn: str, valid: bool) -> None:
    assert abn_is_valid(abn) is valid


@pytest.mark.parametrize(
    ("acn", "valid"),
    [
        ("004085616", True),
        ("000250000", True),
        ("004085617", False),
        ("00408561", False),
        ("00408561x", False),
    ],
)
def test_acn_checksum(acn: str, valid: bool) -> None:
    assert acn_is_valid(acn) is valid


@pytest.mark.parametrize(
    ("pay_id", "pay_id_type"),
    [("+61-412345678\n", "PhoneNumber"), ("jane@example.com\n", "Email")],
)
def test_pay_id_with_trailing_newline_is_rejected(pay_id: str, pay_id_type: str) -> None:
    with pytest.raises(ValueError):
        validate_pay_id(pay_id, pay_id_type)


def test_abn_in_non_ascii_digits_is_rejected() -> None:
    arabic_indic = "51824753556".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(ValueError):
        validate_pay_id(arabic_indic, "ABN")


# --- BSB ('999-999'), NPP account number (<= 28) and account name (>= 2) -------------------


@pytest.mark.parametrize("bsb", ["062-205", "802-985", "000-000"])
def test_valid_bsb(bsb: str) -> None:
    validate_bank_account(bsb, "12345678")


@pytest.mark.parametrize("bsb", ["062205", "62-205", "062-2055", "062 205", "abc-def", ""])
def test_invalid_bsb(bsb: str) -> None:
    with pytest.raises(ValueError, match="BSB must be in the format 999-999"):
        validate_bank_account(bsb, "12345678")


@pytest.mark.parametrize("account", ["1", "12345678", "AbC123xyz", "9" * 28])
def test_valid_npp_account_number(account: str) -> None:
    validate_bank_account("062-205", account)


@pytest.mark.parametrize("account", ["", "9" * 29, "1234-5678", "1234 5678", "1234_5678", "ü1"])
def test_invalid_npp_account_number(account: str) -> None:
    with pytest.raises(ValueError, match="account number must be 1-28 letters or digits"):
        validate_bank_account("062-205", account)


@pytest.mark.parametrize(("bsb", "account"), [("062-205\n", "12345678"), ("062-205", "1234\n")])
def test_bank_account_with_trailing_newline_is_rejected(bsb: str, account: str) -> None:
    with pytest.raises(ValueError):
        validate_bank_account(bsb, account)


def test_bsb_in_non_ascii_digits_is_rejected() -> None:
    with pytest.raises(ValueError):
        validate_bank_account("٠٦٢-٢٠٥", "12345678")


@pytest.mark.parametrize("name", ["Jo", "Jane Citizen", "n" * 140, "  Jo  "])
def test_valid_account_name(name: str) -> None:
    validate_account_name(name)


@pytest.mark.parametrize("name", ["", "J", "  J  ", "    ", "n" * 141])
def test_invalid_account_name(name: str) -> None:
    with pytest.raises(ValueError, match="account name must be 2-140 characters"):
        validate_account_name(name)
