"""Pagination cursors for a customer's payouts: opaque to callers, checked when they return."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    """A pagination cursor that this service did not issue for this customer."""


_CURSOR_KEYS = ("transaction_id", "customer_id", "created_at")


def encode_cursor(last_key: dict[str, Any]) -> str:
    text = json.dumps({k: last_key[k] for k in _CURSOR_KEYS}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, customer_id: str) -> dict[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if (
        not isinstance(key, dict)
        or set(key) != set(_CURSOR_KEYS)
        or not all(isinstance(v, str) for v in key.values())
        or key["customer_id"] != customer_id
    ):
        raise BadCursor("cursor is not valid for this customer")
    return key
