"""Running a simulator in the foreground (``python -m simulators.<provider>``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from simulators.common.http import HttpSimulator

__all__ = ["serve_until_stopped"]


def serve_until_stopped(simulator: HttpSimulator, banner: Callable[[str], list[str]]) -> int:
    """Start, print ``banner(base_url)`` line by line, serve until SIGTERM or Ctrl-C; exit 0."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    base_url = simulator.start()
    for line in banner(base_url):
        print(line, flush=True)
    try:
        while not stopped.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0
