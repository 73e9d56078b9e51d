"""What the payment handlers answer when our own stores are briefly unavailable.

A write that stayed conflicted or throttled through its retries (`Conflict`), or a database
that could not be reached, wrote nothing (or, for a commit whose outcome is unknown, wrote
something the next attempt will find): 503 with Retry-After, never a 500 that reads as "this
request is broken".
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from shared.http import ServiceUnavailable
from shared.store_errors import Conflict

RETRY_AFTER = {"Retry-After": "2"}


def _busy_errors() -> tuple[type[Exception], ...]:
    """The database's error only where the database is used: importing psycopg just to name
    an exception would cost the receipt function its cold-start budget."""
    db = sys.modules.get("engine.dal.pg.db")
    return (Conflict, db.DatabaseUnavailable) if db is not None else (Conflict,)


@contextmanager
def busy_as_503() -> Iterator[None]:
    try:
        yield
    except _busy_errors() as exc:
        raise ServiceUnavailable(
            "the service is busy; retry shortly (the same Idempotency-Key is safe)",
            headers=RETRY_AFTER,
        ) from exc
