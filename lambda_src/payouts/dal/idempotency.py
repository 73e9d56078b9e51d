"""Idempotency records for API requests and dedupe markers for webhooks (one TTL table)."""

from __future__ import annotations

import hashlib
from typing import Any

from shared import ddb


def request_key(idempotency_key: str) -> str:
    return "payout#" + hashlib.sha256(idempotency_key.encode()).hexdigest()


def webhook_key(dedupe_id: str) -> str:
    return "webhook#" + dedupe_id


def fingerprint_hash(fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def get(self, record_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item({"id": record_id}), ConsistentRead=True
        )
        return ddb.from_item(response.get("Item"))

    def claim_op(self, record_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """Put that fails if the id was already claimed (by this request or a duplicate)."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": ddb.to_item({"id": record_id, **attributes}),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
