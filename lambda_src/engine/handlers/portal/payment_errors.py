"""What the payment handlers answer when our own stores are briefly unavailable.

A write that stayed conflicted or throttled through its retries (`Conflict`), or a database
that could not be reached, wrote nothing (or, for a commit whose outcome is unknown, wrote
something the next attempt will find): 503 with Retry-After, never a 500 that reads as "this
request is broken".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.dal.pg.db import DatabaseUnavailable
from shared.http import ServiceUnavailable
from shared.store_errors import Conflict

RETRY_AFTER = {"Retry-After": "2"}


@contextmanager
def busy_as_503() -> Iterator[None]:
    try:
        yield
    except (Conflict, DatabaseUnavailable) as exc:
        raise ServiceUnavailable(
            "the service is busy; retry shortly (the same Idempotency-Key is safe)",
            headers=RETRY_AFTER,
        ) from exc
