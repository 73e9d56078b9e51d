"""Fixtures of the portal payment tests: a migrated PostgreSQL per test (tests/engine_pg.py)
and the `portal` harness (support.py: moto, the RazorPay simulator, our webhook endpoint)."""

from tests.engine_pg import engine_db, engine_pg_template  # noqa: F401
from tests.integration.engine.payments.support import portal  # noqa: F401
