"""The ``/api/v1`` routes of the LMS simulator: each checks what it was sent against the
contract (400 ``VALIDATION_FAILED``, or 404 for a path that names nothing) and asks the books.

Auth, modes and the request log are the server's (:mod:`simulators.lms.server`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from simulators.common.http import Request
from simulators.common.jsonutil import loads
from simulators.common.modes import Active
from simulators.lms.book import Book
from simulators.lms.paging import encode_cursor, page_query
from simulators.lms.shapes import (
    LOAN_ACCOUNT_NUMBER,
    RECEIPT_ID,
    REFERENCE,
    LmsApiError,
    cancellation_reason,
    invalid,
    receipt_request,
)

__all__ = ["RECEIPTS", "ApiRoutes"]

RECEIPTS = "/api/v1/receipts"
Route = Callable[[Request, str, Active], tuple[int, Any]]


def _json(request: Request) -> Any:
    try:
        request.body = loads(request.raw) if request.raw.strip() else None
    except ValueError:  # UnicodeDecodeError included
        raise invalid("the body is not valid JSON") from None
    return request.body


class ApiRoutes:
    def __init__(self, book: Book) -> None:
        self._book = book
        self._table = self._declare()

    def answer(self, request: Request, active: Active) -> tuple[int, Any]:
        for method, pattern, handler in self._table:
            match = pattern.fullmatch(request.route)
            if match and method == request.method:
                return handler(request, unquote(match.groupdict().get("id", "")), active)
        raise LmsApiError(404, "NOT_FOUND", f"no route {request.method} {request.route}")

    def _declare(self) -> list[tuple[str, re.Pattern[str], Route]]:
        one = "(?P<id>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            ("POST", RECEIPTS, self._post_receipt),
            ("GET", RECEIPTS, self._receipt_by_reference),
            ("POST", f"{RECEIPTS}/{one}/cancellation", self._cancel),
            ("GET", f"/api/v1/loans/{one}", self._loan),
            ("GET", "/api/v1/loans", self._loans_changed),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    def _post_receipt(self, request: Request, _id: str, active: Active) -> tuple[int, Any]:
        posted = receipt_request(_json(request))
        return self._book.post(posted, as_repeat=active.mode == "duplicate_reference")

    def _receipt_by_reference(self, request: Request, _id: str, _a: Active) -> tuple[int, Any]:
        reference = request.query_value("reference")
        if reference is None or not REFERENCE.fullmatch(reference):
            raise invalid(f"reference must match {REFERENCE.pattern}")
        return 200, self._book.by_reference(reference)

    def _cancel(self, request: Request, receipt_id: str, _a: Active) -> tuple[int, Any]:
        if not RECEIPT_ID.fullmatch(receipt_id):
            raise LmsApiError(404, "RECEIPT_NOT_FOUND", "no such receipt")
        return 200, self._book.cancel(receipt_id, cancellation_reason(_json(request)))

    def _loan(self, _request: Request, number: str, _a: Active) -> tuple[int, Any]:
        if not LOAN_ACCOUNT_NUMBER.fullmatch(number):
            raise LmsApiError(404, "LOAN_NOT_FOUND", "no such loan account")
        return 200, self._book.loan(number)

    def _loans_changed(self, request: Request, _id: str, _a: Active) -> tuple[int, Any]:
        since, after, limit = page_query(request)
        items, last = self._book.changed_since(since, after, limit)
        return 200, {
            "items": items,
            "next_cursor": encode_cursor(since, last) if last is not None else None,
        }
