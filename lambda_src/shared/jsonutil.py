"""JSON that keeps money exact: numbers are read as Decimal and Decimals written as numbers."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


class InvalidJson(ValueError):
    """The text is not a JSON document (or holds NaN/Infinity, which money never is)."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a valid JSON number")


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidJson(str(exc)) from exc


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


def dumps_exact(value: Any) -> str:
    """Serialise with every Decimal as a bare JSON number, exactly as written (never via float)."""
    text = json.dumps(_mark_decimals(value), separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text)


def dumps(value: Any) -> str:
    """Serialise for API responses: Decimals become strings ("100.00")."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
