"""A bounded, thread-safe log: a long local run keeps the newest entries, never all of them."""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import Any

__all__ = ["DEFAULT_LOG_LIMIT", "BoundedLog"]

DEFAULT_LOG_LIMIT = 10_000


class BoundedLog:
    """The newest ``limit`` entries, oldest first; ``evicted`` counts the ones pushed out."""

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self.evicted = 0

    @property
    def limit(self) -> int:
        return self._entries.maxlen or 0

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            if len(self._entries) == self.limit:
                self.evicted += 1
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """A deep copy, so a caller cannot change what the log holds."""
        with self._lock:
            return copy.deepcopy(list(self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.evicted = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
