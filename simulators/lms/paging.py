"""``GET /api/v1/loans``'s query and its opaque cursor.

A cursor is base64url JSON of the watermark it was made for and the ``(updated_at,
loan_account_number)`` of the last loan on its page: the next page starts after that loan.
A cursor passed with another watermark, or one that is not ours, is 400 ``VALIDATION_FAILED``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from simulators.common.http import Request
from simulators.lms.loans import PageKey
from simulators.lms.shapes import invalid, parse_timestamp, stamp

__all__ = ["DEFAULT_LIMIT", "PAGE_MAX", "encode_cursor", "page_query"]

DEFAULT_LIMIT = 100
PAGE_MAX = 500


def encode_cursor(since: datetime, key: PageKey) -> str:
    text = json.dumps({"s": stamp(since), "u": stamp(key[0]), "l": key[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, since: datetime) -> PageKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        made_for = parse_timestamp(fields["s"], "cursor")
        key = (parse_timestamp(fields["u"], "cursor"), fields["l"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise invalid("cursor is not one this API gave") from None
    if made_for != since or not isinstance(key[1], str):
        raise invalid("cursor was made for another changed_since")
    return key


def page_query(request: Request) -> tuple[datetime, PageKey | None, int]:
    """``changed_since`` (required), ``cursor`` and ``limit`` (1 to 500, default 100)."""
    unknown = sorted(set(request.query) - {"changed_since", "cursor", "limit"})
    if unknown:
        raise invalid(f"unknown query parameters: {', '.join(unknown)}")
    if any(len(values) > 1 for values in request.query.values()):
        raise invalid("a query parameter is repeated")
    try:
        since = parse_timestamp(request.query_value("changed_since"), "changed_since")
    except ValueError as exc:
        raise invalid(str(exc)) from None
    limit_text = request.query_value("limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if (
            not (limit_text.isascii() and limit_text.isdigit())
            or not 1 <= int(limit_text) <= PAGE_MAX
        ):
            raise invalid(f"limit must be an integer from 1 to {PAGE_MAX}")
        limit = int(limit_text)
    cursor = request.query_value("cursor")
    return since, (_decode_cursor(cursor, since) if cursor is not None else None), limit
