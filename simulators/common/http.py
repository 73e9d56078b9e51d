"""The HTTP side every simulator shares: a threaded localhost server, its requests and replies.

A simulator subclasses :class:`HttpSimulator` and implements :meth:`HttpSimulator.handle`, which
turns one parsed :class:`Request` into a :class:`Reply`. The server answers with the reply's JSON
after holding it ``hold`` seconds (cut short by :meth:`HttpSimulator.stop`), or, with ``drop``,
closes the connection without answering, as a provider that accepted a request and then died
would. Request logging is off: a simulator keeps its own log of what it was sent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from simulators.common.jsonutil import dumps, loads

__all__ = ["ADMIN_PREFIX", "HttpSimulator", "Reply", "Request", "SimulatorServer"]

ADMIN_PREFIX = "/_simulator/"
# A burst of concurrent clients (20 identical creates, a load run) must queue, not be refused.
LISTEN_BACKLOG = 128


@dataclass
class Reply:
    status: int
    payload: Any
    hold: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class Request:
    """One request; ``headers`` never holds ``Authorization`` (so logs cannot leak it)."""

    method: str
    path: str
    route: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    authorization: str | None
    raw: bytes
    started: float
    body: Any = None

    @classmethod
    def parse(cls, method: str, path: str, headers: dict[str, str], raw: bytes) -> Self:
        url = urlsplit(path)
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            method=method,
            path=path,
            route=url.path,
            query=parse_qs(url.query),
            headers={k: v for k, v in headers.items() if k.lower() != "authorization"},
            authorization=lowered.get("authorization"),
            raw=raw,
            started=time.monotonic(),
        )

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def query_value(self, name: str) -> str | None:
        return next(iter(self.query.get(name, [])), None)

    def logged_body(self) -> Any:
        """The body as a log shows it: parsed JSON, else the text (invalid bytes replaced)."""
        if self.body is not None or not self.raw:
            return self.body
        try:
            return loads(self.raw)
        except ValueError:  # UnicodeDecodeError included
            return self.raw.decode("utf-8", errors="replace")

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    simulator: HttpSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that gave up (read timeout) closes the socket; that is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_and_handle(self) -> Reply:
        simulator = self.server.simulator
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return Reply(400, {"error": "invalid Content-Length"})
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            return simulator.handle(self.command, self.path, dict(self.headers.items()), raw)
        except Exception as exc:  # a simulator bug: surface it to the caller, keep serving
            return simulator.crash_reply(exc)

    def _serve(self) -> None:
        reply = self._read_and_handle()
        if reply.hold > 0:
            self.server.simulator.stopped.wait(reply.hold)
        if reply.drop:
            self.close_connection = True
            return
        data = dumps(reply.payload).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve


class HttpSimulator:
    """A provider simulator on a real HTTP server in a daemon thread (127.0.0.1 by default)."""

    thread_name = "simulator"
    server_version = "Simulator/1.0"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.stopped = threading.Event()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        raise NotImplementedError

    def crash_reply(self, exc: Exception) -> Reply:
        """The answer when :meth:`handle` raised (a simulator bug), in the provider's shape."""
        return Reply(500, {"error": repr(exc)})

    def start(self) -> str:
        """Start listening; returns the base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self.stopped.clear()
        handler = type("Handler", (_Handler,), {"server_version": self.server_version})
        server = SimulatorServer((self.host, self.port), handler)
        server.simulator = self
        self._server = server
        host, port = server.server_address[:2]
        self.port = int(port)
        self._base_url = f"http://{host!s}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        """Stop listening; pending holds, scheduled events and webhook retries are abandoned."""
        self.stopped.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str | None:
        return self._base_url
