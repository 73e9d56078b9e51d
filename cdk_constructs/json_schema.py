"""Turn a plain JSON Schema (draft-04, as declared next to the runtime models) into
the `apigateway.JsonSchema` struct, so the gateway validates exactly that schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_apigateway as apigateway

_VERSIONS = {
    "http://json-schema.org/draft-04/schema#": apigateway.JsonSchemaVersion.DRAFT4,
    "http://json-schema.org/draft-07/schema#": apigateway.JsonSchemaVersion.DRAFT7,
}
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_RENAMES = {"$schema": "schema", "$ref": "ref", "not": "not_"}


def to_json_schema(schema: Mapping[str, Any]) -> apigateway.JsonSchema:
    kwargs: dict[str, Any] = {}
    for key, value in schema.items():
        kwargs[_snake(_RENAMES.get(key, key))] = _convert(key, value)
    return apigateway.JsonSchema(**kwargs)


def _convert(key: str, value: Any) -> Any:
    if key == "$schema":
        return _VERSIONS[value]
    if key == "type":
        return [_type(v) for v in value] if isinstance(value, list) else _type(value)
    if key in _SCHEMA_MAPS:
        return {name: to_json_schema(sub) for name, sub in value.items()}
    if key in _SCHEMA_LISTS:
        return [to_json_schema(sub) for sub in value]
    if key in ("items", "additionalProperties", "additionalItems", "not"):
        return _maybe_schema(value)
    return value


def _maybe_schema(value: Any) -> Any:
    if isinstance(value, Mapping):
        return to_json_schema(value)
    if isinstance(value, list):
        return [to_json_schema(sub) for sub in value]
    return value


def _type(name: str) -> apigateway.JsonSchemaType:
    return apigateway.JsonSchemaType[name.upper()]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
