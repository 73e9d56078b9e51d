"""tests/postgres.py itself: the self-started server works even when a local one is running.

The suite normally runs against DATABASE_URL or the local server, so this keeps the fallback
(initdb + pg_ctl as the postgres user) from rotting unnoticed. About a second.
"""

from __future__ import annotations

import psycopg
import pytest

from tests import postgres


def test_a_private_server_starts_serves_fresh_databases_and_stops() -> None:
    try:
        postgres.pg_bin_dir()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    server = postgres.start_server()
    try:
        assert server.source == "started"
        assert server.data_dir is not None
        first = postgres.create_database(server.admin_url)
        second = postgres.create_database(server.admin_url)
        assert first != second
        with psycopg.connect(first, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_here ()")
            fsync = conn.execute("SHOW fsync").fetchone()
        assert fsync == ("off",)
        with psycopg.connect(second) as conn:
            missing = conn.execute("SELECT to_regclass('only_here')").fetchone()
        assert missing == (None,)
        held = psycopg.connect(first)  # a test that forgot to close: DROP ... WITH (FORCE) wins
        postgres.drop_database(server.admin_url, first)
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
        held.close()
        postgres.drop_database(server.admin_url, second)
    finally:
        server.stop()
    assert not server.data_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.admin_url, connect_timeout=2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://postgres@127.0.0.1:5432/t_1",
        ),
        (
            "host=/var/run/postgresql port=5433 user=app password=p@ss dbname=x sslmode=disable",
            "postgresql://app:p%40ss@%2Fvar%2Frun%2Fpostgresql:5433/t_1?sslmode=disable",
        ),
    ],
)
def test_with_dbname_keeps_everything_but_the_database(url: str, expected: str) -> None:
    assert postgres.with_dbname(url, "t_1") == expected
    assert postgres.describe(expected) in {"127.0.0.1:5432/t_1", "/var/run/postgresql:5433/t_1"}
