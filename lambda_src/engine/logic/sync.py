"""Transactions items -> PostgreSQL, a batch at a time, with the failing records isolated.

A batch is applied in one unit of work (engine.dal.pg.payments.sync_payments). When that
fails because of what some record holds (a loan PostgreSQL does not know, a value a
constraint refuses), the batch is split in halves and each half applied again, down to the
single records that fail: k bad records in n cost about 2·k·log2(n) extra transactions, not
n. When it fails for any other reason (the database is down, a timeout), no record is to
blame: the whole batch is reported, nothing of it having been written, and redelivered.

Records are parsed before anything is written: a record with missing or malformed keys is a
failure of its own, never of the batch. Money is Decimal from DynamoDB's N strings. The
posting facts (`lms_receipt_id`, `lms_posted_at`) travel with the row once the poster has
set them; the loan sync (engine.logic.loan_sync) reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from engine.dal.pg.payments import PaymentRow, SyncOutcome
from shared import ddb

logger = logging.getLogger(__name__)

STATUSES = frozenset(
    {"CREATED", "AUTHORIZED", "CAPTURED", "FAILED", "EXPIRED", "REFUNDED", "CANCELLED"}
)
CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
# Errors caused by the data of some record in the batch: splitting finds it.
RECORD_ERRORS: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.DataError)

Apply = Callable[[Sequence[PaymentRow]], SyncOutcome]


class MalformedRecord(ValueError):
    """A stream record or item the sync cannot read (its message names the field)."""


@dataclass(frozen=True)
class Change:
    """One stream record to apply: its position (reported on failure) and the new image."""

    sequence_number: str
    row: PaymentRow


@dataclass
class SyncReport:
    failed: list[str] = field(default_factory=list)  # sequence numbers, in stream order
    written: int = 0
    loans_moved: int = 0
    skipped: int = 0  # REMOVE records (TTL or manual deletes): nothing to sync


def row_from_item(item: Mapping[str, Any]) -> PaymentRow:
    """A Transactions item (plain values, Decimal numbers) as a payments row."""
    return PaymentRow(
        transaction_id=_text(item, "transaction_id"),
        loan_account_number=_text(item, "loan_account_number"),
        branch_code=_text(item, "branch_code"),
        amount=_money(item, "amount", positive=True),
        status=_status(item),
        version=_version(item),
        created_at=_time(item, "created_date"),
        channel=_optional_text(item, "channel") or "PORTAL",
        receipt_number=_optional_text(item, "receipt_number"),
        razorpay_order_id=_optional_text(item, "razorpay_order_id"),
        razorpay_payment_id=_optional_text(item, "razorpay_payment_id"),
        payment_method=_optional_text(item, "payment_method"),
        captured_at=_time(item, "captured_at") if item.get("captured_at") else None,
        refunded_amount=_money(item, "refunded_amount") if "refunded_amount" in item else ZERO,
        # Set by the poster (engine.dal.ddb.posting) once the LMS has the receipt.
        lms_receipt_id=_optional_text(item, "lms_receipt_id") or None,
        lms_posted_at=_time(item, "lms_posted_at") if item.get("lms_posted_at") else None,
        # A staff collection's (engine.dal.ddb.collections); a portal payment has none.
        purpose=_optional_text(item, "purpose"),
    )


def change_from_record(record: Mapping[str, Any]) -> Change | None:
    """The change a DynamoDB stream record carries; None for a REMOVE (nothing to sync)."""
    if record.get("eventName") == "REMOVE":
        return None
    stream = record.get("dynamodb")
    if not isinstance(stream, Mapping):
        raise MalformedRecord("record has no dynamodb section")
    image = stream.get("NewImage")
    if not isinstance(image, Mapping):
        raise MalformedRecord("record has no NewImage (is the stream NEW_AND_OLD_IMAGES?)")
    try:
        item = ddb.from_item(dict(image)) or {}
    except (TypeError, ValueError, KeyError, InvalidOperation) as exc:
        raise MalformedRecord(f"NewImage is not DynamoDB JSON: {type(exc).__name__}") from exc
    return Change(sequence_number=sequence_number(record), row=row_from_item(item))


def sequence_number(record: Mapping[str, Any]) -> str:
    """The record's position, as batchItemFailures names it ('' if it has none: Lambda then
    retries the whole batch, the safe reading of a record it cannot place)."""
    stream = record.get("dynamodb")
    value = stream.get("SequenceNumber") if isinstance(stream, Mapping) else None
    return value if isinstance(value, str) else ""


class StreamSync:
    def __init__(self, apply: Apply) -> None:
        self._apply = apply

    def process(self, records: Iterable[Mapping[str, Any]]) -> SyncReport:
        """Apply a stream batch; the report lists the records to hand back as failures."""
        report = SyncReport()
        changes: list[Change] = []
        for record in records:
            try:
                change = change_from_record(record)
            except MalformedRecord as exc:
                logger.error("malformed stream record: %s", exc, extra=_where(record))
                report.failed.append(sequence_number(record))
                continue
            if change is None:
                report.skipped += 1
            else:
                changes.append(change)
        self._apply_isolating(changes, report)
        report.failed.sort(key=_stream_order)
        return report

    def apply_rows(self, rows: Sequence[PaymentRow]) -> SyncReport:
        """The same for rows read from the table (the repair job): failures by id."""
        report = SyncReport()
        self._apply_isolating([Change(row.transaction_id, row) for row in rows], report)
        return report

    def _apply_isolating(self, changes: list[Change], report: SyncReport) -> None:
        if not changes:
            return
        try:
            outcome = self._apply([c.row for c in changes])
        except RECORD_ERRORS as exc:
            if len(changes) == 1:
                logger.error(
                    "record refused by PostgreSQL: %s",
                    type(exc).__name__,
                    extra={"transaction_id": changes[0].row.transaction_id, "error": str(exc)},
                )
                report.failed.append(changes[0].sequence_number)
                return
            middle = len(changes) // 2
            self._apply_isolating(changes[:middle], report)
            self._apply_isolating(changes[middle:], report)
            return
        except Exception as exc:
            # Nothing in the batch is to blame (the unit of work rolled back): all of it is
            # retried, and splitting would only multiply the attempts on a sick database.
            logger.warning(
                "batch not applied: %s", type(exc).__name__, extra={"records": len(changes)}
            )
            report.failed.extend(c.sequence_number for c in changes)
            return
        report.written += outcome.written
        report.loans_moved += outcome.loans_moved


def _stream_order(sequence: str) -> tuple[int, str]:
    # DynamoDB sequence numbers are decimal digit strings of varying length.
    return (int(sequence), sequence) if sequence.isdigit() else (-1, sequence)


def _where(record: Mapping[str, Any]) -> dict[str, Any]:
    stream = record.get("dynamodb")
    keys = stream.get("Keys") if isinstance(stream, Mapping) else None
    return {
        "sequence_number": sequence_number(record),
        "keys": keys,
        "event": record.get("eventName"),
    }


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MalformedRecord(f"{name} is missing or not a string")
    return value


def _optional_text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"{name} is not a string")
    return value


def _money(item: Mapping[str, Any], name: str, *, positive: bool = False) -> Decimal:
    value = item.get(name)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise MalformedRecord(f"{name} is missing or not a number")
    try:
        exact = value == value.quantize(CENTS)
    except InvalidOperation:  # too many digits for any amount
        exact = False
    if not exact or value < 0 or (positive and value == 0):
        raise MalformedRecord(f"{name} is not a non-negative amount with at most 2 decimals")
    return value.quantize(CENTS)


def _status(item: Mapping[str, Any]) -> str:
    status = _text(item, "status")
    if status not in STATUSES:
        raise MalformedRecord(f"status {status!r} is not a payment status")
    return status


def _version(item: Mapping[str, Any]) -> int:
    value = item.get("version")
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or value != value.to_integral_value() or value < 1:
        raise MalformedRecord("version is missing or not a positive integer")
    return int(value)


def _time(item: Mapping[str, Any], name: str) -> datetime:
    text = _text(item, name)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRecord(f"{name} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise MalformedRecord(f"{name} has no time zone")
    return moment
