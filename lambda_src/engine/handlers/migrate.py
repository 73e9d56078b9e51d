"""CloudFormation custom resource (CDK Provider framework) that migrates the engine's schema.

Create and Update apply the pending migrations of `engine/migrations`, then write the
declared roles into the roles table (engine.db.migrate.migrate), and answer
`{"PhysicalResourceId": "engine-schema", "Data": {"Applied": "0001,0002", "Latest": "0006"}}`
(`Applied` lists what this run applied, empty when nothing was pending; `Latest` is the
highest version the database has). Delete does nothing: removing the resource or the stack
never drops data, and the physical id never changes, so an Update is never a replacement.

In AWS it connects through RDS Proxy with IAM authentication: a token from
`generate_db_auth_token` is the password, over TLS (`sslmode=require`). Environment:
`DB_PROXY_ENDPOINT`, `DB_PORT` (default 5432), `DB_NAME`, `DB_USER`, and the `AWS_REGION` that
Lambda sets. `DATABASE_URL`, when set, is used instead of the proxy and the token; it exists
for local runs (`make local`) and tests, and is never set in AWS.

Connecting is retried with backoff for up to CONNECT_DEADLINE_SECONDS (`connect_with_retry`):
right after the first deploy creates it, RDS Proxy refuses until its target registers, and a
login can fail while Secrets Manager rotates the master secret. The stack also creates the
rotation schedule only after the schema, so the first migration never meets a rotation.

A CloudFormation custom resource only receives Update when its properties change, so the
stack should pass a property that changes with the migration files (e.g. their hash).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from engine.db import connection
from engine.db.migrate import latest_version, migrate
from engine.handlers import cfn_response

PHYSICAL_RESOURCE_ID = "engine-schema"
CONNECT_TIMEOUT_SECONDS = 10
# The function has 300 s: connecting may take up to 180 s of retries (a new proxy's target
# still registering, a login failing while the master secret rotates), leaving the rest
# for the migrations and the answer to CloudFormation.
CONNECT_DEADLINE_SECONDS = 180

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "engine"))

Connect = Callable[[], psycopg.Connection[Any]]


def connect() -> psycopg.Connection[Any]:
    if os.environ.get("DATABASE_URL"):
        logger.info("connecting with DATABASE_URL (local run)")
    else:
        logger.info(
            "connecting through RDS Proxy",
            extra={"host": os.environ.get("DB_PROXY_ENDPOINT"), "db": os.environ.get("DB_NAME")},
        )
    return connection.connect_with_retry(
        "engine-migrate",
        deadline_seconds=CONNECT_DEADLINE_SECONDS,
        attempt_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
    )


def handle(event: dict[str, Any], connect: Connect = connect) -> dict[str, Any]:
    """The custom resource's logic, with the connection factory injectable for tests."""
    request_type = event.get("RequestType")
    if request_type == "Delete":
        logger.info("delete: schema and data are kept")
        return {"PhysicalResourceId": PHYSICAL_RESOURCE_ID}
    if request_type not in ("Create", "Update"):
        raise ValueError(f"unknown RequestType {request_type!r}")
    with connect() as conn:
        versions = migrate(conn)
        latest = latest_version(conn) or ""
    logger.info(
        "migrations applied",
        extra={"request_type": request_type, "applied": versions, "latest": latest},
    )
    return {
        "PhysicalResourceId": PHYSICAL_RESOURCE_ID,
        "Data": {"Applied": ",".join(versions), "Latest": latest},
    }


@logger.inject_lambda_context(clear_state=True)
def on_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event)


@logger.inject_lambda_context(clear_state=True)
def on_cfn_event(event: dict[str, Any], context: LambdaContext) -> None:
    """The same, as the ServiceToken of a plain custom resource (no Provider framework and
    its extra function): the outcome is PUT to CloudFormation's pre-signed ResponseURL."""
    try:
        result = handle(event)
        status, reason = "SUCCESS", "migrations applied"
    except Exception as exc:
        logger.exception("migration failed")
        result = {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_RESOURCE_ID)}
        status, reason = "FAILED", f"{type(exc).__name__}: see {context.log_stream_name}"
    cfn_response.send(event, status, reason, result["PhysicalResourceId"], result.get("Data"))
