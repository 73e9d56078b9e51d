"""The runner's windows on LMS posting (the engine's `/_local/lms/...` routes): the outbox's LMS
items with their transactions' receipt ids, and a reset of the LMS circuit breaker.

They read and write moto directly, as a person with console access would; the staff's own
view is the internal API's `/api/v1/lms/postings` routes once they are declared.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from engine.dal.ddb.queue import LMS_RECEIPT
from engine.models.status import PostingStatus
from engine.tables import COUNTERS, TRANSACTION_QUEUE, TRANSACTIONS
from engine.wiring_lms import BREAKER_NAME
from local.systems import RouteError
from shared import ddb

LIVE = (PostingStatus.PENDING.value, PostingStatus.IN_FLIGHT.value)
_FILTERS = ("status", "reference", "loan_account_number", "transaction_id")


def postings(
    dynamodb: Any, tables: Mapping[str, str], query: Mapping[str, list[str]]
) -> tuple[int, Any]:
    """Every LMS item's state (oldest first), `live` (PENDING or IN_FLIGHT) and the count
    per status; `?status=A,B`, `reference`, `loan_account_number`, `transaction_id` narrow
    the items listed (not the counts)."""
    wanted = {name: query[name][0] for name in _FILTERS if query.get(name)}
    statuses = set(wanted.pop("status", "").split(",")) - {""}
    unknown = statuses - {s.value for s in PostingStatus}
    if unknown:
        valid = ", ".join(s.value for s in PostingStatus)
        raise RouteError(400, "ValidationError", f"status is one or more of {valid}")
    items = sorted(
        _scan(dynamodb, tables[TRANSACTION_QUEUE.logical_name]),
        key=lambda i: (str(i.get("created_at", "")), str(i["queue_id"])),
    )
    counts = Counter(str(i.get("status")) for i in items)
    chosen = [i for i in items if _chosen(i, statuses, wanted)]
    receipts = _transaction_receipts(
        dynamodb, tables[TRANSACTIONS.logical_name], [str(i["transaction_id"]) for i in chosen]
    )
    now = int(time.time())
    return 200, {
        "live": sum(counts[s] for s in LIVE),
        "counts": dict(sorted(counts.items())),
        "items": [_view(i, receipts.get(str(i["transaction_id"])), now) for i in chosen],
    }


def reset_breaker(dynamodb: Any, tables: Mapping[str, str]) -> tuple[int, Any]:
    """Close the LMS circuit and forget its counts: every `lms#...` item of the Counters
    table (its state and its per-minute buckets; the receipt counters are left alone)."""
    table = tables[COUNTERS.logical_name]
    key = COUNTERS.partition_key.name
    cleared = 0
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "#k",
        "FilterExpression": "begins_with(#k, :prefix)",
        "ExpressionAttributeNames": {"#k": key},
        "ExpressionAttributeValues": {":prefix": {"S": f"{BREAKER_NAME}#"}},
    }
    for raw in _pages(dynamodb, request):
        dynamodb.delete_item(TableName=table, Key={key: raw[key]})
        cleared += 1
    return 200, {"breaker": "closed", "cleared": cleared}


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    request = {
        "TableName": table,
        "FilterExpression": "queue_type = :type",
        "ExpressionAttributeValues": {":type": {"S": LMS_RECEIPT}},
    }
    for raw in _pages(dynamodb, request):
        yield ddb.from_item(raw) or {}


def _pages(dynamodb: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    start: dict[str, Any] | None = None
    while True:
        page = dynamodb.scan(**request, **({"ExclusiveStartKey": start} if start else {}))
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _chosen(item: Mapping[str, Any], statuses: set[str], wanted: Mapping[str, str]) -> bool:
    if statuses and item.get("status") not in statuses:
        return False
    payload = item.get("payload") or {}
    fields = {
        "reference": payload.get("receipt_number"),
        "loan_account_number": payload.get("loan_account_number"),
        "transaction_id": item.get("transaction_id"),
    }
    return all(fields[name] == value for name, value in wanted.items())


def _transaction_receipts(dynamodb: Any, table: str, ids: list[str]) -> dict[str, str | None]:
    """transaction id -> its `lms_receipt_id` (None while it has none)."""
    found: dict[str, str | None] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 100):
        keys = [{"transaction_id": {"S": t}} for t in unique[start : start + 100]]
        request: dict[str, Any] = {
            table: {"Keys": keys, "ProjectionExpression": "transaction_id, lms_receipt_id"}
        }
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for raw in answer.get("Responses", {}).get(table, []):
                row = ddb.from_item(raw) or {}
                found[str(row["transaction_id"])] = row.get("lms_receipt_id")
            request = answer.get("UnprocessedKeys") or {}
    return found


def _view(item: Mapping[str, Any], transaction_receipt: str | None, now: int) -> dict[str, Any]:
    payload = item.get("payload") or {}
    due = item.get("retry_timestamp")
    return {
        "queue_id": item["queue_id"],
        "transaction_id": item.get("transaction_id"),
        "reference": payload.get("receipt_number"),
        "loan_account_number": payload.get("loan_account_number"),
        "amount": _plain(payload.get("amount")),
        "status": item.get("status"),
        "attempts": _plain(item.get("attempts", 0)),
        "in_doubt": bool(item.get("in_doubt", False)),
        "retry_timestamp": _plain(due),
        "due_in_seconds": int(due) - now if due is not None else None,
        "last_error": item.get("last_error"),
        "lms_receipt_id": item.get("lms_receipt_id"),
        "transaction_lms_receipt_id": transaction_receipt,
        "created_at": item.get("created_at"),
        "posted_at": item.get("posted_at"),
        "exception_at": item.get("exception_at"),
    }


def _plain(value: Any) -> Any:
    """DynamoDB numbers as JSON has them: whole ones as integers, amounts as their text."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent == 0 else str(value)
    return value
