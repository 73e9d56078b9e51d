"""Receipt numbers (branch, Indian financial year, sequence), the JSON and the PDF."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.logic import receipts
from engine.models.payment import Payment
from engine.models.status import PaymentStatus


@pytest.mark.parametrize(
    ("utc", "year"),
    [
        ("2027-03-31T18:29:59", "2026-27"),  # 23:59:59 IST on 31 March
        ("2027-03-31T18:30:00", "2027-28"),  # midnight IST, 1 April
        ("2026-04-01T00:00:00", "2026-27"),
        ("2026-12-03T06:40:00", "2026-27"),
        ("2100-01-15T00:00:00", "2099-00"),
    ],
)
def test_the_financial_year_runs_april_to_march_in_ist(utc: str, year: str) -> None:
    assert receipts.financial_year(datetime.fromisoformat(utc).replace(tzinfo=UTC)) == year


def test_receipt_numbers_are_branch_year_and_six_digits() -> None:
    assert receipts.receipt_number("BR001", "2026-27", 1) == "BR001/2026-27/000001"
    assert receipts.receipt_number("BR001", "2026-27", 1234567) == "BR001/2026-27/1234567"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0.5", "0.50"),
        ("999", "999.00"),
        ("2500", "2,500.00"),
        ("250000", "2,50,000.00"),
        ("12345678.9", "1,23,45,678.90"),
    ],
)
def test_amounts_are_grouped_in_lakhs_and_crores(amount: str, text: str) -> None:
    assert receipts.indian_grouping(Decimal(amount)) == text


def captured(**changes: object) -> Payment:
    payment = Payment(
        transaction_id="pay_abcdefghijklmnopqrst",
        loan_account_number="LN0000000001",
        branch_code="BR001",
        customer_id="c-1",
        amount=Decimal("2500.00"),
        status=PaymentStatus.CAPTURED,
        created_date="2026-12-03T06:40:00.123Z",
        updated_at="2026-12-03T06:41:00.000Z",
        idempotency_key_hash="h",
        razorpay_order_id="order_X",
        razorpay_payment_id="pay_RZP0000000001",
        payment_method="upi",
        receipt_number="BR001/2026-27/000007",
        captured_at="2026-12-03T06:41:00.000Z",
    )
    return payment.with_changes(**changes)


def test_the_json_receipt_says_what_was_received() -> None:
    view = receipts.view(captured())
    assert view["receipt_number"] == "BR001/2026-27/000007"
    assert view["amount"] == Decimal("2500.00")
    assert view["paid_at"] == "2026-12-03T06:41:00.000Z"


def test_no_receipt_before_a_capture() -> None:
    with pytest.raises(receipts.NotIssued):
        receipts.view(captured(status=PaymentStatus.AUTHORIZED, receipt_number=None))
    with pytest.raises(receipts.NotIssued):
        receipts.pdf_bytes(captured(status=PaymentStatus.FAILED, receipt_number=None))


def test_the_pdf_is_the_same_bytes_every_time_and_well_formed() -> None:
    first = receipts.pdf_bytes(captured())
    assert first == receipts.pdf_bytes(captured())
    assert first.startswith(b"%PDF-1.4\n") and first.endswith(b"%%EOF\n")
    assert b"(BR001/2026-27/000007)" in first
    assert b"(INR 2,500.00)" in first
    assert b"(03 Dec 2026, 12:11 IST)" in first
    # Every xref entry points at its object, and startxref at the table.
    start = int(re.search(rb"startxref\n(\d+)\n", first).group(1))  # type: ignore[union-attr]
    assert first[start:].startswith(b"xref\n0 8\n")
    offsets = re.findall(rb"(\d{10}) 00000 n \n", first[start:])
    for number, offset in enumerate(offsets, start=1):
        assert first[int(offset) :].startswith(b"%d 0 obj\n" % number)
    length = int(re.search(rb"/Length (\d+)", first).group(1))  # type: ignore[union-attr]
    stream = first.index(b"stream\n") + len(b"stream\n")
    assert first[stream + length :].startswith(b"\nendstream")


def test_pdf_text_is_escaped() -> None:
    pdf = receipts.pdf_bytes(captured(branch_code="B(1)\\"))
    assert b"(B\\(1\\)\\\\)" in pdf


def test_different_receipts_differ() -> None:
    assert receipts.pdf_bytes(captured()) != receipts.pdf_bytes(
        captured(receipt_number="BR001/2026-27/000008")
    )
