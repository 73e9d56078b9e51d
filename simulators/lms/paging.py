"""``GET /api/v1/loans``'s query and its opaque cursor, as
:class:`simulators.common.paging.WatermarkPaging`: ``changed_since``, ``limit`` (1 to 500,
default 100) and ``cursor`` (after an ``(updated_at, loan_account_number)``). A bad query or a
cursor for another watermark is 400 ``VALIDATION_FAILED``.
"""

from __future__ import annotations

from simulators.common.paging import WatermarkPaging
from simulators.lms.shapes import invalid

__all__ = ["DEFAULT_LIMIT", "PAGE_MAX", "PAGING", "encode_cursor", "page_query"]

DEFAULT_LIMIT = 100
PAGE_MAX = 500
PAGING = WatermarkPaging("changed_since", "limit", DEFAULT_LIMIT, PAGE_MAX, "l", invalid)
encode_cursor = PAGING.encode_cursor
page_query = PAGING.page_query
