"""A real PostgreSQL server for tests, and fresh databases on it.

`server()` picks, once per process:

1. `DATABASE_URL`, when set: a server you run (the URL must be allowed to CREATE DATABASE).
2. A server already answering on `TEST_PG_HOST`:`TEST_PG_PORT` (default 127.0.0.1:5432) as
   `TEST_PG_USER` (default postgres), database postgres.
3. Otherwise a private server started here by local/postgres.py (the runner's too): `initdb`
   and `pg_ctl` from the machine's server binaries in a temporary directory, on a free port on
   127.0.0.1, with fsync off; as root they run as the `postgres` OS user. It is stopped and
   removed when the test session ends (`stop_server()`, also registered with atexit).

Switches to exercise the self-start path: `TEST_PG_START=1` skips 1 and 2 and always starts a
private server; or leave DATABASE_URL unset and point `TEST_PG_PORT` at a port nothing listens
on. For example:

    env -u DATABASE_URL TEST_PG_START=1 .venv/bin/python -m pytest tests/db

`create_database()` makes a uniquely named empty database (from template0) and returns its
URL; `drop_database()` drops it WITH (FORCE), ending any session still connected to it.
"""

from __future__ import annotations

import os
import threading
import uuid
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from local.postgres import Server, answers, pg_bin_dir, start_server

__all__ = [
    "Server",
    "create_database",
    "describe",
    "drop_database",
    "pg_bin_dir",
    "server",
    "start_server",
    "stop_server",
    "with_dbname",
]

_lock = threading.Lock()
_server: Server | None = None


def server() -> Server:
    """The server for this process's tests, found or started on first use."""
    global _server  # noqa: PLW0603 - one server per process, shared by every test
    with _lock:
        if _server is None:
            _server = _find_or_start()
        return _server


def stop_server() -> None:
    """Stop the server if this process started it."""
    global _server  # noqa: PLW0603
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None


def create_database(admin_url: str, prefix: str = "engine_test") -> str:
    """Create a fresh, uniquely named database on the server of `admin_url`; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    return with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database `url` names, disconnecting whoever is still connected to it."""
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


def with_dbname(url: str, dbname: str) -> str:
    """`url` (a URL or a key=value conninfo) as a postgresql:// URL naming database `dbname`."""
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params.pop("dbname", None)
    user = params.pop("user", "")
    password = params.pop("password", "")
    host = params.pop("host", "")
    port = params.pop("port", "")
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    netloc = (f"{auth}@" if auth else "") + quote(host, safe="") + (f":{port}" if port else "")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{netloc}/{quote(dbname, safe='')}{query}"


def describe(url: str) -> str:
    """`host:port/dbname` of a URL, for messages: never its password."""
    params = conninfo_to_dict(url)
    return f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"


def _find_or_start() -> Server:
    force_start = os.environ.get("TEST_PG_START", "") not in ("", "0")
    url = os.environ.get("DATABASE_URL")
    if url and not force_start:
        return Server(admin_url=url, source="DATABASE_URL")
    if not force_start:
        host = os.environ.get("TEST_PG_HOST", "127.0.0.1")
        port = os.environ.get("TEST_PG_PORT", "5432")
        user = os.environ.get("TEST_PG_USER", "postgres")
        local = f"postgresql://{quote(user, safe='')}@{host}:{port}/postgres"
        if answers(local):
            return Server(admin_url=local, source="local")
    return start_server()
