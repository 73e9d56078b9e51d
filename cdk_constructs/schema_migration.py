"""A deploy-time schema migration: a custom resource whose ServiceToken is the migrator.

The resource's `MigrationsHash` property is the SHA-256 of the migration files, so adding or
changing a file is what makes CloudFormation send Update (and nothing else does). The
migrator answers CloudFormation itself (engine.handlers.migrate.on_cfn_event).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct


def migrations_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()


@dataclass(frozen=True)
class SchemaMigrationProps:
    migrator: lambda_.IFunction
    migrations_dir: Path
    # What must exist first: the database, its proxy, the migrator's network path.
    after: Sequence[IConstruct] = ()


class SchemaMigration(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: SchemaMigrationProps) -> None:
        super().__init__(scope, construct_id)
        files = sorted(props.migrations_dir.glob("*.sql"))
        if not files:
            raise FileNotFoundError(f"no migrations in {props.migrations_dir}")
        self.resource = cdk.CustomResource(
            self,
            "Schema",
            service_token=props.migrator.function_arn,
            resource_type="Custom::DatabaseSchema",
            properties={
                "MigrationsHash": migrations_hash(props.migrations_dir),
                "LatestFile": files[-1].name,
            },
        )
        for dependency in props.after:
            self.resource.node.add_dependency(dependency)
