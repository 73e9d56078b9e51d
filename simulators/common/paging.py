"""Watermark paging: a list of what changed at or after ``since``, oldest change first.

A page query is ``<since_param>`` (required, RFC 3339), ``<size_param>`` (1 to ``max_size``,
``default_size`` when absent) and ``cursor``; nothing else, nothing repeated. A cursor is
base64url JSON of the watermark it was made for and the ``(updated_at, key)`` of the last item
on its page (``key_name`` is the JSON field of the key, so each simulator's cursors stay as
they were): the next page starts after that item. A cursor passed with another watermark, or
one that is not ours, is refused through ``invalid`` (each simulator's 400 error).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simulators.common.http import Request
from simulators.common.timestamps import parse_timestamp, stamp

__all__ = ["PageKey", "PageQuery", "WatermarkPaging"]

PageKey = tuple[datetime, str]
PageQuery = tuple[datetime, PageKey | None, int]


@dataclass(frozen=True)
class WatermarkPaging:
    since_param: str
    size_param: str
    default_size: int
    max_size: int
    key_name: str
    invalid: Callable[[str], Exception]

    def encode_cursor(self, since: datetime, key: PageKey) -> str:
        fields = {"s": stamp(since), "u": stamp(key[0]), self.key_name: key[1]}
        text = json.dumps(fields, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def page_query(self, request: Request) -> PageQuery:
        """The watermark, the key the page starts after (None: the first page) and its size."""
        allowed = {self.since_param, self.size_param, "cursor"}
        unknown = sorted(set(request.query) - allowed)
        if unknown:
            raise self.invalid(f"unknown query parameters: {', '.join(unknown)}")
        if any(len(values) > 1 for values in request.query.values()):
            raise self.invalid("a query parameter is repeated")
        try:
            since = parse_timestamp(request.query_value(self.since_param), self.since_param)
        except ValueError as exc:
            raise self.invalid(str(exc)) from None
        size = self._size(request.query_value(self.size_param))
        cursor = request.query_value("cursor")
        return since, (self._decode_cursor(cursor, since) if cursor is not None else None), size

    def _size(self, text: str | None) -> int:
        if text is None:
            return self.default_size
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= self.max_size:
            raise self.invalid(f"{self.size_param} must be an integer from 1 to {self.max_size}")
        return int(text)

    def _decode_cursor(self, cursor: str, since: datetime) -> PageKey:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            fields = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            made_for = parse_timestamp(fields["s"], "cursor")
            key = (parse_timestamp(fields["u"], "cursor"), fields[self.key_name])
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
            raise self.invalid("cursor is not one this API gave") from None
        if made_for != since or not isinstance(key[1], str):
            raise self.invalid(f"cursor was made for another {self.since_param}")
        return key
