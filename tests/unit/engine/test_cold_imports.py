"""What each engine handler imports on a cold start, so `make bench`'s import figures stay
honest both ways (engine.wiring, engine.wiring_payments; scripts/bench_engine.py times the
functions that read PostgreSQL on some routes only with psycopg as well).

* psycopg costs about half an `import boto3`. A function that never reads PostgreSQL, or
  reads it on some routes only, must not load it with its handler: the other routes would
  pay for it on every cold start.
* A function whose every invocation reads PostgreSQL loads it with its handler, as it loads
  what else its every invocation uses: importing it on first use instead would only move the
  cost out of the figure, not out of the cold start.

Which functions read PostgreSQL at all is what stacks/engine/access.py gives the database
(and the health and migration functions, which their own stacks grant it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.declarations import FUNCTIONS
from scripts.bench_engine import POSTGRES_SOME_ROUTES
from shared.declarations import FunctionSpec

ROOT = Path(__file__).resolve().parents[3]
# What every invocation of these uses, imported with the handler rather than on first use.
ALWAYS_LOADED = {
    "PortalSessions": ("engine.logic.sessions", "shared.secrets"),
    "PortalLoans": ("engine.logic.sessions", "shared.secrets"),
    "PortalPayments": ("engine.logic.sessions", "shared.secrets"),
    "PortalReceipts": ("engine.logic.sessions", "shared.secrets"),
    "RazorpayWebhook": ("engine.logic.webhooks", "engine.logic.settlement"),
    "RazorpayWebhookReplayer": ("engine.logic.webhooks", "engine.logic.settlement"),
    "PaymentSweeper": ("engine.logic.sweep", "engine.logic.settlement"),
}


@pytest.fixture(scope="module")
def reads_postgres() -> set[str]:
    from stacks.engine import access

    service = {spec.name for spec in access.service_functions()}
    given = {name for name, declared in access.ACCESS.items() if declared.database}
    return given | ({spec.name for spec in FUNCTIONS} - service)


def loaded_after_import(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda_src")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_psycopg_is_loaded_with_the_handler_only_where_every_invocation_needs_it(
    spec: FunctionSpec, reads_postgres: set[str]
) -> None:
    name = spec.name
    loaded = loaded_after_import(spec.handler.rsplit(".", 1)[0])
    if name in reads_postgres and name not in POSTGRES_SOME_ROUTES:
        assert "psycopg" in loaded, f"{name} reads PostgreSQL on every invocation"
    else:
        assert "psycopg" not in loaded, f"{name}'s handler imports psycopg"
    for module in ALWAYS_LOADED.get(name, ()):
        assert module in loaded, f"{name} uses {module} on every invocation"


def test_the_some_routes_functions_are_given_the_database(reads_postgres: set[str]) -> None:
    assert set(POSTGRES_SOME_ROUTES) <= reads_postgres
