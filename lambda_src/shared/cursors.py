"""Pagination cursors: a page's last key, opaque to callers and checked when it comes back.

A cursor names the owner it was issued for (`scope`): one customer's or loan's cursor never
starts another's page, and a cursor that is not exactly what we issued is a `BadCursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    """A pagination cursor that this service did not issue for this owner."""


def encode(last_key: dict[str, Any], keys: tuple[str, ...]) -> str:
    text = json.dumps({k: last_key[k] for k in keys}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(
    cursor: str, keys: tuple[str, ...], scope: tuple[str, str], owner: str
) -> dict[str, str]:
    """The last key in `cursor`, whose `scope[0]` attribute must equal `scope[1]`; `owner`
    names what it is scoped to in the error ("customer", "loan")."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    name, value = scope
    if (
        not isinstance(key, dict)
        or set(key) != set(keys)
        or not all(isinstance(v, str) for v in key.values())
        or key[name] != value
    ):
        raise BadCursor(f"cursor is not valid for this {owner}")
    return key
