"""Secrets Manager secrets: CMK-encrypted, created with a generated placeholder.

The real value is put by an operator (`aws secretsmanager put-secret-value`); the
code never holds one. The placeholder is random so a forgotten secret fails closed
instead of matching a well-known string. A secret with replica Regions is copied there
by Secrets Manager, each replica under the given key of its own Region (never an AWS
managed key), so the DR Region reads it while the primary Region is down.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

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
    # Other keys of the JSON object, with their placeholder values (an operator sets them).
    template: Mapping[str, str] = field(default_factory=dict)
    # Replica Region -> the ARN of a customer-managed key in that Region.
    replica_key_arns: Mapping[str, str] = field(default_factory=dict)


class PlaceholderSecret(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PlaceholderSecretProps) -> None:
        super().__init__(scope, construct_id)
        if props.generated_key in props.template:
            raise ValueError(f"{props.generated_key!r} is generated: leave it out of template")
        missing = [region for region, arn in props.replica_key_arns.items() if not arn]
        if missing:
            raise ValueError(f"replicas {missing} need a customer-managed key ARN")
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=props.secret_name,
            description=props.description,
            encryption_key=props.encryption_key,
            removal_policy=stateful(props.removal_policy),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(dict(props.template)),
                generate_string_key=props.generated_key,
                password_length=32,
                exclude_punctuation=True,
            ),
            replica_regions=[
                secretsmanager.ReplicaRegion(
                    region=region,
                    encryption_key=kms.Key.from_key_arn(self, f"ReplicaKey{_id(region)}", arn),
                )
                for region, arn in sorted(props.replica_key_arns.items())
            ]
            or None,
        )


def _id(region: str) -> str:
    return region.title().replace("-", "")
