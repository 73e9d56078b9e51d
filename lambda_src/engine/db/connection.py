"""Connections to the engine's PostgreSQL: RDS Proxy with an IAM token in AWS.

`DATABASE_URL`, when set, is used instead of the proxy and the token; it exists for local
runs and tests, and is never set in AWS.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

import boto3
import psycopg

logger = logging.getLogger(__name__)

# Backoff between connection attempts: doubling from the first delay up to the cap, each
# drawn from its upper half (jitter), so concurrent callers spread out.
FIRST_RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 15.0
# psycopg refuses a connect_timeout below 2 s (it rounds it up).
MIN_ATTEMPT_TIMEOUT_SECONDS = 2


def connect(application: str, timeout_seconds: int = 10) -> psycopg.Connection[Any]:
    """An autocommit connection: `DATABASE_URL` if set, else RDS Proxy with an IAM token.

    Environment in AWS: `DB_PROXY_ENDPOINT`, `DB_PORT` (default 5432), `DB_NAME`, `DB_USER`,
    and the `AWS_REGION` Lambda sets. Every connection prepares nothing
    (`prepare_threshold=None`): a named prepared statement pins RDS Proxy's backend
    connection to this client for good, and the migrator goes through the proxy too.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=timeout_seconds,
            application_name=application,
            prepare_threshold=None,
        )
    host = os.environ["DB_PROXY_ENDPOINT"]
    port = int(os.environ.get("DB_PORT", "5432"))
    user = os.environ["DB_USER"]
    region = os.environ["AWS_REGION"]
    # Signed locally with the function's credentials (no API call); valid for 15 minutes.
    token = boto3.client("rds", region_name=region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )
    return psycopg.connect(
        host=host,
        port=port,
        dbname=os.environ["DB_NAME"],
        user=user,
        password=token,
        sslmode="require",
        connect_timeout=timeout_seconds,
        application_name=application,
        autocommit=True,
        prepare_threshold=None,
    )


def connect_with_retry(
    application: str,
    *,
    deadline_seconds: float,
    attempt_timeout_seconds: int = 10,
    attempt: Callable[[str, int], psycopg.Connection[Any]] = connect,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> psycopg.Connection[Any]:
    """`connect`, retried with backoff until `deadline_seconds` have passed.

    Retries what a new or changing database answers for a while: refused or timed-out
    connections (RDS Proxy registers its target minutes after it is created) and failed
    logins (the proxy re-reads the master secret while Secrets Manager rotates it). Each
    attempt gets a fresh IAM token and at most the time left; the last error is raised
    once the deadline leaves no room for another attempt.
    """
    start = clock()
    delay = FIRST_RETRY_DELAY_SECONDS
    attempts = 0
    while True:
        left = deadline_seconds - (clock() - start)
        attempts += 1
        try:
            timeout = max(MIN_ATTEMPT_TIMEOUT_SECONDS, min(attempt_timeout_seconds, int(left)))
            return attempt(application, timeout)
        except psycopg.OperationalError as exc:
            wait = random.uniform(delay / 2, delay)  # jitter, not a secret
            left = deadline_seconds - (clock() - start)
            if left < wait + MIN_ATTEMPT_TIMEOUT_SECONDS:
                logger.error(
                    "database unreachable after %d attempts: %s", attempts, type(exc).__name__
                )
                raise
            logger.warning(
                "database connection failed (%s); attempt %d, retrying in %.1f s",
                type(exc).__name__,
                attempts,
                wait,
            )
            sleep(wait)
            delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
