"""Fixtures for the engine's PostgreSQL tests: a real server, a fresh database per test.

Which server is used (DATABASE_URL, the local one on 127.0.0.1:5432, or one started for the
session) and how to force each is described in tests/postgres.py. The terminal summary says
which one it was.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import postgres

_used: list[str] = []


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.Server]:
    server = postgres.server()
    _used.append(f"{server.source} ({postgres.describe(server.admin_url)})")
    yield server
    postgres.stop_server()


@pytest.fixture
def database(pg_server: postgres.Server) -> Iterator[str]:
    """The URL of a new, empty database of its own, dropped after the test."""
    url = postgres.create_database(pg_server.admin_url)
    yield url
    postgres.drop_database(pg_server.admin_url, url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _used:
        terminalreporter.write_line(f"engine database tests ran on PostgreSQL: {_used[0]}")
