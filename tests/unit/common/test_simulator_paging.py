"""simulators.common.paging: the watermark cursor and page query of the HRMS and LMS simulators."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from simulators.common.http import Request
from simulators.common.paging import PageQuery, WatermarkPaging


class Refused(Exception):
    pass


PAGING = WatermarkPaging(
    "since", "size", default_size=10, max_size=50, key_name="k", invalid=Refused
)
OTHER_KEY = WatermarkPaging(
    "since", "size", default_size=10, max_size=50, key_name="x", invalid=Refused
)
SINCE = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
SINCE_TEXT = "2026-03-01T09:30:00.123456Z"
KEY = (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), "ID-7")


def query(paging: WatermarkPaging = PAGING, **params: str) -> PageQuery:
    return paging.page_query(Request.parse("GET", f"/items?{urlencode(params)}", {}, b""))


def test_a_cursor_round_trips_to_the_key_it_was_made_after() -> None:
    cursor = PAGING.encode_cursor(SINCE, KEY)

    assert query(since=SINCE_TEXT, cursor=cursor) == (SINCE, KEY, 10)


def test_the_same_watermark_in_another_zone_accepts_the_cursor() -> None:
    cursor = PAGING.encode_cursor(SINCE, KEY)

    assert query(since="2026-03-01T15:00:00.123456+05:30", cursor=cursor)[1] == KEY


def test_a_cursor_for_another_watermark_is_refused() -> None:
    cursor = PAGING.encode_cursor(SINCE, KEY)

    with pytest.raises(Refused, match=r"^cursor was made for another since$"):
        query(since="2026-03-01T09:30:01Z", cursor=cursor)


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", OTHER_KEY.encode_cursor(SINCE, KEY)])
def test_a_cursor_this_paging_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(Refused, match=r"^cursor is not one this API gave$"):
        query(since=SINCE_TEXT, cursor=cursor)


@pytest.mark.parametrize("size", ["0", "51", "-1", "1.5", "ten", "\uff15"])
def test_a_size_outside_one_to_the_maximum_is_refused(size: str) -> None:
    with pytest.raises(Refused, match=r"^size must be an integer from 1 to 50$"):
        query(since=SINCE_TEXT, size=size)


@pytest.mark.parametrize(("size", "expected"), [("1", 1), ("50", 50)])
def test_sizes_at_the_bounds_are_accepted(size: str, expected: int) -> None:
    assert query(since=SINCE_TEXT, size=size) == (SINCE, None, expected)


def test_the_watermark_is_required_and_other_parameters_refused() -> None:
    with pytest.raises(Refused, match=r"^since must be an RFC 3339 date-time with a zone$"):
        query()
    with pytest.raises(Refused, match=r"^unknown query parameters: limit$"):
        query(since=SINCE_TEXT, limit="5")
