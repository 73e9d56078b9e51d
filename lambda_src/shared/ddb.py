"""DynamoDB attribute (de)serialisation with Decimal numbers."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    return _SERIALIZER.serialize(value)


def values(mapping: dict[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues from plain Python values."""
    return {k: _SERIALIZER.serialize(v) for k, v in mapping.items()}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
