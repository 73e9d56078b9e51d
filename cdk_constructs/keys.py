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

from cdk_constructs.removal import stateful

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
EVENTS_PRINCIPAL = "events.amazonaws.com"
# The encryption context EventBridge passes for a bus's (and its archive's) events.
EVENT_BUS_CONTEXT = "kms:EncryptionContext:aws:events:event-bus:arn"
# A bus writes and reads its events; an archive also re-encrypts them as it stores them.
EVENT_BUS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*")


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
            removal_policy=stateful(props.removal_policy),
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


def event_bus_statements(stack: cdk.Stack, bus_names: Sequence[str]) -> list[iam.PolicyStatement]:
    """What EventBridge needs of a customer-managed key for encrypted buses and archives.

    EventBridge refuses a key it cannot describe, and an archive re-encrypts the events it
    stores; CDK adds neither when the key is imported by ARN. DescribeKey carries no
    encryption context, so it gets its own statement, scoped to this account; the data
    actions are also bound to the buses' ARNs through the encryption context EventBridge
    sends, so no other bus of the account can use the key.
    """
    if not bus_names:
        raise ValueError("name at least one event bus")
    principal = iam.ServicePrincipal(EVENTS_PRINCIPAL)
    same_account = {"aws:SourceAccount": stack.account}
    bus_arns = [
        stack.format_arn(service="events", resource="event-bus", resource_name=name)
        for name in dict.fromkeys(bus_names)
    ]
    return [
        iam.PolicyStatement(
            sid="AllowEventBridgeToDescribeTheKey",
            principals=[principal],
            actions=["kms:DescribeKey"],
            resources=["*"],
            conditions={"StringEquals": same_account},
        ),
        iam.PolicyStatement(
            sid="AllowEventBusesAndArchives",
            principals=[principal],
            actions=list(EVENT_BUS_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": same_account, "ArnLike": {EVENT_BUS_CONTEXT: bus_arns}},
        ),
    ]
