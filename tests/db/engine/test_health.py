"""GET /health of the engine APIs against a real PostgreSQL and DynamoDB in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.events import LambdaContext, rest_event

REGION = "ap-south-1"


@pytest.fixture
def health(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from engine.handlers import health as module
    from shared import aws

    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": database,
        "HEALTH_TABLE": "engine-transactions",
        "HEALTH_TABLE_KEY": "transaction_id",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        aws.reset_clients()
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="engine-transactions",
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield module
        aws.reset_clients()


def call(module: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    event = rest_event("GET", "/health")
    raw = module.handler(event, LambdaContext(function_name="Health"))
    return raw["statusCode"], json.loads(raw["body"]), raw["headers"]


def test_healthy_when_both_dependencies_answer(health: Any) -> None:
    status, body, headers = call(health)

    assert status == 200
    assert body == {
        "status": "ok",
        "region": REGION,
        "checks": {"dynamodb": "ok", "postgres": "ok"},
    }
    assert headers["Cache-Control"] == "no-store"


def test_postgres_down_is_503_naming_it(health: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")

    status, body, _ = call(health)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["dynamodb"] == "ok"
    assert body["checks"]["postgres"].startswith("failed: ")
    assert "127.0.0.1" not in json.dumps(body)  # no host names or messages leak


def test_dynamodb_down_is_503_naming_it(health: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_TABLE", "engine-missing")

    status, body, _ = call(health)

    assert status == 503
    assert body["checks"] == {"dynamodb": "failed: ResourceNotFoundException", "postgres": "ok"}
