"""Creates the payouts system's AWS resources in moto from the same declarations as the stacks."""

from __future__ import annotations

import json
import secrets as pysecrets
from dataclasses import dataclass
from typing import Any

from payouts.tables import ALL_TABLES

REGION = "ap-southeast-2"


@dataclass(frozen=True)
class PayoutsResources:
    tables: dict[str, str]  # logical name -> table name
    pii_key_arn: str
    api_secret_arn: str
    webhook_secret_arn: str
    webhook_token: str
    dlq_url: str
    replay_queue_url: str

    def env(self) -> dict[str, str]:
        """The environment the stacks give the functions, pointing at these resources."""
        env = {spec.env_var: self.tables[spec.logical_name] for spec in ALL_TABLES}
        env.update(
            PII_KEY_ARN=self.pii_key_arn,
            MONOOVA_API_SECRET_ARN=self.api_secret_arn,
            MONOOVA_WEBHOOK_SECRET_ARN=self.webhook_secret_arn,
            WEBHOOK_DLQ_URL=self.dlq_url,
        )
        return env


def provision(
    clients: Any, *, prefix: str = "local", api_key: str, webhook_token: str | None = None
) -> PayoutsResources:
    """`clients(name)` returns a boto3 client; call inside a moto mock or against moto server."""
    dynamodb = clients("dynamodb")
    tables = {}
    for spec in ALL_TABLES:
        name = f"{prefix}-payouts-{spec.logical_name.lower()}"
        dynamodb.create_table(**spec.create_table_kwargs(name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        tables[spec.logical_name] = name
    kms_key = clients("kms").create_key(Description=f"{prefix} payouts PII")["KeyMetadata"]["Arn"]
    token = webhook_token or "Basic " + pysecrets.token_urlsafe(24)
    sm = clients("secretsmanager")
    api_secret = sm.create_secret(
        Name=f"{prefix}/payouts/monoova-api", SecretString=json.dumps({"api_key": api_key})
    )["ARN"]
    webhook_secret = sm.create_secret(
        Name=f"{prefix}/payouts/monoova-webhook",
        SecretString=json.dumps({"authorization": token}),
    )["ARN"]
    sqs = clients("sqs")
    dlq = sqs.create_queue(QueueName=f"{prefix}-payouts-webhook-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    replay = sqs.create_queue(
        QueueName=f"{prefix}-payouts-webhook-replay",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        },
    )["QueueUrl"]
    return PayoutsResources(tables, kms_key, api_secret, webhook_secret, token, dlq, replay)
