"""The schema migrator's connection retries with backoff within its deadline (issue 11 #6).

Against a port that refuses (nothing listens) and against a real PostgreSQL that starts
answering only after a few refused attempts, through a TCP relay opened late.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from engine.db import connection
from engine.handlers import migrate as handler


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_refusing_port_is_retried_with_growing_backoff_until_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://x@127.0.0.1:{_free_port()}/none")
    clock = FakeClock()
    attempts: list[int] = []

    def attempt(application: str, timeout: int) -> psycopg.Connection[Any]:
        attempts.append(timeout)
        return connection.connect(application, timeout)  # really refused, at once

    with pytest.raises(psycopg.OperationalError):
        connection.connect_with_retry(
            "test", deadline_seconds=60, attempt=attempt, sleep=clock.sleep, clock=clock
        )
    assert len(attempts) == len(clock.sleeps) + 1 >= 5
    # Each wait is drawn from the upper half of a doubling delay, capped at 15 s.
    for number, wait in enumerate(clock.sleeps):
        ceiling = min(connection.FIRST_RETRY_DELAY_SECONDS * 2**number, 15.0)
        assert ceiling / 2 <= wait <= ceiling
    assert clock.now <= 60  # it never sleeps past the deadline
    assert all(2 <= timeout <= 10 for timeout in attempts)


def test_errors_that_are_not_the_connections_are_not_retried() -> None:
    calls = []

    def attempt(application: str, timeout: int) -> psycopg.Connection[Any]:
        calls.append(application)
        raise KeyError("DB_PROXY_ENDPOINT")

    with pytest.raises(KeyError):
        connection.connect_with_retry("test", deadline_seconds=60, attempt=attempt)
    assert calls == ["test"]


@pytest.fixture
def late_relay(database: str) -> Iterator[tuple[str, threading.Event]]:
    """A URL to a port that refuses until the event is set, then relays to `database`."""
    target = urlsplit(database)
    port = _free_port()
    opened = threading.Event()
    stop = threading.Event()
    relay_url = urlunsplit(
        target._replace(
            netloc=target.netloc.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{port}")
        )
    )

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        opened.wait()
        with closing(socket.create_server(("127.0.0.1", port))) as server:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection((target.hostname, target.port))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield relay_url, opened
    opened.set()
    stop.set()
    thread.join(timeout=5)


def test_the_migrator_connects_once_the_database_starts_answering(
    late_relay: tuple[str, threading.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, opened = late_relay
    monkeypatch.setenv("DATABASE_URL", url)
    refused: list[str] = []

    def attempt(application: str, timeout: int) -> psycopg.Connection[Any]:
        try:
            return connection.connect(application, timeout)
        except psycopg.OperationalError:
            refused.append(application)
            if len(refused) == 3:
                opened.set()  # the database comes up after the third refusal
            raise

    monkeypatch.setattr(connection, "FIRST_RETRY_DELAY_SECONDS", 0.2)
    monkeypatch.setattr(
        handler.connection,
        "connect_with_retry",
        lambda application, **kwargs: _real_retry(application, attempt=attempt, **kwargs),
    )
    result = handler.handle({"RequestType": "Create"})
    assert len(refused) == 3
    assert result["Data"]["Latest"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 0


_real_retry = connection.connect_with_retry


def test_the_migrator_gives_up_within_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://x@127.0.0.1:{_free_port()}/none")
    clock = FakeClock()
    monkeypatch.setattr(
        handler.connection,
        "connect_with_retry",
        lambda application, **kwargs: _real_retry(
            application, sleep=clock.sleep, clock=clock, **kwargs
        ),
    )
    with pytest.raises(psycopg.OperationalError):
        handler.handle({"RequestType": "Create"})
    # Retried for most of the 180 s it may spend connecting, never past it: the function's
    # 300 s leave room for the migrations and the answer to CloudFormation.
    assert handler.CONNECT_DEADLINE_SECONDS - 30 < clock.now <= handler.CONNECT_DEADLINE_SECONDS
