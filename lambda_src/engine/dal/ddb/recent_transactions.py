"""Transactions items by status and creation time, page by page, for the repair job.

A query of the StatusIndex per status over a window of `created_date` reads only the
window's items, so the cost of a run follows the recent payment volume, not the table's
size (a Scan, even filtered, reads and bills every item ever written). The index is
eventually consistent; the repair job leaves very recent changes to the stream anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared import ddb

STATUS_INDEX = "StatusIndex"
PAGE_SIZE = 500


def created_between(
    client: Any, table: str, status: str, since: str, until: str, *, page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Pages of the items in `status` created in [since, until] (ISO-8601 UTC strings)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#s = :s AND created_date BETWEEN :since AND :until",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": ddb.values({":s": status, ":since": since, ":until": until}),
        "Limit": page_size,
    }
    while True:
        response = client.query(**kwargs)
        yield [ddb.from_item(item) or {} for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
