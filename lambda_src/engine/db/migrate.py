"""Apply the engine's versioned SQL migrations to PostgreSQL.

A migration is a file `<version>_<name>.sql` in the migrations directory (`engine/migrations`
by default); the version is its leading digits, compared as a number, and must be unique. The
applied ones are recorded in `schema_migrations` with the SHA-256 of their text.

`apply_migrations` applies each pending file in version order, each in its own transaction
together with its `schema_migrations` row, so a failed file leaves nothing behind and the ones
before it stay applied. Every transaction first takes a transaction-scoped advisory lock
(`pg_advisory_xact_lock`), then re-reads `schema_migrations`: two deploys running at once
serialise, and each version is applied exactly once. A transaction-scoped lock is released by
COMMIT or ROLLBACK, so it cannot leak through RDS Proxy's connection pool or a crashed Lambda.

It refuses to run (`MigrationError`) when history no longer matches: an applied file whose text
changed, two files with one version, or a pending file older than the newest applied one. A
version recorded in the database with no file is tolerated (logged): that is the state while
CloudFormation rolls back to older code after a newer deploy migrated, and migrations are
forward-only. Checksums are taken over the text with CRLF normalised to LF, so a Windows
checkout does not look like edited history.

`migrate` is the schema migrator's whole run (the deploy's custom resource, the command line,
the local runner): the engine's migrations, then the data that is declared in code rather than
typed into a migration (the roles: engine.dal.pg.roles), under the same advisory lock.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq

from engine.dal.pg.roles import RolesSynced, sync_roles

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# A fixed key for pg_advisory_xact_lock: the first 8 bytes of sha256("engine.schema_migrations").
LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"engine.schema_migrations").digest()[:8], "big", signed=True
)

_FILE_NAME = re.compile(r"^(?P<version>[0-9]+)_(?P<name>[A-Za-z0-9_]+)\.sql$")

_CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The migrations cannot be applied safely; nothing further was applied."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    sql: bytes
    checksum: str

    @property
    def number(self) -> int:
        return int(self.version)


def checksum(sql: bytes) -> str:
    """SHA-256 (hex) of a migration's text, with CRLF line endings normalised to LF."""
    return hashlib.sha256(sql.replace(b"\r\n", b"\n")).hexdigest()


def load_migrations(directory: Path | str = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory`, in version order.

    Files not ending in `.sql` are ignored. A `.sql` file not named `<digits>_<name>.sql`, or
    two files with the same version (by number: `2_a.sql` and `0002_b.sql` clash), raise
    MigrationError.
    """
    root = Path(directory)
    if not root.is_dir():
        raise MigrationError(f"migrations directory {root} does not exist")
    migrations: list[Migration] = []
    for path in sorted(root.iterdir()):
        if path.suffix != ".sql" or not path.is_file():
            continue
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: a migration must be named <version>_<name>.sql, "
                "e.g. 0007_add_receipts.sql"
            )
        sql = path.read_bytes()
        migrations.append(
            Migration(
                version=match["version"],
                name=match["name"],
                path=path,
                sql=sql,
                checksum=checksum(sql),
            )
        )
    migrations.sort(key=lambda m: m.number)
    for before, after in itertools.pairwise(migrations):
        if after.number <= before.number:
            raise MigrationError(
                f"duplicate migration version {after.version}: "
                f"{before.path.name} and {after.path.name}; versions must strictly increase"
            )
    return migrations


def applied_migrations(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Version -> checksum of every applied migration; empty if none ever ran."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {str(version): str(digest) for version, digest in rows}


def latest_version(conn: psycopg.Connection[Any]) -> str | None:
    """The highest applied version (by number), or None if none is applied."""
    versions = applied_migrations(conn)
    return max(versions, key=int) if versions else None


def pending_migrations(migrations: list[Migration], applied: dict[str, str]) -> list[Migration]:
    """The migrations still to apply, after checking the applied history against the files."""
    by_number = {int(version): (version, digest) for version, digest in applied.items()}
    for migration in migrations:
        recorded = by_number.get(migration.number)
        if recorded is not None and recorded[1] != migration.checksum:
            raise MigrationError(
                f"migration {migration.path.name} was changed after it was applied as version "
                f"{recorded[0]} (recorded sha256 {recorded[1]}, file sha256 "
                f"{migration.checksum}); never edit an applied migration, add a new one"
            )
    pending = [m for m in migrations if m.number not in by_number]
    if pending and by_number:
        newest = max(by_number)
        late = [m.path.name for m in pending if m.number < newest]
        if late:
            raise MigrationError(
                f"pending migration(s) {', '.join(late)} are older than the newest applied "
                f"version {by_number[newest][0]}; versions must strictly increase, so renumber "
                "them above it"
            )
    unknown = sorted(set(by_number) - {m.number for m in migrations})
    if unknown:
        logger.warning(
            "database has migrations with no file here (newer code migrated it?): %s",
            ", ".join(by_number[n][0] for n in unknown),
        )
    return pending


def apply_migrations(
    conn: psycopg.Connection[Any],
    directory: Path | str = MIGRATIONS_DIR,
    *,
    lock_timeout: str = "30s",
) -> list[str]:
    """Apply the pending migrations of `directory`; return the versions applied this time.

    `conn` must not be inside a transaction (autocommit or idle). Each migration runs in its
    own transaction under the advisory lock. Once the lock is held, `lock_timeout` bounds how
    long a migration's DDL waits for locks on busy tables, so a deploy fails instead of
    queueing every query behind it. Waiting for the advisory lock itself (another deploy
    migrating) is bounded only by the session's own lock_timeout.
    """
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise MigrationError("apply_migrations needs a connection that is not inside a transaction")
    migrations = load_migrations(directory)
    applied: list[str] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (lock_timeout,))
            conn.execute(_CREATE_TABLE)
            pending = pending_migrations(migrations, applied_migrations(conn))
            if not pending:
                break
            migration = pending[0]
            _apply_one(conn, migration)
        applied.append(migration.version)
        logger.info("applied migration %s (%s)", migration.version, migration.path.name)
    return applied


def migrate(conn: psycopg.Connection[Any], *, lock_timeout: str = "30s") -> list[str]:
    """Apply the engine's pending migrations, then bring the roles table to the declaration;
    return the versions applied. `conn` is the admin (owner) role, not inside a transaction."""
    applied = apply_migrations(conn, MIGRATIONS_DIR, lock_timeout=lock_timeout)
    synced = sync_declared(conn)
    if synced.changed:
        logger.info("roles synced: written %s, emptied %s", synced.written, synced.emptied)
    return applied


def sync_declared(conn: psycopg.Connection[Any]) -> RolesSynced:
    """The declared roles written, in one transaction under the migrations' lock (two deploys
    at once take turns, and never sync against a schema still being migrated)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        return sync_roles(cur)


def _apply_one(conn: psycopg.Connection[Any], migration: Migration) -> None:
    try:
        conn.execute(migration.sql)
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration {migration.path.name} failed and was rolled back: {exc}"
        ) from exc
    if conn.info.transaction_status != pq.TransactionStatus.INTRANS:
        raise MigrationError(
            f"migration {migration.path.name} ended its own transaction (COMMIT or ROLLBACK in "
            "the file); what it committed stays, but it was not recorded as applied"
        )
    conn.execute(
        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
        (migration.version, migration.checksum),
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.db.migrate [DIRECTORY]`: migrate the database named by DATABASE_URL.

    The local counterpart of the deploy-time custom resource (make local, a developer's own
    database). Prints the versions it applied.
    """
    import argparse  # noqa: PLC0415 - only the command line needs it
    import os  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m engine.db.migrate", description=main.__doc__)
    parser.add_argument("directory", nargs="?", default=str(MIGRATIONS_DIR))
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        parser.error("set DATABASE_URL to the database to migrate")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        if Path(args.directory).resolve() == MIGRATIONS_DIR:
            applied = migrate(conn)
        else:  # another directory's schema need not have the engine's roles table
            applied = apply_migrations(conn, args.directory)
        latest = latest_version(conn)
    print(f"applied: {', '.join(applied) or 'nothing'}; latest: {latest or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
