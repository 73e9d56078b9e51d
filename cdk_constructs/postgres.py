"""PostgreSQL on RDS for Lambda callers: encrypted, IAM-authenticated, behind RDS Proxy.

Defaults no prop can switch off: storage and Performance Insights encrypted with the given
customer-managed key, IAM database authentication, TLS required (rds.force_ssl and the
proxy's require_tls), not publicly accessible, enhanced monitoring, logs exported with a
retention, the master secret generated and rotated, minor versions upgraded automatically.
Sizing, Multi-AZ, backup retention, replicas and protection come from the props (config).

The proxy authenticates end to end with IAM (`DefaultAuthScheme: IAM_AUTH`): the functions'
login roles (migration 0007: engine_app, engine_health, granted rds_iam) need no password
anywhere. Only the master user keeps a secret, registered with the proxy for the schema
migrator, and rotated every 30 days by a function in its own security group.

`CrossRegionReplica` builds the DR region's read replica of a primary in another region
(pitfalls P16: the source is named by ARN, from the primary's fixed identifier).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import PolicyRoutingRole
from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps
from cdk_constructs.removal import stateful

ENGINE_VERSION = rds.PostgresEngineVersion.VER_16_9
MASTER_USERNAME = "engine_admin"
# Login roles that authenticate with IAM tokens (migration 0007 grants them rds_iam).
IAM_LOGIN_ROLES = ("engine_app", "engine_health")
PORT = 5432
ROTATION_DAYS = 30

# Seed §11.4.2, as fractions of the instance class's memory, so that one parameter group
# fits every class (RDS fills in DBInstanceClassMemory, in bytes, for the class it runs
# on). shared_buffers is 25% and effective_cache_size 75% of RAM; both count 8 kB pages,
# hence /32768 (a quarter of RAM in pages) and *3/32768. The seed's work_mem (256 MB) and
# maintenance_work_mem (2 GB) are 1/128 and 1/16 of prod's 32 GiB r6g.xlarge: taken as
# those fractions (both count kB: /131072 and /16384) and never above the seed's figures,
# so dev's 4 GiB t4g.medium gets 32 MB and 256 MB instead of memory it does not have.
WORK_MEM_FRACTION = 128
MAINTENANCE_WORK_MEM_FRACTION = 16
SEED_WORK_MEM_KB = 256 * 1024
SEED_MAINTENANCE_WORK_MEM_KB = 2 * 1024 * 1024
TUNING = {
    "shared_buffers": "{DBInstanceClassMemory/32768}",
    "effective_cache_size": "{DBInstanceClassMemory*3/32768}",
    "work_mem": f"LEAST({{DBInstanceClassMemory/{WORK_MEM_FRACTION * 1024}}},{SEED_WORK_MEM_KB})",
    "maintenance_work_mem": (
        f"LEAST({{DBInstanceClassMemory/{MAINTENANCE_WORK_MEM_FRACTION * 1024}}},"
        f"{SEED_MAINTENANCE_WORK_MEM_KB})"
    ),
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
    log_encryption_key: kms.IKey
    # Secrets Manager in the VPC: the rotation function's only HTTPS destination.
    secrets_endpoint_security_group: ec2.ISecurityGroup
    read_replica_names: Sequence[str] = ()  # e.g. ("reporting", "analytics")
    # Region -> the KMS key ARN there: the master secret is replicated for the DR replica.
    secret_replica_key_arns: Mapping[str, str] = field(default_factory=dict)
    database_name: str = "engine"
    monitoring_interval_seconds: int = 60


class PostgresDatabase(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PostgresProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        self.parameter_group = _parameter_group(self, engine)
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
                MASTER_USERNAME,
                encryption_key=props.encryption_key,
                replica_regions=[
                    secretsmanager.ReplicaRegion(
                        region=region,
                        encryption_key=kms.Key.from_key_arn(
                            self, f"SecretReplicaKey{region.title().replace('-', '')}", key_arn
                        ),
                    )
                    for region, key_arn in sorted(props.secret_replica_key_arns.items())
                ],
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
            removal_policy=stateful(props.removal_policy),
            auto_minor_version_upgrade=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=props.encryption_key,
            monitoring_interval=cdk.Duration.seconds(props.monitoring_interval_seconds),
            monitoring_role=self.monitoring_role,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        _exported_log_groups(self, "Logs", props.instance_identifier, props, self.instance)
        assert self.instance.secret is not None
        self.secret = self.instance.secret
        _keep_with_instance(self.instance, props.removal_policy, "Secret", "SubnetGroup")
        self.rotation_security_group = self._rotation_security_group(props)
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=cdk.Duration.days(ROTATION_DAYS),
            vpc_subnets=props.proxy_subnets,
            security_group=self.rotation_security_group,
        )
        # The schedule (Secrets Manager rotates as soon as it exists): a caller that must
        # not race the first rotation makes it depend on what has to come first.
        (self.rotation_schedule,) = [
            c for c in self.node.find_all() if isinstance(c, secretsmanager.RotationSchedule)
        ]
        self.proxy_role = self._proxy_role()
        self.proxy = self.instance.add_proxy(
            "Proxy",
            # Per instance, hence per environment: two environments in one account and
            # Region would otherwise collide, and a rename later replaces the endpoint.
            db_proxy_name=proxy_name(props.instance_identifier),
            role=self.proxy_role,
            secrets=[self.secret],
            vpc=props.vpc,
            vpc_subnets=props.proxy_subnets,
            security_groups=[props.proxy_security_group],
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
            default_auth_scheme=rds.DefaultAuthScheme.IAM_AUTH,
        )
        self.replicas = {name: self._replica(name, props) for name in props.read_replica_names}
        self._literal_port_rules(props)

    def _literal_port_rules(self, props: PostgresProps) -> None:
        """Replace CDK's "{IndirectPort}" rules (port = the instance's Endpoint.Port) by 5432.

        The security groups usually live in the network stack: a rule there whose port is
        an attribute of the instance, in this stack, is a reference back up the deploy
        order (a dependency cycle). The port is fixed, so the rules can say it.
        """
        groups = (
            props.database_security_group,
            props.proxy_security_group,
            self.rotation_security_group,
        )
        for group in groups:
            for child in list(group.node.children):
                if "{IndirectPort}" in child.node.id:
                    group.node.try_remove_child(child.node.id)
        pg = ec2.Port.tcp(PORT)
        props.proxy_security_group.connections.allow_to(
            props.database_security_group, pg, "RDS proxy to PostgreSQL"
        )
        self.rotation_security_group.connections.allow_to(
            props.database_security_group, pg, "Rotation to PostgreSQL"
        )

    def _proxy_role(self) -> PolicyRoutingRole:
        """The proxy's role: the master secret (CDK grants it) and, for end-to-end IAM, a
        `rds-db:connect` as the functions' login roles on this instance only."""
        role = PolicyRoutingRole(
            self,
            "ProxyRole",
            assumed_by=iam.ServicePrincipal("rds.amazonaws.com"),
            description="RDS Proxy: master secret, and IAM connect as the functions' login roles",
        )
        stack = cdk.Stack.of(self)
        dbuser = (
            f"arn:{stack.partition}:rds-db:{stack.region}:{stack.account}:dbuser:"
            f"{self.instance.instance_resource_id}"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["rds-db:connect"],
                resources=[f"{dbuser}/{user}" for user in IAM_LOGIN_ROLES],
            )
        )
        return role

    def _rotation_security_group(self, props: PostgresProps) -> ec2.SecurityGroup:
        """The rotation function reaches PostgreSQL (5432) and Secrets Manager (443) only."""
        group = ec2.SecurityGroup(
            self,
            "RotationSg",
            vpc=props.vpc,
            description="Master-secret rotation: 5432 to PostgreSQL, 443 to Secrets Manager",
            allow_all_outbound=False,
        )
        group.connections.allow_to(
            props.secrets_endpoint_security_group, ec2.Port.tcp(443), "Rotation to Secrets Manager"
        )
        return group

    def user_connect_arn(self, user: str) -> str:
        """The `rds-db:connect` resource for `user` through the proxy (end-to-end IAM)."""
        stack = cdk.Stack.of(self)
        proxy_resource_id = cdk.Fn.select(6, cdk.Fn.split(":", self.proxy.db_proxy_arn))
        return f"arn:aws:rds-db:{stack.region}:{stack.account}:dbuser:{proxy_resource_id}/{user}"

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
            **_replica_defaults(props, self.monitoring_role),
        )
        _exported_log_groups(
            self,
            f"{name.title()}ReplicaLogs",
            f"{props.instance_identifier}-{name}",
            props,
            replica,
        )
        cfn = replica.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        cfn.add_property_deletion_override("StorageEncrypted")
        _keep_with_instance(replica, props.removal_policy, "SubnetGroup")
        return replica


LOG_EXPORTS = ("postgresql", "upgrade")


def proxy_name(instance_identifier: str) -> str:
    """e.g. engine-prod-postgres-proxy."""
    return f"{instance_identifier}-proxy"


def _keep_with_instance(instance: Construct, policy: cdk.RemovalPolicy, *children: str) -> None:
    """Give what CDK makes beside an instance (its master secret, its subnet group) the
    instance's own removal policy. CDK leaves the secret at Delete, and retains the subnet
    group only for plain RETAIN: a kept instance would lose its password, or block the
    stack's deletion on a subnet group still in use."""
    for child_id in children:
        child = instance.node.find_child(child_id)
        assert isinstance(child, cdk.Resource), child_id
        child.apply_removal_policy(stateful(policy))


class _LoggedProps(Protocol):
    @property
    def log_retention(self) -> logs.RetentionDays: ...
    @property
    def log_encryption_key(self) -> kms.IKey: ...
    @property
    def removal_policy(self) -> cdk.RemovalPolicy: ...


def _exported_log_groups(
    scope: Construct, construct_id: str, identifier: str, props: _LoggedProps, instance: Construct
) -> None:
    """The groups RDS exports into, made first: CMK-encrypted and expiring (no LogRetention
    custom-resource function, which `cloudwatch_logs_retention` would add)."""
    for export in LOG_EXPORTS:
        group = EncryptedLogGroup(
            scope,
            f"{construct_id}{export.title()}",
            EncryptedLogGroupProps(
                encryption_key=props.log_encryption_key,
                retention=props.log_retention,
                removal_policy=props.removal_policy,
                log_group_name=f"/aws/rds/instance/{identifier}/{export}",
            ),
        )
        instance.node.add_dependency(group)


class _ReplicaProps(_LoggedProps, Protocol):
    @property
    def deletion_protection(self) -> bool: ...
    @property
    def max_allocated_storage_gb(self) -> int: ...
    @property
    def encryption_key(self) -> kms.IKey: ...
    @property
    def monitoring_interval_seconds(self) -> int: ...


def _replica_defaults(props: _ReplicaProps, monitoring_role: iam.IRole) -> dict[str, Any]:
    """What every read replica has, whatever its region: the primary's protections, and its
    storage: gp3 that grows to the primary's limit. A gp2 replica without autoscaling lags
    the primary first and halts replication when full (the RPO is gone), and a promoted DR
    replica would stay gp2 and fixed in size."""
    return {
        "storage_type": rds.StorageType.GP3,
        "max_allocated_storage": props.max_allocated_storage_gb,
        "iam_authentication": True,
        "publicly_accessible": False,
        "deletion_protection": props.deletion_protection,
        "removal_policy": stateful(props.removal_policy),
        "auto_minor_version_upgrade": True,
        "enable_performance_insights": True,
        "performance_insight_encryption_key": props.encryption_key,
        "monitoring_interval": cdk.Duration.seconds(props.monitoring_interval_seconds),
        "monitoring_role": monitoring_role,
        "cloudwatch_logs_exports": list(LOG_EXPORTS),
        "ca_certificate": rds.CaCertificate.RDS_CA_RSA2048_G1,
    }


def _parameter_group(scope: Construct, engine: rds.IInstanceEngine) -> rds.ParameterGroup:
    return rds.ParameterGroup(
        scope,
        "Parameters",
        engine=engine,
        description="Engine PostgreSQL: seed §11.4.2 tuning, TLS only, slow-query logging",
        parameters={**TUNING, **HARDENING},
    )


@dataclass(frozen=True)
class CrossRegionReplicaProps:
    source_instance_arn: str  # the primary, in another region, by its fixed identifier
    instance_identifier: str
    instance_type: str
    vpc: ec2.IVpc
    database_subnets: ec2.SubnetSelection
    database_security_group: ec2.ISecurityGroup
    encryption_key: kms.IKey  # this region's key: a cross-region replica re-encrypts
    # The primary's storage autoscaling limit: the replica grows with it.
    max_allocated_storage_gb: int
    multi_az: bool
    deletion_protection: bool
    removal_policy: cdk.RemovalPolicy
    log_retention: logs.RetentionDays
    log_encryption_key: kms.IKey
    monitoring_interval_seconds: int = 60


class CrossRegionReplica(Construct):
    """A read replica of another region's primary, promoted by the DR runbook when needed.

    Same defaults as the primary: CMK storage and Performance Insights, IAM auth, TLS only
    (its own parameter group with the same settings), enhanced monitoring, logs with a
    retention. Backups start when it is promoted (a replica keeps none of its own).
    """

    def __init__(self, scope: Construct, construct_id: str, props: CrossRegionReplicaProps) -> None:
        super().__init__(scope, construct_id)
        if not props.source_instance_arn.startswith("arn:"):
            raise ValueError("source_instance_arn must be the primary's ARN (pitfalls P16)")
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        self.parameter_group = _parameter_group(self, engine)
        self.monitoring_role = _monitoring_role(self)
        # The L2 wants an IDatabaseInstance; its identifier is replaced by the ARN below.
        source = rds.DatabaseInstance.from_database_instance_attributes(
            self,
            "Source",
            instance_identifier=props.instance_identifier,
            instance_endpoint_address="unused.invalid",
            port=PORT,
            security_groups=[],
            engine=engine,
        )
        self.instance = rds.DatabaseInstanceReadReplica(
            self,
            "Instance",
            source_database_instance=source,
            instance_identifier=props.instance_identifier,
            instance_type=ec2.InstanceType(props.instance_type),
            vpc=props.vpc,
            vpc_subnets=props.database_subnets,
            security_groups=[props.database_security_group],
            parameter_group=self.parameter_group,
            storage_encrypted=True,
            storage_encryption_key=props.encryption_key,
            multi_az=props.multi_az,
            **_replica_defaults(props, self.monitoring_role),
        )
        _exported_log_groups(self, "Logs", props.instance_identifier, props, self.instance)
        cfn = self.instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        cfn.source_db_instance_identifier = props.source_instance_arn
        # KmsKeyId (this region's key) stays; CloudFormation rejects StorageEncrypted beside
        # SourceDBInstanceIdentifier (cfn-lint E3020): the replica is encrypted regardless.
        cfn.add_property_deletion_override("StorageEncrypted")
        _keep_with_instance(self.instance, props.removal_policy, "SubnetGroup")
        self.identifier = props.instance_identifier

    def user_connect_arn(self, user: str) -> str:
        """The `rds-db:connect` resource for `user` on this replica (direct IAM auth)."""
        stack = cdk.Stack.of(self)
        resource_id = self.instance.instance_resource_id
        return f"arn:aws:rds-db:{stack.region}:{stack.account}:dbuser:{resource_id}/{user}"


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
