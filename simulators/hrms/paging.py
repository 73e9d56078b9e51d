"""``GET /employees``'s query and its opaque cursor.

A cursor is base64url JSON of the watermark it was made for and the ``(updated_at,
employee_id)`` of the last employee on its page: the next page starts after that one. A
cursor passed with another watermark, or one that is not ours, is 400 ``VALIDATION_FAILED``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from simulators.common.http import Request
from simulators.hrms.directory import PageKey
from simulators.hrms.shapes import invalid, parse_timestamp, stamp

__all__ = ["DEFAULT_PAGE_SIZE", "PAGE_MAX", "encode_cursor", "page_query"]

DEFAULT_PAGE_SIZE = 100
PAGE_MAX = 200
_PARAMETERS = frozenset({"updated_since", "page_size", "cursor"})


def encode_cursor(since: datetime, key: PageKey) -> str:
    text = json.dumps({"s": stamp(since), "u": stamp(key[0]), "e": key[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, since: datetime) -> PageKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        made_for = parse_timestamp(fields["s"], "cursor")
        key = (parse_timestamp(fields["u"], "cursor"), fields["e"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise invalid("cursor is not one this API gave") from None
    if made_for != since or not isinstance(key[1], str):
        raise invalid("cursor was made for another updated_since")
    return key


def page_query(request: Request) -> tuple[datetime, PageKey | None, int]:
    """``updated_since`` (required), ``cursor`` and ``page_size`` (1 to 200, default 100)."""
    unknown = sorted(set(request.query) - _PARAMETERS)
    if unknown:
        raise invalid(f"unknown query parameters: {', '.join(unknown)}")
    if any(len(values) > 1 for values in request.query.values()):
        raise invalid("a query parameter is repeated")
    try:
        since = parse_timestamp(request.query_value("updated_since"), "updated_since")
    except ValueError as exc:
        raise invalid(str(exc)) from None
    size_text = request.query_value("page_size")
    size = DEFAULT_PAGE_SIZE
    if size_text is not None:
        if not (size_text.isascii() and size_text.isdigit()) or not 1 <= int(size_text) <= PAGE_MAX:
            raise invalid(f"page_size must be an integer from 1 to {PAGE_MAX}")
        size = int(size_text)
    cursor = request.query_value("cursor")
    return since, (_decode_cursor(cursor, since) if cursor is not None else None), size
