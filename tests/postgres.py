"""A real PostgreSQL server for tests, and fresh databases on it.

`server()` picks, once per process:

1. `DATABASE_URL`, when set: a server you run (the URL must be allowed to CREATE DATABASE).
2. A server already answering on `TEST_PG_HOST`:`TEST_PG_PORT` (default 127.0.0.1:5432) as
   `TEST_PG_USER` (default postgres), database postgres.
3. Otherwise a private server started here: `initdb` and `pg_ctl` from `PG_BIN` (default
   /usr/lib/postgresql/15/bin, else whatever is on PATH) in a temporary directory, on a free
   port on 127.0.0.1, with fsync off. initdb refuses to run as root, so as root both run as the
   `postgres` OS user (runuser), which owns the directory. It is stopped and removed when the
   test session ends (`stop_server()`, also registered with atexit).

Switches to exercise the self-start path: `TEST_PG_START=1` skips 1 and 2 and always starts a
private server; or leave DATABASE_URL unset and point `TEST_PG_PORT` at a port nothing listens
on. For example:

    env -u DATABASE_URL TEST_PG_START=1 .venv/bin/python -m pytest tests/db

`create_database()` makes a uniquely named empty database (from template0) and returns its
URL; `drop_database()` drops it WITH (FORCE), ending any session still connected to it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
PROBE_TIMEOUT_SECONDS = 2
START_TIMEOUT_SECONDS = 60


@dataclass
class Server:
    """A PostgreSQL server reachable with `admin_url` (a role that may create databases)."""

    admin_url: str
    source: str  # "DATABASE_URL", "local", or "started"
    data_dir: Path | None = None
    pg_bin: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop and remove a server started here; a no-op for one that was already running."""
        if self.data_dir is None or self._stopped:
            return
        self._stopped = True
        assert self.pg_bin is not None
        _run_as_postgres(
            [
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.data_dir / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            cwd=self.data_dir,
            check=False,
        )
        shutil.rmtree(self.data_dir, ignore_errors=True)


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
        if _answers(local):
            return Server(admin_url=local, source="local")
    return start_server()


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def pg_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl: `PG_BIN`, the Debian PostgreSQL 15 one, or PATH."""
    configured = Path(os.environ.get("PG_BIN", DEFAULT_PG_BIN))
    if (configured / "initdb").exists():
        return configured
    found = shutil.which("initdb")
    if found is None:
        raise RuntimeError(
            f"no PostgreSQL server binaries: none in {configured} and no initdb on PATH; "
            "set PG_BIN, DATABASE_URL, or install postgresql"
        )
    return Path(found).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_root() -> bool:
    return os.geteuid() == 0


def _runuser() -> str:
    """runuser lives in /usr/sbin, which a clean shell's PATH (`env -i`) may not include."""
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None
    )
    if found is None:
        raise RuntimeError(
            "runuser not found: run the tests as a non-root user or install util-linux"
        )
    return found


def _run_as_postgres(
    args: list[str], *, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [_runuser(), "-u", "postgres", "--", *args] if _as_root() else args
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def start_server() -> Server:
    """Start a private server (initdb + pg_ctl, as the postgres OS user when root).

    The caller owns it: `stop()` stops it and deletes its directory (also done at exit).
    """
    pg_bin = pg_bin_dir()
    base = Path(tempfile.mkdtemp(prefix="engine-pg-"))
    if _as_root():
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    user = "postgres" if _as_root() else pwd.getpwuid(os.geteuid()).pw_name
    port = _free_port()
    started = Server(
        admin_url=f"postgresql://{quote(user, safe='')}@127.0.0.1:{port}/postgres",
        source="started",
        data_dir=base,
        pg_bin=pg_bin,
    )
    try:
        _run_as_postgres(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(base / "data"),
                "-U",
                user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=base,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run_as_postgres(
            [
                str(pg_bin / "pg_ctl"),
                "-D",
                str(base / "data"),
                "-l",
                str(base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "start",
            ],
            cwd=base,
        )
    except Exception:
        log = base / "server.log"
        detail = log.read_text(errors="replace") if log.exists() else ""
        with contextlib.suppress(Exception):
            started.stop()
        if detail:
            raise RuntimeError(f"PostgreSQL did not start; its log:\n{detail}") from None
        raise
    atexit.register(started.stop)
    if not _answers(started.admin_url):
        started.stop()
        raise RuntimeError(f"started PostgreSQL on port {port}, but it does not answer")
    return started
