"""The wire timestamps and dates every simulator of ours uses, written once.

Timestamps are aware datetimes inside and RFC 3339 UTC with microseconds
(``2026-12-03T10:15:00.000000Z``) on the wire, so they sort as they compare. The parsers raise
``ValueError`` naming the field; each simulator turns that into its own error answer.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["parse_date", "parse_timestamp", "stamp"]

_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: Any, name: str) -> datetime:
    """RFC 3339 with a zone (``Z`` or an offset): ValueError otherwise."""
    match = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{name} must be an RFC 3339 date-time with a zone")
    day, time_of_day, fraction, zone = match.groups()
    fraction = f".{(fraction or '0')[:6]:0<6}"
    zone = "+00:00" if zone.upper() == "Z" else zone
    try:
        return datetime.fromisoformat(f"{day}T{time_of_day}{fraction}{zone}").astimezone(UTC)
    except ValueError:
        raise ValueError(f"{name} is not a real date and time") from None


def parse_date(value: Any, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be a date (YYYY-MM-DD) or null")
