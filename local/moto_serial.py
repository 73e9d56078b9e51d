"""Make moto's DynamoDB serialise requests, as DynamoDB does for conflicting writes.

moto applies TransactWriteItems by deep-copying the table, applying and, on a failed
condition, restoring the copy. Two threads doing that at once can restore over each other's
committed write, which real DynamoDB never does. One lock around each request restores the
isolation the code under test relies on; the callers still race to the conditions.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_LOCK = threading.RLock()
_ORIGINAL = DynamoHandler.call_action


def _serialised(self: DynamoHandler) -> Any:
    with _LOCK:
        return _ORIGINAL(self)


def install() -> None:
    DynamoHandler.call_action = _serialised  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoHandler.call_action = _ORIGINAL  # type: ignore[method-assign]
