"""Transactions items and their DynamoDB stream records, as the sync tests and the bench need them.

`item(...)` is a Transactions item in plain values (the contract's shape); `record(...)` wraps
one as the stream record Lambda delivers (DynamoDB JSON, NEW_AND_OLD_IMAGES).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import psycopg

from shared import ddb

_sequence = itertools.count(100_000_000_000_000_000_000)
CREATED_DATE = "2026-12-03T06:40:00.123Z"


def item(
    transaction_id: str,
    loan: str,
    amount: str,
    status: str = "CREATED",
    version: int = 1,
    *,
    refunded: str | None = None,
    branch: str = "BR001",
    created_date: str = CREATED_DATE,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "transaction_id": transaction_id,
        "loan_account_number": loan,
        "branch_code": branch,
        "customer_id": "CUST0001",
        "channel": "PORTAL",
        "amount": Decimal(amount),
        "currency": "INR",
        "status": status,
        "created_date": created_date,
        "updated_at": created_date,
        "version": version,
        "razorpay_order_id": f"order_{transaction_id[-14:]}",
        "refunded_amount": Decimal(refunded or "0"),
        "idempotency_key_hash": "0" * 64,
    }
    if status in ("CAPTURED", "REFUNDED"):
        values |= {
            "razorpay_payment_id": f"pay_rzp{transaction_id[-10:]}",
            "payment_method": "upi",
            "receipt_number": f"{branch}/2026-27/{version:06d}",
            "captured_at": "2026-12-03T06:41:00.000Z",
        }
    return values


def record(
    image: dict[str, Any] | None,
    *,
    event: str = "MODIFY",
    sequence: str | None = None,
    keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A stream record carrying `image` as its NewImage (None: no NewImage at all)."""
    dynamodb: dict[str, Any] = {
        "SequenceNumber": sequence or str(next(_sequence)),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Keys": keys or ddb.to_item({"transaction_id": (image or {}).get("transaction_id", "?")}),
    }
    if image is not None:
        dynamodb["NewImage"] = ddb.to_item(image)
    return {
        "eventID": dynamodb["SequenceNumber"],
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-south-1",
        "dynamodb": dynamodb,
    }


def event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def add_loan(admin: psycopg.Connection[Any], number: str, outstanding: str) -> None:
    """A loan of its own for a test (branch BR001 is seeded)."""
    admin.execute(
        "INSERT INTO loan_accounts (loan_account_number, loan_type, outstanding_balance,"
        " branch_code) VALUES (%s, 'LAP', %s, 'BR001')",
        (number, Decimal(outstanding)),
    )


def balances(admin: psycopg.Connection[Any], number: str) -> tuple[str, str]:
    """(outstanding_balance, advance_balance) as decimal strings."""
    found = admin.execute(
        "SELECT outstanding_balance, advance_balance FROM loan_accounts"
        " WHERE loan_account_number = %s",
        (number,),
    ).fetchone()
    assert found is not None
    return str(found[0]), str(found[1])


def payment_row(admin: psycopg.Connection[Any], transaction_id: str) -> dict[str, Any] | None:
    cur = admin.execute(
        "SELECT status, version, balance_applied, advance_amount, balance_restored,"
        " refunded_amount FROM payments WHERE transaction_id = %s",
        (transaction_id,),
    )
    found = cur.fetchone()
    if found is None:
        return None
    names = [c.name for c in cur.description or ()]
    return {n: (str(v) if isinstance(v, Decimal) else v) for n, v in zip(names, found, strict=True)}
