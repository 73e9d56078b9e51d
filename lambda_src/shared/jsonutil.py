"""JSON that keeps money exact: numbers are read as Decimal and Decimals written as numbers."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any


class InvalidJson(ValueError):
    """The text is not a JSON document we read: malformed, NaN/Infinity (money never is),
    nested deeper than the parser recurses, or an integer longer than Python converts."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a valid JSON number")


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError as exc:  # e.g. 100,000 nested arrays: a 400, never a 500
        raise InvalidJson("the document is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int over 4,300 digits
        raise InvalidJson(str(exc)[:200]) from exc


def _mark_decimals(value: Any, marks: list[str], nonce: str) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("NaN and Infinity are not JSON numbers")
        marks.append(format(value, "f"))
        return f"{nonce}{len(marks) - 1}"
    if isinstance(value, dict):
        return {k: _mark_decimals(v, marks, nonce) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v, marks, nonce) for v in value]
    return value


def dumps_exact(value: Any) -> str:
    """Serialise with every Decimal as a bare JSON number, exactly as written (never via float).

    Each Decimal is swapped for a placeholder carrying a fresh random nonce, so no string in
    the data can be mistaken for one.
    """
    marks: list[str] = []
    nonce = "dec" + uuid.uuid4().hex + ":"
    text = json.dumps(
        _mark_decimals(value, marks, nonce), separators=(",", ":"), ensure_ascii=False
    )
    return re.sub(f'"{nonce}([0-9]+)"', lambda m: marks[int(m.group(1))], text)


def dumps(value: Any) -> str:
    """Serialise for API responses: Decimals become strings ("100.00")."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
