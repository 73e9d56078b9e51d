"""Make moto serialise requests, as the real services do for conflicting writes.

moto applies TransactWriteItems by deep-copying the table, applying and, on a failed
condition, restoring the copy. Two threads doing that at once can restore over each other's
committed write, which real DynamoDB never does. One lock around each request restores the
isolation the code under test relies on; the callers still race to the conditions.

The local runner also locks every other moto service, so that it can take a consistent
snapshot of all of moto's state (see local/state.py) while requests are being served.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.model_instances import reset_model_data
from moto.core.responses import BaseResponse
from moto.dynamodb.responses import DynamoHandler

_LOCK = threading.RLock()
_ORIGINAL = DynamoHandler.call_action
_ORIGINAL_BASE = BaseResponse.call_action


def _serialised(self: DynamoHandler) -> Any:
    with _LOCK:
        return _ORIGINAL(self)


def _serialised_base(self: BaseResponse) -> Any:
    with _LOCK:
        return _ORIGINAL_BASE(self)


def install(all_services: bool = False) -> None:
    DynamoHandler.call_action = _serialised  # type: ignore[method-assign]
    if all_services:
        BaseResponse.call_action = _serialised_base  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoHandler.call_action = _ORIGINAL  # type: ignore[method-assign]
    BaseResponse.call_action = _ORIGINAL_BASE  # type: ignore[method-assign]


@contextmanager
def paused() -> Iterator[None]:
    """No moto request runs while this is held."""
    with _LOCK:
        yield


def forget_model_instances() -> None:
    """Drop moto's record of every model object it ever made (kept for its server's
    dashboard, which the runner does not serve). Each TransactWriteItems deep-copies the
    tables it touches, and every copied item and table stayed referenced there: the runner
    grew by megabytes a payout. The live state is untouched."""
    with _LOCK:
        reset_model_data()
