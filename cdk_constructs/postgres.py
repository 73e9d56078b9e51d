"""PostgreSQL on RDS for Lambda callers: encrypted, IAM-authenticated, behind RDS Proxy.

Defaults no prop can switch off: storage and Performance Insights encrypted with the given
customer-managed key, IAM database authentication, TLS required (rds.force_ssl and the
proxy's require_tls), not publicly accessible, enhanced monitoring, logs exported with a
retention, the master secret generated and rotated, minor versions upgraded automatically.
Sizing, Multi-AZ, backup retention, replicas and protection come from the props (config).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from cdk_constructs import nag

ENGINE_VERSION = rds.PostgresEngineVersion.VER_16_9
MASTER_USERNAME = "engine_admin"
PORT = 5432
ROTATION_DAYS = 30

# Seed §11.4.2. RDS expresses memory in bytes (DBInstanceClassMemory); these parameters
# count 8 kB pages, hence /8192 — 25% of RAM is /32768, 75% is *3/32768.
TUNING = {
    "shared_buffers": "{DBInstanceClassMemory/32768}",
    "effective_cache_size": "{DBInstanceClassMemory*3/32768}",
    "work_mem": "262144",  # kB: 256 MB
    "maintenance_work_mem": "2097152",  # kB: 2 GB
}
HARDENING = {
    "rds.force_ssl": "1",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_min_duration_statement": "1000",  # ms: slow queries, not every statement (PII)
    "log_statement": "ddl",
}


@dataclass(frozen=True)
class PostgresProps:
    vpc: ec2.IVpc
    database_subnets: ec2.SubnetSelection
    proxy_subnets: ec2.SubnetSelection
    database_security_group: ec2.ISecurityGroup
    proxy_security_group: ec2.ISecurityGroup
    encryption_key: kms.IKey
    instance_identifier: str  # fixed, so a replica in another region can name its source ARN
    instance_type: str  # e.g. "r6g.large"
    multi_az: bool
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    deletion_protection: bool
    removal_policy: cdk.RemovalPolicy
    log_retention: logs.RetentionDays
    read_replica_names: Sequence[str] = ()  # e.g. ("reporting", "analytics")
    database_name: str = "engine"
    monitoring_interval_seconds: int = 60


class PostgresDatabase(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PostgresProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Engine PostgreSQL: seed §11.4.2 tuning, TLS only, slow-query logging",
            parameters={**TUNING, **HARDENING},
        )
        self.monitoring_role = _monitoring_role(self)
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_identifier=props.instance_identifier,
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=props.vpc,
            vpc_subnets=props.database_subnets,
            security_groups=[props.database_security_group],
            port=PORT,
            database_name=props.database_name,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USERNAME, encryption_key=props.encryption_key
            ),
            parameter_group=self.parameter_group,
            multi_az=props.multi_az,
            allocated_storage=props.allocated_storage_gb,
            max_allocated_storage=props.max_allocated_storage_gb,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            storage_encryption_key=props.encryption_key,
            iam_authentication=True,
            publicly_accessible=False,
            backup_retention=cdk.Duration.days(props.backup_retention_days),
            copy_tags_to_snapshot=True,
            deletion_protection=props.deletion_protection,
            removal_policy=props.removal_policy,
            auto_minor_version_upgrade=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=props.encryption_key,
            monitoring_interval=cdk.Duration.seconds(props.monitoring_interval_seconds),
            monitoring_role=self.monitoring_role,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            cloudwatch_logs_retention=props.log_retention,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        assert self.instance.secret is not None
        self.secret = self.instance.secret
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=cdk.Duration.days(ROTATION_DAYS),
            vpc_subnets=props.proxy_subnets,
        )
        self.proxy = self.instance.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=props.vpc,
            vpc_subnets=props.proxy_subnets,
            security_groups=[props.proxy_security_group],
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
        )
        self.replicas = {name: self._replica(name, props) for name in props.read_replica_names}

    @property
    def instance_arn(self) -> str:
        """The ARN, from the fixed identifier: usable from another region's stack (P16)."""
        stack = cdk.Stack.of(self)
        return f"arn:aws:rds:{stack.region}:{stack.account}:db:{self.instance.instance_identifier}"

    def _replica(self, name: str, props: PostgresProps) -> rds.DatabaseInstanceReadReplica:
        # A same-region replica inherits the source's encryption and key; CloudFormation
        # rejects StorageEncrypted beside SourceDBInstanceIdentifier (cfn-lint E3020).
        replica = rds.DatabaseInstanceReadReplica(
            self,
            f"{name.title()}Replica",
            source_database_instance=self.instance,
            instance_identifier=f"{props.instance_identifier}-{name}",
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=props.vpc,
            vpc_subnets=props.database_subnets,
            security_groups=[props.database_security_group],
            parameter_group=self.parameter_group,
            iam_authentication=True,
            publicly_accessible=False,
            deletion_protection=props.deletion_protection,
            removal_policy=props.removal_policy,
            auto_minor_version_upgrade=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=props.encryption_key,
            monitoring_interval=cdk.Duration.seconds(props.monitoring_interval_seconds),
            monitoring_role=self.monitoring_role,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            cloudwatch_logs_retention=props.log_retention,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        cfn = replica.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        cfn.add_property_deletion_override("StorageEncrypted")
        return replica


def _monitoring_role(scope: Construct) -> iam.Role:
    """Enhanced monitoring without the AWS managed policy: the same grants, named log group."""
    role = iam.Role(
        scope, "MonitoringRole", assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com")
    )
    stack = cdk.Stack.of(scope)
    group = f"arn:aws:logs:{stack.region}:{stack.account}:log-group:RDSOSMetrics"
    policy = iam.ManagedPolicy(
        scope,
        "MonitoringPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                resources=[group],
            ),
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                ],
                resources=[f"{group}:log-stream:*"],
            ),
        ],
    )
    nag.acknowledge(
        policy,
        f"AwsSolutions-IAM5[Resource::{group}:log-stream:*]",
        "RDS enhanced monitoring writes one stream per instance into the RDSOSMetrics group "
        "with names RDS chooses; the wildcard covers streams of that one group only.",
    )
    return role


def _check(props: PostgresProps) -> None:
    if props.backup_retention_days < 1:
        raise ValueError("automated backups must be kept at least one day")
    if props.max_allocated_storage_gb < props.allocated_storage_gb:
        raise ValueError("max_allocated_storage_gb must be at least allocated_storage_gb")
    if props.monitoring_interval_seconds not in (1, 5, 10, 15, 30, 60):
        raise ValueError("enhanced monitoring interval must be 1, 5, 10, 15, 30 or 60 s")
