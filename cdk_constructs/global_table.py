"""DynamoDB global tables: a `DataTable` plus replicas, each under its own Region's CMK.

Everything `DataTable` enforces still holds (on-demand, CMK, PITR 35 days); this
adds the replica rules of a global table (providers.md §7.3):

* every replica Region brings the ARN of a key in that Region (a multi-Region
  replica key), so no replica ever falls back to an AWS-owned key;
* the table's own Region is never listed as a replica;
* replicas inherit PITR, deletion protection and the stream from the table.

CloudFormation adds or removes only one replica per update: adding a second DR
Region later is two deploys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.table import DataTable, DataTableProps
from shared.tables import TableSpec


@dataclass(frozen=True)
class GlobalTableProps:
    spec: TableSpec
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy
    deletion_protection: bool
    # DR Region -> key ARN in that Region. Empty: a single-Region table.
    replica_key_arns: Mapping[str, str] = field(default_factory=dict)
    # The name every replica carries; fixed so other regions and alarms can name it.
    table_name: str | None = None


class GlobalTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: GlobalTableProps) -> None:
        super().__init__(scope, construct_id)
        region = cdk.Stack.of(self).region
        if cdk.Token.is_unresolved(region):
            raise ValueError("a global table's stack needs a concrete region")
        if region in props.replica_key_arns:
            raise ValueError(f"{region} is the table's own Region, not a replica")
        missing = [r for r, arn in props.replica_key_arns.items() if not arn]
        if missing:
            raise ValueError(f"replicas {missing} need a customer-managed key ARN")
        self.replica_regions = tuple(props.replica_key_arns)
        self.data_table = DataTable(
            self,
            "Data",
            DataTableProps(
                spec=props.spec,
                encryption_key=props.encryption_key,
                removal_policy=props.removal_policy,
                deletion_protection=props.deletion_protection,
                replica_key_arns=props.replica_key_arns,
                table_name=props.table_name,
            ),
        )
        self.table = self.data_table.table
        self.spec = props.spec
