"""payouts.logic.monoova_body: the body of `POST /financial/v2/transaction/execute`."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from payouts.logic.monoova_body import execute_body
from payouts.models.payout import Destination
from shared import jsonutil

from .monoova_fixtures import BANK, PAY_ID, REFERENCE, SETTINGS

AMOUNT = Decimal("100.10")


@pytest.mark.parametrize("destination", [PAY_ID, BANK], ids=["PayId", "BankAccount"])
def test_common_fields(destination: Destination) -> None:
    body = execute_body(REFERENCE, AMOUNT, destination, SETTINGS)

    assert body["uniqueReference"] == REFERENCE
    assert body["paymentSource"] == "mAccount"
    assert body["mAccount"] == {"token": "6279059726039800"}
    assert len(body["disbursements"]) == 1
    disbursement = body["disbursements"][0]
    assert body["totalAmount"] == disbursement["amount"] == AMOUNT
    assert isinstance(body["totalAmount"], Decimal)
    assert disbursement["sourceAccountBsb"] == "802-985"
    assert disbursement["sourceAccountNumber"] == "100200300"
    assert REFERENCE in disbursement["lodgementReference"]
    assert len(disbursement["lodgementReference"]) <= 280


def test_pay_id_body() -> None:
    disbursement = execute_body(REFERENCE, AMOUNT, PAY_ID, SETTINGS)["disbursements"][0]

    assert disbursement["disbursementMethod"] == "NppCreditPayId"
    assert "toNppCreditBankAccountDetails" not in disbursement
    assert disbursement["toNppCreditPayIdDetails"] == {
        "payId": "jane@example.com",
        "payIdType": "Email",
        "accountName": "Jane Citizen",
        "endToEndId": REFERENCE,
        "remitterName": "Acme Pty Ltd",
    }


def test_bank_account_body() -> None:
    disbursement = execute_body(REFERENCE, AMOUNT, BANK, SETTINGS)["disbursements"][0]

    assert disbursement["disbursementMethod"] == "NppCreditBankAccount"
    assert "toNppCreditPayIdDetails" not in disbursement
    assert disbursement["toNppCreditBankAccountDetails"] == {
        "bsbNumber": "062-205",
        "accountNumber": "12345678",
        "accountName": "Jane Citizen",
        "endToEndId": REFERENCE,
        "remitterName": "Acme Pty Ltd",
    }


@pytest.mark.parametrize("destination", [PAY_ID, BANK], ids=["PayId", "BankAccount"])
def test_end_to_end_id_is_at_most_35_characters(destination: Destination) -> None:
    long_reference = "po_" + "x" * 60
    body = execute_body(long_reference, AMOUNT, destination, SETTINGS)
    disbursement = body["disbursements"][0]
    details = next(v for k, v in disbursement.items() if k.endswith("Details"))

    assert details["endToEndId"] == long_reference[:35]
    assert body["uniqueReference"] == long_reference  # the reference itself is never cut


def test_remitter_name_is_cut_to_140() -> None:
    settings = dataclasses.replace(SETTINGS, remitter_name="R" * 200)
    details = execute_body(REFERENCE, AMOUNT, BANK, settings)["disbursements"][0][
        "toNppCreditBankAccountDetails"
    ]

    assert details["remitterName"] == "R" * 140


def test_same_payout_builds_the_same_body() -> None:
    # A resend (reconciler) must carry the very same uniqueReference and amount.
    first = execute_body(REFERENCE, AMOUNT, PAY_ID, SETTINGS)
    again = execute_body(REFERENCE, Decimal("100.10"), PAY_ID, SETTINGS)

    assert jsonutil.dumps_exact(first) == jsonutil.dumps_exact(again)


def test_amounts_serialise_as_exact_numbers() -> None:
    text = jsonutil.dumps_exact(execute_body(REFERENCE, AMOUNT, BANK, SETTINGS))

    assert '"totalAmount":100.10' in text
    assert '"amount":100.10' in text
    assert '"100.10"' not in text


def test_destination_is_not_mutated_and_bodies_are_independent() -> None:
    first = execute_body(REFERENCE, AMOUNT, PAY_ID, SETTINGS)
    second = execute_body("po_other", Decimal("5.00"), PAY_ID, SETTINGS)

    assert first["uniqueReference"] == REFERENCE
    assert first["totalAmount"] == AMOUNT
    assert second["disbursements"][0]["toNppCreditPayIdDetails"]["endToEndId"] == "po_other"
    assert PAY_ID.pay_id == "jane@example.com"
