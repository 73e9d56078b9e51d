"""The engine's migrated, seeded databases (tests/engine_pg.py) for the db suite."""

from tests.engine_pg import engine_db, engine_pg_template  # noqa: F401
