"""PostgreSQL for the engine: the Mumbai primary (with its schema) and the Singapore replica.

`EngineDatabaseStack` (stateful, ap-south-1): RDS PostgreSQL behind RDS Proxy, prod's
same-region read replicas, and the schema, migrated on every deploy that changes a migration
file by a custom resource whose function connects through the proxy as the master user.

`EngineDrDatabaseStack` (stateful, ap-southeast-1, staging and prod): the cross-region read
replica the DR runbook promotes. Its source is named by ARN from the primary's fixed
identifier (a token from another Region's stack would not resolve), so the one value
crossing regions is a string, not a token.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from cdk_constructs import nag
from cdk_constructs.network import APP, DB, ThreeTierVpc
from cdk_constructs.postgres import (
    MASTER_USERNAME,
    PORT,
    CrossRegionReplica,
    CrossRegionReplicaProps,
    PostgresDatabase,
    PostgresProps,
)
from cdk_constructs.schema_migration import SchemaMigration, SchemaMigrationProps
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig
from engine import declarations as fn
from engine.db.migrate import MIGRATIONS_DIR
from stacks.engine.functions import EngineFunctionProps, EngineRuntime, engine_function, nist

DATABASE_NAME = "engine"
HEALTH_USER = "engine_health"
MIGRATOR_NO_DLQ_REASON = (
    "CloudFormation invokes the schema migrator synchronously as a custom resource and "
    "records its answer; a failed migration fails (and rolls back) the deployment itself, "
    "so there is no asynchronous event to park in a DLQ."
)
RDS_PORT_REASON = (
    "PostgreSQL listens on its default port 5432 on purpose (issue 4 and the platform's "
    "security groups name it); the instance is private, in isolated subnets, reachable "
    "only from the RDS proxy and the rotation function's security groups, TLS and IAM "
    "only. A non-default port hides nothing from a scanner inside the VPC."
)

REPLICA_BACKUP_REASON = (
    " Not in the AWS Backup plan (CP-9): a read replica holds the primary's data, and the "
    "primary is backed up daily and copied to the DR vault."
)


def primary_identifier(cfg: EngineConfig) -> str:
    return cfg.resource_name("postgres")


def dr_replica_identifier(cfg: EngineConfig) -> str:
    return cfg.resource_name("postgres-dr")


def primary_arn(cfg: EngineConfig) -> str:
    """The primary's ARN as a plain string: what the Singapore replica names as its source."""
    return f"arn:aws:rds:{cfg.region}:{cfg.account}:db:{primary_identifier(cfg)}"


class EngineDatabaseStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        network: ThreeTierVpc,
        database_key_arn: str,
        logs_key_arn: str,
        secret_replica_key_arn: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("database"),
            description=f"Payments engine {cfg.env_name}: PostgreSQL, RDS Proxy, schema",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        self.network = network
        # Imported by ARN: no L2 here may write key-policy statements into the keys stack.
        self.database_key = kms.Key.from_key_arn(self, "DatabaseKeyRef", database_key_arn)
        self.logs_key = kms.Key.from_key_arn(self, "LogsKeyRef", logs_key_arn)
        self.database = self._database(secret_replica_key_arn)
        self.runtime = EngineRuntime(self, "Runtime")
        self.migrator = self._migrator()
        self.schema = SchemaMigration(
            self,
            "Schema",
            SchemaMigrationProps(
                migrator=self.migrator.function,
                migrations_dir=MIGRATIONS_DIR,
                after=self._before_the_schema(),
            ),
        )
        # Secrets Manager rotates as soon as the schedule exists: create it after the schema,
        # so the first migration never logs in while the master password changes (the
        # migrator's retries cover a rotation that falls during a later deploy).
        self.database.rotation_schedule.node.add_dependency(self.schema)
        self.health_connect_arn = self.database.user_connect_arn(HEALTH_USER)
        self._acknowledge()
        self._outputs()

    def _before_the_schema(self) -> list[IConstruct]:
        """The instance itself (not its construct, whose children include the rotation
        schedule), the proxy, and the proxy's grants on the master secret."""
        database = self.database
        instance = database.instance.node.default_child
        assert instance is not None
        first: list[IConstruct] = [instance, database.proxy]
        if database.proxy_role.grants_policy is not None:
            first.append(database.proxy_role.grants_policy)
        return first

    def _database(self, secret_replica_key_arn: str | None) -> PostgresDatabase:
        cfg, network, db = self.cfg, self.network, self.cfg.database
        return PostgresDatabase(
            self,
            "Postgres",
            PostgresProps(
                vpc=network.vpc,
                database_subnets=ec2.SubnetSelection(subnet_group_name=DB),
                proxy_subnets=ec2.SubnetSelection(subnet_group_name=APP),
                database_security_group=network.db_sg,
                proxy_security_group=network.proxy_sg,
                secrets_endpoint_security_group=network.endpoint_sg,
                encryption_key=self.database_key,
                instance_identifier=primary_identifier(cfg),
                instance_type=db.instance_type,
                multi_az=db.multi_az,
                allocated_storage_gb=db.allocated_storage_gb,
                max_allocated_storage_gb=db.max_allocated_storage_gb,
                backup_retention_days=cfg.backup_retention_days,
                deletion_protection=cfg.deletion_protection,
                removal_policy=cfg.removal_policy,
                log_retention=cfg.internal_log_retention,
                log_encryption_key=self.logs_key,
                read_replica_names=db.read_replicas,
                secret_replica_key_arns=(
                    {cfg.dr_region: secret_replica_key_arn} if secret_replica_key_arn else {}
                ),
                database_name=DATABASE_NAME,
            ),
        )

    def _migrator(self) -> Any:
        cfg = self.cfg
        migrator = engine_function(
            self,
            EngineFunctionProps(
                cfg=cfg,
                spec=fn.SCHEMA_MIGRATOR,
                runtime=self.runtime,
                network=self.network,
                log_encryption_key=self.logs_key,
                log_retention=cfg.internal_log_retention,
                # One deployment migrates at a time (and the runner takes an advisory lock).
                reserved_concurrency=1,
                # The database's own key: the variables say where the database is.
                environment_key=self.database_key,
                no_dlq_reason=MIGRATOR_NO_DLQ_REASON,
                environment={
                    "DB_PROXY_ENDPOINT": self.database.proxy.endpoint,
                    "DB_PORT": str(PORT),
                    "DB_NAME": DATABASE_NAME,
                    "DB_USER": MASTER_USERNAME,
                },
            ),
        )
        self.database.proxy.grant_connect(migrator.role, MASTER_USERNAME)
        return migrator

    def _acknowledge(self) -> None:
        cfg = self.cfg
        instances = [self.database.instance, *self.database.replicas.values()]
        for instance in instances:
            nag.acknowledge(instance, "AwsSolutions-RDS11", RDS_PORT_REASON)
        nag.acknowledge(
            self.database.instance,
            "NIST.800.53.R5-RDSInBackupPlan",
            nist(
                "CP-9, CP-10",
                f"The instance is selected by ARN in the daily AWS Backup plan of stack "
                f"{cfg.stack_name('backup')} (copied to {cfg.dr_region} where DR is on); "
                "cdk-nag looks for the selection in this stack only. A test checks the plan "
                "names this instance.",
            ),
        )
        if not cfg.deletion_protection:
            reason = (
                f"{cfg.env_name} holds synthetic data only and is torn down "
                "with its stack; every other environment turns deletion protection on "
                "from config."
            )
            nag.acknowledge(self.database.instance, "AwsSolutions-RDS10", reason)
            nag.acknowledge(
                self.database.instance,
                "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
                nist("CP-9, SC-5(2)", reason),
            )
        if not self.cfg.database.multi_az:
            reason = (
                f"{self.cfg.env_name} runs PostgreSQL in one zone on purpose ("
                "single AZ, minimal resources, synthetic data); every other environment is "
                "Multi-AZ from config."
            )
            nag.acknowledge(self.database.instance, "AwsSolutions-RDS3", reason)
            nag.acknowledge(
                self.database.instance,
                "NIST.800.53.R5-RDSMultiAZSupport",
                nist("CP-10, SC-5, SC-36", reason),
            )
        for name, replica in self.database.replicas.items():
            reason = (
                f"The {name} read replica serves read-only queries; it inherits the primary's "
                "encryption (CloudFormation forbids StorageEncrypted beside "
                "SourceDBInstanceIdentifier, cfn-lint E3020) and is rebuilt from the Multi-AZ "
                "primary if its zone fails."
            )
            for rule in (
                "AwsSolutions-RDS2",
                "AwsSolutions-RDS3",
                "PCI.DSS.321-RDSStorageEncrypted",
                "NIST.800.53.R5-RDSStorageEncrypted",
                "NIST.800.53.R5-RDSMultiAZSupport",
                "NIST.800.53.R5-RDSInBackupPlan",
            ):
                nag.acknowledge(replica, rule, reason + REPLICA_BACKUP_REASON)

    def _outputs(self) -> None:
        database = self.database
        cdk.CfnOutput(self, "ProxyEndpoint", value=database.proxy.endpoint)
        cdk.CfnOutput(self, "InstanceIdentifier", value=primary_identifier(self.cfg))
        cdk.CfnOutput(self, "MasterSecretArn", value=database.secret.secret_arn)
        for name, replica in database.replicas.items():
            cdk.CfnOutput(
                self, f"{name.title()}ReplicaEndpoint", value=replica.db_instance_endpoint_address
            )


class EngineDrDatabaseStack(ConfiguredStack):
    """Singapore: the cross-region read replica of the Mumbai primary (DR environments)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        network: ThreeTierVpc,
        database_key_arn: str,
        logs_key_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-database"),
            description=f"Payments engine {cfg.env_name}: PostgreSQL cross-region read replica",
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        self.replica = CrossRegionReplica(
            self,
            "Replica",
            CrossRegionReplicaProps(
                source_instance_arn=primary_arn(cfg),
                instance_identifier=dr_replica_identifier(cfg),
                instance_type=cfg.database.instance_type,
                vpc=network.vpc,
                database_subnets=ec2.SubnetSelection(subnet_group_name=DB),
                database_security_group=network.db_sg,
                encryption_key=kms.Key.from_key_arn(self, "DatabaseKeyRef", database_key_arn),
                max_allocated_storage_gb=cfg.database.max_allocated_storage_gb,
                # Standby: one zone until promoted (the runbook turns Multi-AZ on after).
                multi_az=False,
                deletion_protection=cfg.deletion_protection,
                removal_policy=cfg.removal_policy,
                log_retention=cfg.internal_log_retention,
                log_encryption_key=kms.Key.from_key_arn(self, "LogsKeyRef", logs_key_arn),
            ),
        )
        self.health_connect_arn = self.replica.user_connect_arn(HEALTH_USER)
        instance = self.replica.instance
        nag.acknowledge(instance, "AwsSolutions-RDS11", RDS_PORT_REASON)
        reason = (
            "Cross-region standby replica: in one zone until the DR runbook promotes it (then "
            "Multi-AZ is turned on); backups start at promotion (a replica keeps none)."
        )
        for rule in (
            "AwsSolutions-RDS3",
            "NIST.800.53.R5-RDSMultiAZSupport",
            "NIST.800.53.R5-RDSInBackupPlan",
        ):
            nag.acknowledge(instance, rule, reason + REPLICA_BACKUP_REASON)
        cdk.CfnOutput(self, "ReplicaEndpoint", value=instance.db_instance_endpoint_address)
        cdk.CfnOutput(self, "ReplicaIdentifier", value=dr_replica_identifier(cfg))
