"""Secrets Manager secrets: CMK-encrypted, created with a generated placeholder.

The real value is put by an operator (`aws secretsmanager put-secret-value`); the
code never holds one. The placeholder is random so a forgotten secret fails closed
instead of matching a well-known string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.removal import stateful


@dataclass(frozen=True)
class PlaceholderSecretProps:
    secret_name: str
    description: str
    # The JSON key the runtime reads; its value is generated (32 characters).
    generated_key: str
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy


class PlaceholderSecret(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PlaceholderSecretProps) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=props.secret_name,
            description=props.description,
            encryption_key=props.encryption_key,
            removal_policy=stateful(props.removal_policy),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({}),
                generate_string_key=props.generated_key,
                password_length=32,
                exclude_punctuation=True,
            ),
        )
