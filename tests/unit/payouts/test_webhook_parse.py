"""payouts.logic.webhooks.parse_event: NppPaymentStatus and NppReturn bodies (PascalCase)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from payouts.logic.webhooks import PAYMENT_STATUS, RETURN, InvalidEvent, parse_event
from payouts.models.status import Status

REFERENCE = "po_0123456789abcdef0123456789abcdef"


def payment_status(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TransactionDate": "2025-01-02T00:00:00",
        "UniqueReference": REFERENCE,
        "TransactionId": 1022,
        "Status": "Payment Successful",
        "Amount": 100.10,
        "PayId": "jane@example.com",
        "PayIdType": "Email",
        "EndToEndId": REFERENCE,
    }
    body.update(overrides)
    return body


def npp_return(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "UniqueReference": REFERENCE,
        "TransactionId": 1022,
        "ReturnTransactionId": 2044,
        "ReturnReason": "Account closed",
        "ReturnDate": "2025-01-03T00:00:00",
        "Amount": 100.10,
    }
    body.update(overrides)
    return body


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


def test_payment_successful_completes() -> None:
    event = parse_event(raw(payment_status()), "9001")

    assert event.kind == PAYMENT_STATUS
    assert event.target is Status.COMPLETED
    assert event.unique_reference == REFERENCE
    assert event.monoova_transaction_id == 1022
    assert event.reason is None


@pytest.mark.parametrize("status", ["payment successful", "  PAYMENT SUCCESSFUL "])
def test_status_text_is_matched_loosely(status: str) -> None:
    assert parse_event(raw(payment_status(Status=status)), "1").target is Status.COMPLETED


def test_rejected_carries_the_reason() -> None:
    event = parse_event(
        raw(payment_status(Status="Rejected", RejectionReasonDescription="ACCOUNT CLOSED")), "1"
    )

    assert event.kind == PAYMENT_STATUS
    assert event.target is Status.REJECTED
    assert event.reason == "ACCOUNT CLOSED"


def test_reason_is_cut_to_500_characters() -> None:
    event = parse_event(
        raw(payment_status(Status="Rejected", RejectionReasonDescription="R" * 1000)), "1"
    )

    assert event.reason == "R" * 500


def test_successful_payment_ignores_a_rejection_reason() -> None:
    event = parse_event(raw(payment_status(RejectionReasonDescription="noise")), "1")

    assert event.reason is None


@pytest.mark.parametrize(
    "body",
    [
        npp_return(),
        npp_return(ReturnTransactionId=None, ReturnDate=None),  # ReturnReason alone
        {"UniqueReference": REFERENCE, "ReturnTransactionId": 2044},
    ],
)
def test_npp_return_is_returned(body: dict[str, Any]) -> None:
    event = parse_event(raw(body), "7")

    assert event.kind == RETURN
    assert event.target is Status.RETURNED


def test_return_reason_is_kept() -> None:
    assert parse_event(raw(npp_return()), "7").reason == "Account closed"


@pytest.mark.parametrize("status", ["Pending", "Settled", "", None, 5])
def test_unknown_status_is_invalid(status: Any) -> None:
    with pytest.raises(InvalidEvent, match="unrecognised"):
        parse_event(raw(payment_status(Status=status)), "1")


def test_missing_status_is_invalid() -> None:
    body = payment_status()
    del body["Status"]

    with pytest.raises(InvalidEvent):
        parse_event(raw(body), "1")


@pytest.mark.parametrize("reference", [None, "", 123, "r" * 201, ["po_1"]])
def test_missing_or_bad_unique_reference_is_invalid(reference: Any) -> None:
    with pytest.raises(InvalidEvent, match="UniqueReference"):
        parse_event(raw(payment_status(UniqueReference=reference)), "1")


def test_absent_unique_reference_is_invalid() -> None:
    body = payment_status()
    del body["UniqueReference"]

    with pytest.raises(InvalidEvent, match="UniqueReference"):
        parse_event(raw(body), "1")


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"{", b"\xff\xfe", b'{"Amount": NaN, "UniqueReference": "x"}']
)
def test_non_json_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_event(body, "1")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_non_object_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidEvent, match="not a JSON object"):
        parse_event(body, "1")


def test_invalid_event_is_a_value_error() -> None:
    assert issubclass(InvalidEvent, ValueError)


# --- amount ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount_json", "expected"),
    [("100.10", "100.10"), ("100.1", "100.10"), ("100", "100.00"), ("0.01", "0.01")],
)
def test_amount_is_an_exact_decimal(amount_json: str, expected: str) -> None:
    body = f'{{"UniqueReference": "{REFERENCE}", "Status": "Rejected", "Amount": {amount_json}}}'

    event = parse_event(body.encode(), "1")

    assert isinstance(event.amount, Decimal)
    assert str(event.amount) == expected


def test_missing_amount_is_none() -> None:
    body = payment_status()
    del body["Amount"]

    assert parse_event(raw(body), "1").amount is None


@pytest.mark.parametrize("amount", ["abc", [1], {"v": 1}])
def test_non_numeric_amount_is_invalid(amount: Any) -> None:
    with pytest.raises(InvalidEvent, match="Amount"):
        parse_event(raw(payment_status(Amount=amount)), "1")


@pytest.mark.parametrize("txn", ["1022", 10.5, True, None])
def test_non_integer_transaction_id_is_ignored(txn: Any) -> None:
    assert parse_event(raw(payment_status(TransactionId=txn)), "1").monoova_transaction_id is None


# --- dedupe id ------------------------------------------------------------------------------


def test_same_webhook_gives_the_same_dedupe_id() -> None:
    first = parse_event(raw(payment_status()), "9001")
    # a redelivery may differ in bytes (field order, other fields) but not in id/ref/outcome
    again = parse_event(raw({**payment_status(), "TransactionDate": "other"}), "9001")

    assert first.dedupe_id == again.dedupe_id
    assert len(first.dedupe_id) == 64


@pytest.mark.parametrize(
    ("body", "webhook_id"),
    [
        (payment_status(), "9002"),  # another Webhookid
        (payment_status(UniqueReference="po_other"), "9001"),  # another payout
        (payment_status(Status="Rejected"), "9001"),  # another outcome
        (npp_return(), "9001"),  # a return of the same payout
    ],
)
def test_dedupe_id_differs_otherwise(body: dict[str, Any], webhook_id: str) -> None:
    baseline = parse_event(raw(payment_status()), "9001")

    assert parse_event(raw(body), webhook_id).dedupe_id != baseline.dedupe_id


@pytest.mark.parametrize("webhook_id", [None, ""])
def test_without_webhook_id_the_body_decides(webhook_id: str | None) -> None:
    first = parse_event(raw(payment_status()), webhook_id)
    same = parse_event(raw(payment_status()), webhook_id)
    other = parse_event(raw({**payment_status(), "TransactionDate": "other"}), webhook_id)

    assert first.dedupe_id == same.dedupe_id
    assert first.dedupe_id != other.dedupe_id
    assert first.dedupe_id != parse_event(raw(payment_status()), "9001").dedupe_id
