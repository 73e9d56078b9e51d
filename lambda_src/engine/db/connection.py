"""Connections to the engine's PostgreSQL: RDS Proxy with an IAM token in AWS.

`DATABASE_URL`, when set, is used instead of the proxy and the token; it exists for local
runs and tests, and is never set in AWS.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import psycopg


def connect(application: str, timeout_seconds: int = 10) -> psycopg.Connection[Any]:
    """An autocommit connection: `DATABASE_URL` if set, else RDS Proxy with an IAM token.

    Environment in AWS: `DB_PROXY_ENDPOINT`, `DB_PORT` (default 5432), `DB_NAME`, `DB_USER`,
    and the `AWS_REGION` Lambda sets.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=timeout_seconds, application_name=application
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
    )
