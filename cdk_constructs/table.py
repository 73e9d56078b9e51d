"""DynamoDB tables built from a `TableSpec`, the single declaration of their shape.

Always: on-demand billing, a customer-managed key, point-in-time recovery. Removal
policy and deletion protection come from the caller (i.e. from config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.keys import grant_via_service
from cdk_constructs.removal import stateful
from shared.tables import Index, Key, TableSpec

_KEY_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}
_STREAMS = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}
_WRITE_ACTIONS = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)
_KEY_READ = ("kms:Decrypt", "kms:DescribeKey")
_KEY_WRITE = ("kms:Encrypt", "kms:GenerateDataKey")
PITR_DAYS = 35


@dataclass(frozen=True)
class DataTableProps:
    spec: TableSpec
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy
    deletion_protection: bool
    # Region -> key ARN in that region; a global table needs a CMK per replica.
    replica_key_arns: Mapping[str, str] = field(default_factory=dict)
    # Fixed, for a global table: its replicas carry the same name in every region.
    table_name: str | None = None


class DataTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: DataTableProps) -> None:
        super().__init__(scope, construct_id)
        spec = props.spec
        self.spec = spec
        self.encryption_key = props.encryption_key
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=props.table_name,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(
                props.encryption_key, replica_key_arns=dict(props.replica_key_arns) or None
            ),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=PITR_DAYS
            ),
            deletion_protection=props.deletion_protection,
            removal_policy=stateful(props.removal_policy),
            time_to_live_attribute=spec.ttl_attribute,
            dynamo_stream=_STREAMS[spec.stream] if spec.stream else None,
            global_secondary_indexes=[_index(index) for index in spec.indexes] or None,
            replicas=[dynamodb.ReplicaTableProps(region=r) for r in props.replica_key_arns] or None,
        )

    def grant(
        self, grantee: iam.IGrantable, *actions: str, query_indexes: Sequence[str] = ()
    ) -> None:
        """Grant exactly `actions` on the table, and Query on each named index.

        `TableV2.grant` would add `<table>/index/*` whenever the table has indexes and
        nothing on the key; this grants the named ARNs and the key actions DynamoDB
        needs for those calls, usable only through DynamoDB.
        """
        _check_actions(actions)
        unknown = set(query_indexes) - {index.name for index in self.spec.indexes}
        if unknown:
            raise ValueError(f"{self.spec.logical_name} has no index {sorted(unknown)}")
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self.table.table_arn]
        )
        if query_indexes:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["dynamodb:Query"],
                resource_arns=[f"{self.table.table_arn}/index/{name}" for name in query_indexes],
            )
        writes = _WRITE_ACTIONS.intersection(actions)
        key_actions = _KEY_READ + (_KEY_WRITE if writes else ())
        grant_via_service(grantee, self.encryption_key, "dynamodb", key_actions)


def _check_actions(actions: Sequence[str]) -> None:
    if not actions:
        raise ValueError("grant at least one action")
    bad = [a for a in actions if not a.startswith("dynamodb:") or "*" in a]
    if bad:
        raise ValueError(f"only explicit dynamodb: actions can be granted, got {bad}")


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_KEY_TYPES[key.type])


def _index(index: Index) -> dynamodb.GlobalSecondaryIndexPropsV2:
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=index.name,
        partition_key=_attribute(index.partition_key),
        sort_key=_attribute(index.sort_key) if index.sort_key else None,
        projection_type=_PROJECTIONS[index.projection],
        non_key_attributes=list(index.non_key_attributes) or None,
    )
