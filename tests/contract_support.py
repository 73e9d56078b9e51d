"""What the contract tests share: an OpenAPI 3.0 document read as JSON Schema, and a urllib3
pool that records every exchange, so requests and answers can be checked against it.

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` becomes a type union with null, and ``$ref``s
to ``#/components/...`` resolve against the document's components.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import urllib3
import yaml

DOCS = Path(__file__).resolve().parents[1] / "docs"
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    # The pattern first: fromisoformat alone also takes 20261203 and 2026-W49-4.
    if not isinstance(value, str):
        return True
    if not _DATE.fullmatch(value):
        return False
    date.fromisoformat(value)
    return True


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects to JSON Schema: ``nullable: true`` admits null."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


class Contract:
    """One OpenAPI document (a file under docs/): its schemas as JSON Schema, its references."""

    def __init__(self, name: str) -> None:
        self.spec: dict[str, Any] = yaml.safe_load((DOCS / name).read_text())
        self._components = as_json_schema(self.spec["components"])

    def validate(self, instance: Any, schema: dict[str, Any]) -> None:
        """Raise jsonschema.ValidationError unless ``instance`` follows the OpenAPI ``schema``."""
        root = {"allOf": [as_json_schema(schema)], "components": self._components}
        jsonschema.Draft7Validator(root, format_checker=FORMATS).validate(instance)

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """A response, parameter or schema object, following a ``#/components/...`` reference."""
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    sent_headers: dict[str, str]
    status: int
    headers: dict[str, str]
    data: bytes
    by_client: bool


@dataclass
class RecordingPool:
    """A urllib3 pool that keeps every request and answer (the client's and the plain ones)."""

    pool: urllib3.PoolManager = field(
        default_factory=lambda: urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
    )
    exchanges: list[Exchange] = field(default_factory=list)
    by_client: bool = True

    def request(self, method: str, url: str, **options: Any) -> Any:
        answer = self.pool.request(method, url, **options)
        parts = urlsplit(url)
        self.exchanges.append(
            Exchange(
                method,
                parts.path,
                parse_qs(parts.query),
                dict(options.get("headers") or {}),
                answer.status,
                {name.lower(): value for name, value in answer.headers.items()},
                answer.data,
                self.by_client,
            )
        )
        return answer
