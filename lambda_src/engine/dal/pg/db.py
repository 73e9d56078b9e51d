"""The engine's one PostgreSQL connection per container, and its units of work.

A Lambda container serves one invocation at a time, so one connection, opened on first use
and kept across invocations, is all it needs: RDS Proxy pools behind it. The IAM token is only
a password, needed at connect. `engine.db.connection.connect` sets `prepare_threshold=None`,
because a named prepared statement pins the proxy's backend connection to this client for good.

Every unit of work is one transaction (`with conn.transaction()`), on an autocommit
connection, so nothing sits "idle in transaction" between invocations. A connection found
broken (the proxy dropped an idle client, the database failed over) is replaced once: `run`
retries its work on the new connection only when the break came before COMMIT was sent; a
break during COMMIT leaves the outcome unknown, and that is raised, never retried blind.

The timeouts (statement, idle in transaction) are settings of the `engine_app` role
(migration 0009), applied when the backend session starts: a session-level SET through RDS
Proxy would pin the client connection to one backend for its life. STATEMENT_TIMEOUT_MS > 0
still sends a SET at connect, for a server without the migration (a test, a one-off).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from engine.db import connection
from shared.store_errors import Unavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
Cursor = psycopg.Cursor[Any]
Connect = Callable[[], psycopg.Connection[Any]]
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnavailable(Unavailable):
    """The database could not be reached, or the connection broke and was not retried."""


class CommitOutcomeUnknown(DatabaseUnavailable):
    """The connection broke while COMMIT was in flight: the work may or may not be applied."""


def connect_engine(application: str, statement_timeout_ms: int) -> psycopg.Connection[Any]:
    """A connection as the engine's role (DB_USER, or DATABASE_URL's user when set)."""
    conn = connection.connect(application, timeout_seconds=CONNECT_TIMEOUT_SECONDS)
    if statement_timeout_ms > 0:
        conn.execute(
            sql.SQL("SET statement_timeout = {}").format(sql.Literal(int(statement_timeout_ms)))
        )
    return conn


class Database:
    """The connection, per thread: Lambda runs one thread, so one per container; where one
    process serves concurrent invocations (the local runner), two transactions never share
    a connection (psycopg would nest the second as a savepoint of the first)."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection[Any]] = []
        self.connects = 0  # how many connections this container opened (tests, bench)

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection, opened again if it is known to be closed or broken."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            self.close()
            try:
                conn = self._connect()
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(f"cannot connect: {type(exc).__name__}") from exc
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
                self.connects += 1
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            self._discard(conn)

    def close_all(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            if not conn.closed:
                conn.close()
        self._local = threading.local()

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        if not conn.closed:
            conn.close()

    @contextmanager
    def unit_of_work(self) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises.

        It is not retried (a `with` block cannot be run twice); a broken connection is
        replaced on the next call. Prefer `run` for work that can simply be run again.
        """
        conn = self.connection()
        try:
            with conn.transaction(), conn.cursor() as cursor:
                yield cursor
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if _is_broken(conn):
                self.close()
                raise DatabaseUnavailable(f"connection lost: {type(exc).__name__}") from exc
            raise

    def run(self, work: Callable[[Cursor], T]) -> T:
        """`work(cursor)` in one transaction; run once more on a fresh connection if the
        connection broke before COMMIT (nothing was applied, so running again is safe)."""
        for attempt in (1, 2):
            conn = self.connection()
            committing = False
            try:
                with conn.transaction():
                    with conn.cursor() as cursor:
                        result = work(cursor)
                    committing = True
                return result
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # A statement timeout or a serialisation failure leaves the connection
                # usable: those are the work's errors, not the connection's.
                if not _is_broken(conn):
                    raise
                self.close()
                name = type(exc).__name__
                if committing:
                    raise CommitOutcomeUnknown(f"connection lost during COMMIT: {name}") from exc
                if attempt == 2:
                    raise DatabaseUnavailable(f"connection lost twice: {name}") from exc
                logger.warning("database connection lost (%s); reconnecting once", name)
        raise AssertionError("unreachable")  # pragma: no cover


def _is_broken(conn: psycopg.Connection[Any]) -> bool:
    return conn.closed or conn.broken
