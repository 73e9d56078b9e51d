"""Background work the cloud would trigger: schedules, stream and queue event sources."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Worker:
    name: str
    interval: float
    run: Callable[[], None]
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run()
            except Exception as exc:
                print(f"[{self.name}] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
