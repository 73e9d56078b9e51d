"""Customer-managed KMS keys, always rotated, plus the service grants they need.

Rotation is not a prop: a key that never rotates is the finding (KMS5, PCI 3.6.4)
this construct exists to prevent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# What a service needs to write to (and read back from) a resource encrypted with the key.
SERVICE_ENCRYPT_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_LOGS_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


@dataclass(frozen=True)
class ManagedKeyProps:
    alias: str
    description: str
    removal_policy: cdk.RemovalPolicy
    pending_window_days: int = 30


class ManagedKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: ManagedKeyProps) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=props.alias,
            description=props.description,
            enable_key_rotation=True,
            pending_window=cdk.Duration.days(props.pending_window_days),
            removal_policy=props.removal_policy,
        )

    def allow_cloudwatch_logs(self) -> None:
        """Let CloudWatch Logs encrypt the log groups of this account and region."""
        stack = cdk.Stack.of(self)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(_LOGS_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def allow_service(self, sid: str, service: str, source_arns: Sequence[str] = ()) -> None:
        """Let an AWS service principal (SNS, EventBridge, CloudWatch alarms) use the key.

        Scoped to this account, and to `source_arns` when the caller knows them.
        """
        conditions: dict[str, dict[str, object]] = {
            "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}
        }
        if source_arns:
            conditions["ArnLike"] = {"aws:SourceArn": list(source_arns)}
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=list(SERVICE_ENCRYPT_ACTIONS),
                resources=["*"],
                conditions=conditions,
            )
        )


def grant_via_service(
    grantee: iam.IGrantable, key: kms.IKey, service: str, actions: Sequence[str]
) -> iam.Grant:
    """Grant key actions usable only through one service (kms:ViaService).

    CDK's own grants add `kms:ReEncrypt*` and `kms:GenerateDataKey*` for SQS and
    DynamoDB, wildcards the services never need; this grants exact actions instead.
    """
    stack = cdk.Stack.of(key)
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(dict.fromkeys(actions)),
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{stack.region}.amazonaws.com"}},
    )
