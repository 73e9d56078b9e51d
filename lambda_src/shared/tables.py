"""Declarations of DynamoDB table shapes, written once.

The CDK constructs, the moto fixtures of the tests and the local runner all build
their tables from these objects, so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

KeyType = Literal["S", "N", "B"]
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: Key
    sort_key: Key | None = None
    projection: Projection = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """Shape of one table; `logical_name` is the stable id used in construct ids."""

    logical_name: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: StreamView | None = None
    env_var: str = field(default="")

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.partition_key.name, "KeyType": "HASH"}]
        if self.sort_key:
            schema.append({"AttributeName": self.sort_key.name, "KeyType": "RANGE"})
        return schema

    def attribute_definitions(self) -> list[dict[str, str]]:
        keys: dict[str, str] = {}
        for key in self._all_keys():
            keys[key.name] = key.type
        return [{"AttributeName": n, "AttributeType": t} for n, t in keys.items()]

    def _all_keys(self) -> list[Key]:
        keys = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        for index in self.indexes:
            keys.append(index.partition_key)
            if index.sort_key:
                keys.append(index.sort_key)
        return keys

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3 `create_table` (moto and the local runner)."""
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": self.key_schema(),
            "AttributeDefinitions": self.attribute_definitions(),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [_index_kwargs(i) for i in self.indexes]
        if self.stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream}
        return kwargs


def _index_kwargs(index: Index) -> dict[str, Any]:
    schema = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
    if index.sort_key:
        schema.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.projection == "INCLUDE":
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {"IndexName": index.name, "KeySchema": schema, "Projection": projection}
