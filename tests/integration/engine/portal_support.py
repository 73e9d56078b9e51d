"""The engine's portal handlers on moto and a real PostgreSQL, called as API Gateway would.

Fixture `engine_portal` (import it into a conftest with `engine_db` and
`engine_pg_template` from tests/engine_pg.py): every engine table created in moto from its
declaration, the OTP hash key in Secrets Manager, the settings' environment pointing at them
and at a migrated, seeded database as `engine_app`. It yields a `Portal`: `call(...)` invokes
a handler module with a REST proxy event; `sms` lists what SNS was asked to publish;
`session_for(loan)` signs a seeded loan in and returns its token.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.events import LambdaContext, rest_event
from tests.engine_pg import EngineDb, SeededLoan

REGION = "ap-south-1"
HASH_KEY = "k" * 48
SMS_IDS = {
    "SMS_SENDER_ID": "FVSTAR",
    "SMS_DLT_ENTITY_ID": "1101234567890123456",
    "SMS_OTP_TEMPLATE_ID": "1107123456789012345",
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def error(self) -> dict[str, Any]:
        return dict(self.body["error"])


@dataclass
class Portal:
    db: EngineDb
    env: dict[str, str]
    dynamodb: Any
    sms: list[dict[str, Any]] = field(default_factory=list)

    def call(
        self,
        module: ModuleType,
        method: str,
        path: str,
        *,
        resource: str | None = None,
        path_parameters: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        source_ip: str = "203.0.113.7",
    ) -> Answer:
        raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters=path_parameters,
            body=raw,
            headers={"Content-Type": "application/json", **(headers or {})},
            query=query,
        )
        event["requestContext"]["identity"]["sourceIp"] = source_ip
        answer = module.handler(event, LambdaContext(function_name=module.__name__))
        return Answer(answer["statusCode"], answer["headers"], answer["body"])

    def validate(self, loan: str, mobile: str, **kwargs: Any) -> Answer:
        from engine.handlers.portal import sessions

        return self.call(
            sessions,
            "POST",
            "/api/v1/customer/validate-loan",
            body={"loan_account_number": loan, "mobile_number": mobile},
            **kwargs,
        )

    def open_session(self, challenge_id: str, otp: str, **kwargs: Any) -> Answer:
        from engine.handlers.portal import sessions

        return self.call(
            sessions,
            "POST",
            "/api/v1/customer/sessions",
            body={"challenge_id": challenge_id, "otp": otp},
            **kwargs,
        )

    def last_otp(self) -> str:
        found = re.match(r"([0-9]{6}) ", self.sms[-1]["Message"])
        assert found, "the SMS carries no code"
        return found.group(1)

    def session_for(self, loan: SeededLoan) -> str:
        challenge = self.validate(loan.loan_account_number, loan.mobile_number)
        assert challenge.status == 200, challenge.raw
        opened = self.open_session(challenge.body["challenge_id"], self.last_otp())
        assert opened.status == 201, opened.raw
        return str(opened.body["session_token"])

    def items(self) -> list[dict[str, Any]]:
        """Every item in the Sessions table (plain values)."""
        from shared import ddb

        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.env["SESSIONS_TABLE"])
        return [ddb.from_item(i) or {} for page in pages for i in page["Items"]]


@pytest.fixture
def engine_portal(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Portal]:
    from engine import settings, wiring
    from engine.tables import ALL_TABLES

    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": "engine",
        "DATABASE_URL": engine_db.app_url,
        "OTP_RESPONSE_FLOOR_MS": "0",
        **SMS_IDS,
        **{spec.env_var: f"{prefix}-{spec.logical_name}" for spec in ALL_TABLES if spec.env_var},
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in ALL_TABLES:
            if spec.env_var:
                dynamodb.create_table(**spec.create_table_kwargs(env[spec.env_var]))
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"{prefix}-otp-hash-key", SecretString=json.dumps({"key": HASH_KEY})
        )
        env["OTP_HASH_KEY_ARN"] = secret["ARN"]
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        portal = Portal(db=engine_db, env=env, dynamodb=dynamodb)
        _record_sms(portal)
        yield portal
        wiring.reset()
        settings.reset()


def _record_sms(portal: Portal) -> None:
    """Keep every SNS Publish request's parameters (moto keeps the text, not the attributes)."""
    from shared import aws

    sns = aws.client("sns")
    sns.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: portal.sms.append(dict(params))
    )
