"""Request shapes, declared once: the gateway's model, the OpenAPI schema and the parser.

A `Shape` lists its fields (`Text` with a pattern, `Amount`); from that one declaration come
the JSON Schema draft-04 model API Gateway validates with (`gateway_model`), the OpenAPI 3.0
schema (`openapi_schema`) and the handler's parser (`parse`), which returns the typed request
or raises `InvalidRequest` with one `{field, issue}` per broken rule.

The gateway model carries every rule it can state exactly and never one it might get wrong,
so it never refuses what the parser accepts; the parser decides the rest. Two rules stay with
the parser: "at most 2 decimal places" for a JSON number (API Gateway's `multipleOf` is not
documented as exact decimal arithmetic, and 0.29 is not a multiple of 0.01 in binary floating
point), and "more than zero" for an amount written as a string (a pattern cannot compare).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from engine.models.errors import InvalidRequest, issue
from shared import jsonutil

T = TypeVar("T")
SCHEMA_DRAFT_04 = "http://json-schema.org/draft-04/schema#"

# `(?![\s\S])` is "end of input" in every engine that reads these patterns (Java in API
# Gateway, ECMA in the OpenAPI document, Python here); `$` also matches before a final newline
# in Java and Python, which would let "ABC123\n" past the gateway.
_END = r"(?![\s\S])"


def anchored(core: str) -> str:
    return f"^(?:{core}){_END}"


@dataclass(frozen=True)
class Text:
    """A string matching `pattern` in full (ASCII classes only: every engine reads them alike).

    `normalise` maps an accepted value to its canonical form (a +91 prefix dropped, say).
    """

    pattern: str
    description: str = ""
    example: str | None = None
    normalise: Callable[[str], str] | None = None

    def model(self) -> dict[str, Any]:
        return {"type": "string", "pattern": anchored(self.pattern)}

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if not re.fullmatch(self.pattern, value):
            raise ValueError(self.description or f"must match {self.pattern}")
        return self.normalise(value) if self.normalise else value


@dataclass(frozen=True)
class Amount:
    """Rupees as a JSON number or a decimal string: more than 0, at most `places` decimals
    as written, below 10^`integer_digits` (what numeric(15,2) holds). Parsed to Decimal."""

    places: int = 2
    integer_digits: int = 13
    description: str = "rupees, more than 0, at most 2 decimal places"
    example: str = "2500.00"

    def _string_core(self) -> str:
        return rf"[0-9]{{1,{self.integer_digits}}}(?:\.[0-9]{{1,{self.places}}})?"

    def model(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {
                    "type": "number",
                    "minimum": 0,
                    "exclusiveMinimum": True,
                    "maximum": 10**self.integer_digits,
                    "exclusiveMaximum": True,
                },
                {"type": "string", "pattern": anchored(self._string_core())},
            ]
        }

    def parse(self, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise ValueError("must be a number or a decimal string")
        if isinstance(value, str):
            if not re.fullmatch(self._string_core(), value):
                raise ValueError(f"must be a decimal string with at most {self.places} decimals")
            value = Decimal(value)
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError("must be a finite number")
        exponent = amount.as_tuple().exponent
        # Read off the digits as written: 10.005 has 3 places, 1E+2 none. A remainder would
        # overflow the decimal context on 1e400.
        if isinstance(exponent, int) and exponent < -self.places:
            raise ValueError(f"must have at most {self.places} decimal places")
        if amount <= 0:
            raise ValueError("must be more than 0")
        if amount.adjusted() >= self.integer_digits:
            raise ValueError(f"must be below 10^{self.integer_digits}")
        return amount.quantize(Decimal(1).scaleb(-self.places))


class Kind(Protocol):
    """A field's kind: Text and Amount here; a module may declare its own (engine.models.dcr
    counts banknotes) as long as its model never refuses what its parser accepts."""

    @property
    def description(self) -> str: ...

    @property
    def example(self) -> Any: ...

    def model(self) -> dict[str, Any]: ...

    def parse(self, value: Any) -> Any: ...


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = True


@dataclass(frozen=True)
class Shape(Generic[T]):
    """A JSON object of `fields` (no others), parsed into `into(**values)`."""

    title: str
    fields: tuple[Field, ...]
    into: Callable[..., T]
    description: str = ""
    _names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", frozenset(f.name for f in self.fields))

    def gateway_model(self) -> dict[str, Any]:
        """The draft-04 model for `Route.request_model` (API Gateway and the local runner)."""
        return {"$schema": SCHEMA_DRAFT_04, **self._schema(with_docs=False)}

    def openapi_schema(self) -> dict[str, Any]:
        return self._schema(with_docs=True)

    def _schema(self, *, with_docs: bool) -> dict[str, Any]:
        properties = {f.name: _property(f.kind, with_docs) for f in self.fields}
        schema: dict[str, Any] = {
            "title": self.title,
            "type": "object",
            "additionalProperties": False,
            "required": [f.name for f in self.fields if f.required],
            "properties": properties,
        }
        if with_docs and self.description:
            schema["description"] = self.description
        return schema

    def parse(self, raw: bytes | str) -> T:
        """The raw body (numbers read as Decimal, never float) as the typed request."""
        try:
            document = jsonutil.loads(raw or b"null")
        except jsonutil.InvalidJson:
            raise InvalidRequest(
                "the body is not valid JSON", [issue("body", "not valid JSON")]
            ) from None
        return self.parse_document(document)

    def parse_document(self, document: Any) -> T:
        if not isinstance(document, dict):
            raise InvalidRequest("the body must be a JSON object", [issue("body", "not an object")])
        problems = [issue(name, "unknown field") for name in sorted(document.keys() - self._names)]
        values: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in document:
                values[f.name] = None
                if f.required:
                    problems.append(issue(f.name, "required"))
                continue
            try:
                values[f.name] = f.kind.parse(document[f.name])
            except ValueError as exc:
                problems.append(issue(f.name, str(exc)))
        if problems:
            raise InvalidRequest("the request is not valid", problems)
        return self.into(**values)


def _property(kind: Kind, with_docs: bool) -> dict[str, Any]:
    schema = kind.model()
    if with_docs:
        if kind.description:
            schema["description"] = kind.description
        if kind.example is not None:
            schema["example"] = kind.example
    return schema
