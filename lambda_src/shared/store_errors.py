"""What a store's write can answer besides success, in domain terms.

The data-access layer raises these and nothing else for a write that did not happen, so the
business logic never sees a boto3 error: it decides what a failed condition means for the
business; the store has already told a failed condition from a conflict or a throttle.
"""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """A write that did not happen."""


class AlreadyApplied(StoreError):
    """The write's claim exists already: an earlier request or delivery did this work."""


class AlreadyExists(StoreError):
    """A create-only write found its item there already; nothing was overwritten."""


class ConditionFailed(StoreError):
    """A condition of the write is false; `current` is the item as it stands, when known."""

    def __init__(self, message: str, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


class InsufficientBalance(ConditionFailed):
    """The conditional debit refused: the balance does not cover it (or the destination is off)."""


class Conflict(StoreError):
    """Still conflicting or throttled after the bounded retries: nothing was written."""


class Unavailable(StoreError):
    """The store could not be reached or the connection broke (a database down, failing
    over); subclasses say whether the work may have been applied."""
