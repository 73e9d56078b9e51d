"""``GET /employees``'s query and its opaque cursor, as
:class:`simulators.common.paging.WatermarkPaging`: ``updated_since``, ``page_size`` (1 to 200,
default 100) and ``cursor`` (after an ``(updated_at, employee_id)``). A bad query or a cursor for
another watermark is 400 ``VALIDATION_FAILED``.
"""

from __future__ import annotations

from simulators.common.paging import WatermarkPaging
from simulators.hrms.shapes import invalid

__all__ = ["DEFAULT_PAGE_SIZE", "PAGE_MAX", "PAGING", "encode_cursor", "page_query"]

DEFAULT_PAGE_SIZE = 100
PAGE_MAX = 200
PAGING = WatermarkPaging("updated_since", "page_size", DEFAULT_PAGE_SIZE, PAGE_MAX, "e", invalid)
encode_cursor = PAGING.encode_cursor
page_query = PAGING.page_query
