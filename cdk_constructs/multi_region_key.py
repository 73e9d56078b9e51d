"""Multi-Region KMS keys: a rotated primary, and its replica in another Region.

A multi-Region primary and its replicas share key material and key id
(`mrk-...`), so data encrypted in Mumbai decrypts in Singapore after a failover.
Rotation is set on the primary and applies to every replica; it is not a prop.

Cross-Region wiring (the design choice): the replica needs the primary's ARN,
which only exists after the primary's stack deploys. The DR stack is created with
`cross_region_references=True`, so CDK carries that one immutable ARN through an
SSM parameter in the DR Region (written by a CDK-managed custom resource in the
primary's stack, read by one in the DR stack); synth needs no lookup. The other
direction needs no reference at all: a replica's ARN is the primary's with the
Region swapped (same account, same `mrk-` id), see `replica_arn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.keys import SERVICE_ENCRYPT_ACTIONS, event_bus_statements
from cdk_constructs.removal import stateful

_LOGS_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)


@dataclass(frozen=True)
class KeyPolicyProps:
    """Who besides the account's IAM policies may use the key, in the key's Region."""

    # CloudWatch Logs of this account and Region (encrypted log groups, flow logs).
    allow_cloudwatch_logs: bool = False
    # Service principals (e.g. `sns.amazonaws.com`) that encrypt for this account.
    services: Sequence[str] = field(default_factory=tuple)
    # EventBridge buses (by name, in the key's account and Region) encrypted with the key,
    # with their archives.
    event_buses: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class MultiRegionKeyProps:
    alias: str
    description: str
    removal_policy: cdk.RemovalPolicy
    policy: KeyPolicyProps = field(default_factory=KeyPolicyProps)
    pending_window_days: int = 30


class MultiRegionKey(Construct):
    """The primary key. `self.key` is an IKey for L2 constructs (grants, encryption)."""

    def __init__(self, scope: Construct, construct_id: str, props: MultiRegionKeyProps) -> None:
        super().__init__(scope, construct_id)
        _check_window(props.pending_window_days)
        self.cfn_key = kms.CfnKey(
            self,
            "Key",
            description=props.description,
            multi_region=True,
            enable_key_rotation=True,
            enabled=True,
            key_spec="SYMMETRIC_DEFAULT",
            key_usage="ENCRYPT_DECRYPT",
            pending_window_in_days=props.pending_window_days,
            key_policy=key_policy(self, props.policy),
        )
        self.cfn_key.apply_removal_policy(stateful(props.removal_policy))
        self.alias = kms.CfnAlias(
            self, "Alias", alias_name=props.alias, target_key_id=self.cfn_key.ref
        )
        self.key_arn: str = self.cfn_key.attr_arn
        self.key_id: str = self.cfn_key.ref
        # Immutable view: the key policy is written once above, in full.
        self.key: kms.IKey = kms.Key.from_key_arn(self, "Imported", self.key_arn)

    def replica_arn(self, region: str) -> str:
        """The ARN the replica in `region` has: same account and `mrk-` key id."""
        stack = cdk.Stack.of(self)
        return cdk.Fn.join(
            "", [f"arn:{stack.partition}:kms:{region}:{stack.account}:key/", self.key_id]
        )


@dataclass(frozen=True)
class ReplicaKeyProps:
    primary_key_arn: str
    alias: str
    description: str
    removal_policy: cdk.RemovalPolicy
    policy: KeyPolicyProps = field(default_factory=KeyPolicyProps)
    pending_window_days: int = 30


class ReplicaKey(Construct):
    """A replica of a multi-Region primary, in this stack's Region."""

    def __init__(self, scope: Construct, construct_id: str, props: ReplicaKeyProps) -> None:
        super().__init__(scope, construct_id)
        _check_window(props.pending_window_days)
        self.cfn_key = kms.CfnReplicaKey(
            self,
            "Key",
            primary_key_arn=props.primary_key_arn,
            description=props.description,
            enabled=True,
            pending_window_in_days=props.pending_window_days,
            key_policy=key_policy(self, props.policy),
        )
        self.cfn_key.apply_removal_policy(stateful(props.removal_policy))
        self.alias = kms.CfnAlias(
            self, "Alias", alias_name=props.alias, target_key_id=self.cfn_key.attr_key_id
        )
        self.key_arn: str = self.cfn_key.attr_arn
        self.key: kms.IKey = kms.Key.from_key_arn(self, "Imported", self.key_arn)


def key_policy(scope: Construct, props: KeyPolicyProps) -> iam.PolicyDocument:
    """The account administers the key through IAM; named services may encrypt with it."""
    stack = cdk.Stack.of(scope)
    statements = [
        iam.PolicyStatement(
            sid="AccountAdministersThroughIam",
            principals=[iam.AccountRootPrincipal()],
            actions=["kms:*"],
            resources=["*"],
        )
    ]
    if props.allow_cloudwatch_logs:
        statements.append(
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
    for service in dict.fromkeys(props.services):
        statements.append(
            iam.PolicyStatement(
                sid=f"Allow{service.split('.')[0].title()}",
                principals=[iam.ServicePrincipal(service)],
                actions=list(SERVICE_ENCRYPT_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
    if props.event_buses:
        statements += event_bus_statements(stack, props.event_buses)
    return iam.PolicyDocument(statements=statements)


def _check_window(days: int) -> None:
    if not 7 <= days <= 30:
        raise ValueError("pending_window_days must be 7 to 30 (the KMS limits)")
