"""JSON helpers that keep money exact, for every simulator.

Providers send and expect amounts as JSON numbers (Monoova ``100.00``). Going through ``float``
would turn ``0.1 + 0.2`` into ``0.30000000000000004`` and ``100.00`` into ``100.0``, so request
bodies are parsed with ``parse_float=Decimal`` and :func:`dumps` writes a ``Decimal`` as its
exact decimal text (``Decimal("100.00")`` -> ``100.00``), never in exponent form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: str | bytes) -> Any:
    """Parse JSON with every non-integer number as ``Decimal``; NaN/Infinity are rejected."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} cannot be represented in JSON")
    return format(value, "f")


def _scalar(value: Any) -> str | None:
    """JSON text of a scalar, or None when ``value`` is a container (or unsupported)."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    return None


def _encode(value: Any, out: list[str]) -> None:
    text = _scalar(value)
    if text is not None:
        out.append(text)
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """Serialise to compact JSON; ``Decimal`` values keep their exact text."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)
