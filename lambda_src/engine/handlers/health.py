"""GET /health for both engine APIs: what Route 53 failover health checks call.

200 when every dependency answers (DynamoDB: a read on the transactions table; PostgreSQL:
`SELECT 1` through RDS Proxy), else 503 naming the failed dependency (its error type only:
messages can carry host names). Each check has a short timeout so a hung dependency reads
as down rather than as a slow 200.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.config import Config

from engine.db import connection
from shared import aws
from shared.api import Reply, Request, Router

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "engine"))
router = Router(logger)
_FAST = Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})
_PROBE_KEY = "health-check-probe"


def dynamodb_ok() -> None:
    table = os.environ["HEALTH_TABLE"]
    key = os.environ.get("HEALTH_TABLE_KEY", "transaction_id")
    client = aws.client_with("dynamodb", _FAST)
    # A read of a key that never exists: proves the table, the path and its KMS key.
    client.get_item(TableName=table, Key={key: {"S": _PROBE_KEY}})


def postgres_ok() -> None:
    with connection.connect("engine-health", timeout_seconds=2) as conn:
        conn.execute("SELECT 1").fetchone()


CHECKS: dict[str, Callable[[], None]] = {"dynamodb": dynamodb_ok, "postgres": postgres_ok}


@router.route("GET", "/health")
def health(_: Request) -> Reply:
    results = {name: _run(name, check) for name, check in CHECKS.items()}
    healthy = all(result == "ok" for result in results.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "region": os.environ.get("AWS_REGION", "local"),
        "checks": results,
    }
    return Reply(200 if healthy else 503, body, {"Cache-Control": "no-store"})


def _run(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as exc:
        logger.warning(
            "dependency check failed", extra={"check": name, "error": type(exc).__name__}
        )
        return f"failed: {type(exc).__name__}"
    return "ok"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return router.resolve(event, context)
