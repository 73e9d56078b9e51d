"""The LMS's books: loans, the receipts posted to them, and the refusals a test planted.

Thread-safe (one lock). An EMI receipt is applied to its loan once: the outstanding goes down
by the amount and floors at 0.00, the excess is held as ``advance_amount``; a cancellation
takes the amount back (from the advance first), so ``outstanding - advance`` moves by exactly
the receipt's amount each way. A fee or challan receipt (any other ``purpose``) is only
recorded: neither it nor its cancellation changes the loan, its ``updated_at`` or its
``recent_receipt_references``. Every change of a loan gives it a new ``updated_at``, later than any
given before (two changes in one microsecond are a microsecond apart), which is what paging
by ``(updated_at, loan_account_number)`` relies on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.lms.loans import Loan, PageKey, merged_loan
from simulators.lms.shapes import (
    LmsApiError,
    ReceiptRequest,
    amount_text,
    parse_timestamp,
    stamp,
)

__all__ = ["REFUSAL_CODES", "Book"]

REFUSAL_CODES = frozenset({"LOAN_NOT_FOUND", "LOAN_CLOSED"})
_TAKES_NO_RECEIPT = frozenset({"CLOSED", "FORECLOSED"})


@dataclass
class Receipt:
    receipt_id: str
    request: ReceiptRequest
    posted_at: datetime
    status: str = "POSTED"
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def view(self) -> dict[str, Any]:
        """The contract's Receipt."""
        return {
            "receipt_id": self.receipt_id,
            "reference": self.request.reference,
            "loan_account_number": self.request.loan_account_number,
            "amount": amount_text(self.request.amount),
            "status": self.status,
            "posted_at": stamp(self.posted_at),
            "cancelled_at": stamp(self.cancelled_at) if self.cancelled_at else None,
            "channel": self.request.channel,
            "payment_mode": self.request.payment_mode,
            "purpose": self.request.purpose,
        }

    def admin_view(self) -> dict[str, Any]:
        request = self.request
        return {
            **self.view(),
            "received_at": request.received_at,
            "channel": request.channel,
            "payment_mode": request.payment_mode,
            "branch_code": request.branch_code,
            "external_reference": request.external_reference,
            "instrument_number": request.instrument_number,
            "cancel_reason": self.cancel_reason,
        }


@dataclass(frozen=True)
class Refusal:
    code: str
    reference: str | None = None
    loan_account_number: str | None = None

    def matches(self, request: ReceiptRequest) -> bool:
        return self.reference in (None, request.reference) and self.loan_account_number in (
            None,
            request.loan_account_number,
        )


def _identity(request: ReceiptRequest) -> tuple[str, Decimal, str]:
    """What a repeat of a reference must match (else REFERENCE_CONFLICT)."""
    return request.loan_account_number, request.amount, request.purpose


class Book:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._seeds: list[Loan] = []
        self._loans: dict[str, Loan] = {}
        self._receipts: dict[str, Receipt] = {}
        self._by_reference: dict[str, str] = {}
        self._refusals: list[Refusal] = []
        self._last_stamp: datetime | None = None
        self._next_receipt = 1

    # ------------------------------------------------------------------ set-up

    def seed(self, loans: Iterable[Mapping[str, Any]]) -> None:
        """The loans a reset goes back to; each keeps its ``updated_at`` when it gives one."""
        with self._lock:
            seeded = []
            for fields in loans:
                at = self._stamp()
                loan = merged_loan(fields, None, at)
                given = fields.get("updated_at")
                if isinstance(given, datetime):
                    loan.updated_at = given
                elif given is not None:
                    loan.updated_at = parse_timestamp(given, "updated_at")
                else:
                    loan.updated_at = at
                # Later changes must sort after every seeded one.
                self._last_stamp = max(self._last_stamp or at, loan.updated_at)
                seeded.append(loan)
            self._seeds = seeded
            self._restore()

    def reset(self) -> None:
        with self._lock:
            self._restore()

    def _restore(self) -> None:
        self._loans = {
            s.loan_account_number: replace(s, recent=list(s.recent)) for s in self._seeds
        }
        self._receipts.clear()
        self._by_reference.clear()
        self._refusals.clear()
        self._next_receipt = 1

    def upsert(self, loans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create or change loans (fields not given are kept); each gets a new updated_at
        (one given is ignored). All or none: a bad loan changes nothing."""
        with self._lock:
            changed = []
            for fields in loans:
                number = fields.get("loan_account_number") if isinstance(fields, Mapping) else None
                loan = merged_loan(fields, self._loans.get(str(number)), self._now())
                loan.updated_at = self._stamp()
                changed.append(loan)
            self._loans.update((loan.loan_account_number, loan) for loan in changed)
            return [loan.view(self._now()) for loan in changed]

    def refuse(self, code: str, reference: str | None, loan_account_number: str | None) -> None:
        if code not in REFUSAL_CODES:
            raise ValueError(f"code must be one of {sorted(REFUSAL_CODES)}")
        if not all(v is None or isinstance(v, str) for v in (reference, loan_account_number)):
            raise ValueError("reference and loan_account_number are text")
        with self._lock:
            self._refusals.append(Refusal(code, reference, loan_account_number))

    def refusals(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(refusal) for refusal in self._refusals]

    # ------------------------------------------------------------------ views

    def loans(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self._now()
            return [loan.view(now) for loan in sorted(self._loans.values(), key=Loan.key)]

    def receipts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [receipt.admin_view() for receipt in self._receipts.values()]

    # ------------------------------------------------------------------ the API

    def post(self, request: ReceiptRequest, *, as_repeat: bool = False) -> tuple[int, Any]:
        """201 and the receipt, or 200 and the one posted before under this reference."""
        with self._lock:
            earlier = self._by_reference.get(request.reference)
            if earlier is not None:
                receipt = self._receipts[earlier]
                if _identity(receipt.request) != _identity(request):
                    raise LmsApiError(
                        409,
                        "REFERENCE_CONFLICT",
                        "this reference was posted with another loan, amount or purpose",
                    )
                return 200, receipt.view()
            refusal = next((r for r in self._refusals if r.matches(request)), None)
            loan = self._loans.get(request.loan_account_number)
            if refusal is not None:
                raise LmsApiError(422, refusal.code, "refused (planted by the simulator)")
            if loan is None:
                raise LmsApiError(422, "LOAN_NOT_FOUND", "no such loan account")
            if loan.status in _TAKES_NO_RECEIPT:
                raise LmsApiError(422, "LOAN_CLOSED", f"the loan is {loan.status}")
            at = self._stamp()
            if request.applies_to_loan:
                applied = min(request.amount, loan.outstanding_amount)
                loan.outstanding_amount -= applied
                loan.advance_amount += request.amount - applied
                loan.updated_at = at
                loan.recent.insert(0, (request.reference, at))
            receipt = Receipt(f"LMSR{self._next_receipt:010d}", request, at)
            self._next_receipt += 1
            self._receipts[receipt.receipt_id] = receipt
            self._by_reference[request.reference] = receipt.receipt_id
            return (200 if as_repeat else 201), receipt.view()

    def by_reference(self, reference: str) -> dict[str, Any]:
        with self._lock:
            receipt_id = self._by_reference.get(reference)
            if receipt_id is None:
                raise LmsApiError(404, "RECEIPT_NOT_FOUND", "nothing was posted under it")
            return self._receipts[receipt_id].view()

    def cancel(self, receipt_id: str, reason: str) -> dict[str, Any]:
        with self._lock:
            receipt = self._receipts.get(receipt_id)
            if receipt is None:
                raise LmsApiError(404, "RECEIPT_NOT_FOUND", "no such receipt")
            if receipt.status == "CANCELLED":
                return receipt.view()
            receipt.cancelled_at = at = self._stamp()
            if receipt.request.applies_to_loan:
                self._restore_to_loan(receipt, at)
            receipt.status, receipt.cancel_reason = "CANCELLED", reason
            return receipt.view()

    def _restore_to_loan(self, receipt: Receipt, at: datetime) -> None:
        loan = self._loans[receipt.request.loan_account_number]
        amount = receipt.request.amount
        from_advance = min(amount, loan.advance_amount)
        loan.advance_amount -= from_advance
        loan.outstanding_amount += amount - from_advance
        loan.recent = [(ref, at) for ref, at in loan.recent if ref != receipt.request.reference]
        loan.updated_at = at

    def loan(self, number: str) -> dict[str, Any]:
        with self._lock:
            loan = self._loans.get(number)
            if loan is None:
                raise LmsApiError(404, "LOAN_NOT_FOUND", "no such loan account")
            return loan.view(self._now())

    def changed_since(
        self, since: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """Up to ``limit`` loans changed at or after ``since`` and after ``after``, oldest
        change first; the last one's key when more follow."""
        with self._lock:
            now = self._now()
            matching = sorted(
                (
                    loan
                    for loan in self._loans.values()
                    if loan.key()[0] >= since and (after is None or loan.key() > after)
                ),
                key=Loan.key,
            )
            page = matching[:limit]
            more = len(matching) > limit
            return [loan.view(now) for loan in page], (page[-1].key() if more else None)

    def _stamp(self) -> datetime:
        """Now, strictly later than any stamp given before."""
        at = self._now()
        if self._last_stamp is not None and at <= self._last_stamp:
            at = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = at
        return at
