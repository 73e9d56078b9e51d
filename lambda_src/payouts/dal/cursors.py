"""Pagination cursors for a customer's payouts: opaque to callers, checked when they return."""

from __future__ import annotations

from typing import Any

from shared import cursors
from shared.cursors import BadCursor

__all__ = ["BadCursor", "decode_cursor", "encode_cursor"]

_CURSOR_KEYS = ("transaction_id", "customer_id", "created_at")


def encode_cursor(last_key: dict[str, Any]) -> str:
    return cursors.encode(last_key, _CURSOR_KEYS)


def decode_cursor(cursor: str, customer_id: str) -> dict[str, str]:
    return cursors.decode(cursor, _CURSOR_KEYS, ("customer_id", customer_id), "customer")
