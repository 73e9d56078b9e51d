"""Conditional DynamoDB writes with one policy: tell a failed condition from a conflict or a
throttle, retry what is retryable with bounded backoff, and answer in domain errors. The
transactional read (`transact_get`) follows the same policy.

A cancelled transaction names a reason per item. `ConditionalCheckFailed` is definite: that
item's condition is false, and retrying cannot change it. `TransactionConflict` (another
request is writing one of the items), throttling and capacity reasons say nothing about the
condition: the write is tried again, and after the last attempt it is a `Conflict`, never
read as "someone else already did it".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from shared import ddb
from shared.store_errors import ConditionFailed, Conflict

CONDITION_FAILED = "ConditionalCheckFailed"
RETRYABLE_REASONS = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
RETRYABLE_ERRORS = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


def _sleep(seconds: float) -> None:
    """Module-level so tests can make the backoff instant."""
    time.sleep(seconds)


@dataclass(frozen=True)
class Retry:
    """Attempts and backoff (base x 2^n, +-50% jitter): 4 attempts wait about 0.35 s in all."""

    attempts: int = 4
    base_seconds: float = 0.05
    rand: Callable[[], float] = field(default=random.random)

    def pause(self, attempt: int) -> None:
        _sleep(self.base_seconds * 2**attempt * (0.5 + self.rand()))


DEFAULT_RETRY = Retry()


class Cancelled(ConditionFailed):
    """A transaction whose item(s) at `failed` (indexes) had a false condition."""

    def __init__(self, failed: tuple[int, ...], items: list[dict[str, Any] | None]) -> None:
        super().__init__(f"condition failed on item(s) {list(failed)}", items[failed[0]])
        self.failed = failed
        self.items = items


def transact(client: Any, items: list[dict[str, Any]], retry: Retry = DEFAULT_RETRY) -> None:
    """One TransactWriteItems; raises `Cancelled` (a false condition) or `Conflict`."""
    for attempt in range(retry.attempts):
        try:
            client.transact_write_items(TransactItems=items)
            return
        except ClientError as exc:
            _raise_unless_retryable(exc)
        if attempt + 1 < retry.attempts:
            retry.pause(attempt)
    raise Conflict(f"transaction still conflicting after {retry.attempts} attempts")


def transact_get(
    client: Any, gets: list[dict[str, Any]], retry: Retry = DEFAULT_RETRY
) -> list[dict[str, Any] | None]:
    """One TransactGetItems of `gets` (`{"Get": {...}}` items, up to 100, any tables): each
    item as plain values, or None where there is none, read together and strongly consistent.

    IAM authorises it as a GetItem of each item. It is cancelled (never half-answered) while
    a transaction is writing one of the items, or when throttled: tried again, then `Conflict`.
    """
    for attempt in range(retry.attempts):
        try:
            responses = client.transact_get_items(TransactItems=gets)["Responses"]
            return [ddb.from_item(r.get("Item")) for r in responses]
        except ClientError as exc:
            _raise_unless_retryable(exc)
        if attempt + 1 < retry.attempts:
            retry.pause(attempt)
    raise Conflict(f"transactional read still conflicting after {retry.attempts} attempts")


def update(
    client: Any, request: dict[str, Any], retry: Retry = DEFAULT_RETRY
) -> dict[str, Any] | None:
    """One UpdateItem; raises `ConditionFailed` (with the current item) or `Conflict`.

    Returns the item's attributes as `ReturnValues` asked for (None when it asked for none).
    """
    for attempt in range(retry.attempts):
        try:
            response = client.update_item(**request) or {}
            return ddb.from_item(response.get("Attributes"))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                current = ddb.from_item(exc.response.get("Item"))
                raise ConditionFailed("condition failed", current) from exc
            if exc.response["Error"]["Code"] not in RETRYABLE_ERRORS:
                raise
        if attempt + 1 < retry.attempts:
            retry.pause(attempt)
    raise Conflict(f"update still conflicting after {retry.attempts} attempts")


def _raise_unless_retryable(exc: ClientError) -> None:
    code = exc.response["Error"]["Code"]
    if code != "TransactionCanceledException":
        if code in RETRYABLE_ERRORS:
            return
        raise exc
    reasons = exc.response.get("CancellationReasons") or []
    codes = [r.get("Code", "None") for r in reasons]
    failed = tuple(i for i, c in enumerate(codes) if c == CONDITION_FAILED)
    if failed:
        raise Cancelled(failed, [ddb.from_item(r.get("Item")) for r in reasons]) from exc
    if not any(c in RETRYABLE_REASONS for c in codes):
        raise exc  # e.g. ValidationError: a bug in the request, never worth retrying
