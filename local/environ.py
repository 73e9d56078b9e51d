"""Each function its own environment variables, in one process, as each Lambda has its own.

The systems reuse variable names (payouts and the engine both read TRANSACTIONS_TABLE,
IDEMPOTENCY_TABLE, POWERTOOLS_SERVICE_NAME, ...), so one process-wide environment cannot
serve both. `install()` puts a mapping in place of `os.environ` (and so of `os.getenv`) that
reads a per-thread overlay first: `scoped(env)` sets it for the block that invokes a
function, and the function sees its own values while another thread runs another system's.
Writes inside a scope stay in the overlay (a handler cannot leak a variable to another).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any


class ScopedEnviron(MutableMapping[str, str]):
    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, str] | None:
        overlay: dict[str, str] | None = getattr(self._local, "overlay", None)
        return overlay

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            return overlay[key]
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if overlay is None:
            self.base[key] = value
        else:
            overlay[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is None:
            del self.base[key]
        else:
            overlay.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay() or {}
        yield from overlay
        yield from (k for k in self.base if k not in overlay)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)

    def __or__(self, other: Any) -> dict[str, str]:
        return {**self, **dict(other)}

    @contextmanager
    def scoped(self, env: Mapping[str, str]) -> Iterator[None]:
        previous = self._overlay()
        self._local.overlay = {**(previous or {}), **env}
        try:
            yield
        finally:
            self._local.overlay = previous


_installed: ScopedEnviron | None = None


def install() -> ScopedEnviron:
    global _installed  # noqa: PLW0603 - one replacement of os.environ per process
    if _installed is None:
        _installed = ScopedEnviron(os.environ)
        os.environ = _installed  # type: ignore[assignment]  # noqa: B003 - replaced, not cleared
    return _installed


def uninstall() -> None:
    """Put the process's own mapping back (tests that installed it)."""
    global _installed  # noqa: PLW0603
    if _installed is not None:
        os.environ = _installed.base  # type: ignore[assignment]  # noqa: B003
        _installed = None


@contextmanager
def scoped(env: Mapping[str, str]) -> Iterator[None]:
    """Run the block with `env` over the process environment (this thread only)."""
    with install().scoped(env):
        yield
