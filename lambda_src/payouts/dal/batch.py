"""One BatchGetItem across tables: the create path reads everything it needs in one call."""

from __future__ import annotations

from typing import Any

from shared import ddb

_MAX_ROUNDS = 5


def batch_get(
    client: Any, requests: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """`requests` maps table name to plain keys; returns table name to plain items found."""
    pending: dict[str, Any] = {
        table: {"Keys": [ddb.to_item(k) for k in keys], "ConsistentRead": True}
        for table, keys in requests.items()
        if keys
    }
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    for _ in range(_MAX_ROUNDS):
        if not pending:
            return found
        response = client.batch_get_item(RequestItems=pending)
        for table, items in response.get("Responses", {}).items():
            found[table].extend(ddb.from_item(i) or {} for i in items)
        pending = response.get("UnprocessedKeys") or {}
    raise RuntimeError("BatchGetItem left keys unprocessed after retries")
