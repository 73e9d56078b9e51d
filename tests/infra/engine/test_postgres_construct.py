"""The PostgreSQL construct on its own: what it synthesizes, and that cfn-lint accepts it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from cdk_constructs.postgres import (
    TUNING,
    CrossRegionReplica,
    CrossRegionReplicaProps,
    PostgresDatabase,
    PostgresProps,
)
from cdk_constructs.stack_base import ConfiguredStack
from tests.infra.cfn_lint import cfn_lint
from tests.infra.synth import cdk_json_context, props, resources

REPLICA_KEY = "arn:aws:kms:ap-southeast-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"


def _database(stack: cdk.Stack, **overrides: Any) -> PostgresDatabase:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    proxy_sg = ec2.SecurityGroup(stack, "ProxySg", vpc=vpc, allow_all_outbound=False)
    db_sg = ec2.SecurityGroup(stack, "DbSg", vpc=vpc, allow_all_outbound=False)
    endpoint_sg = ec2.SecurityGroup(stack, "EndpointSg", vpc=vpc, allow_all_outbound=False)
    values: dict[str, Any] = {
        "secrets_endpoint_security_group": endpoint_sg,
        "secret_replica_key_arns": {"ap-southeast-1": REPLICA_KEY},
        "vpc": vpc,
        "database_subnets": ec2.SubnetSelection(subnet_group_name="db"),
        "proxy_subnets": ec2.SubnetSelection(subnet_group_name="app"),
        "database_security_group": db_sg,
        "proxy_security_group": proxy_sg,
        "encryption_key": kms.Key(stack, "Key", enable_key_rotation=True),
        "instance_identifier": "engine-test-db",
        "instance_type": "r6g.large",
        "multi_az": True,
        "allocated_storage_gb": 100,
        "max_allocated_storage_gb": 500,
        "backup_retention_days": 35,
        "deletion_protection": True,
        "removal_policy": cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        "log_retention": logs.RetentionDays.THREE_MONTHS,
        "log_encryption_key": kms.Key(stack, "LogsKey", enable_key_rotation=True),
        "read_replica_names": ("reporting", "analytics"),
    }
    values.update(overrides)
    return PostgresDatabase(stack, "Database", PostgresProps(**values))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    outdir = tmp_path_factory.mktemp("postgres")
    context = cdk_json_context() | {"aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(outdir))
    stack = ConfiguredStack(
        app,
        "PostgresTest",
        env=cdk.Environment(account="111111111111", region="ap-south-1"),
        availability_zones=["ap-south-1a", "ap-south-1b"],
    )
    _database(stack)
    dr_stack = ConfiguredStack(
        app,
        "PostgresDrTest",
        env=cdk.Environment(account="111111111111", region="ap-southeast-1"),
        availability_zones=["ap-southeast-1a", "ap-southeast-1b"],
    )
    _cross_region_replica(dr_stack)
    app.synth()
    path = outdir / "PostgresTest.template.json"
    return json.loads(path.read_text()), path


def _cross_region_replica(stack: cdk.Stack, **overrides: Any) -> CrossRegionReplica:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    values: dict[str, Any] = {
        "source_instance_arn": SOURCE_ARN,
        "instance_identifier": "engine-test-db-dr",
        "instance_type": "r6g.large",
        "vpc": vpc,
        "database_subnets": ec2.SubnetSelection(subnet_group_name="db"),
        "database_security_group": ec2.SecurityGroup(stack, "DbSg", vpc=vpc),
        "encryption_key": kms.Key(stack, "Key", enable_key_rotation=True),
        "max_allocated_storage_gb": 500,
        "multi_az": False,
        "deletion_protection": True,
        "removal_policy": cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        "log_retention": logs.RetentionDays.THREE_MONTHS,
        "log_encryption_key": kms.Key(stack, "LogsKey", enable_key_rotation=True),
    }
    values.update(overrides)
    return CrossRegionReplica(stack, "Replica", CrossRegionReplicaProps(**values))


SOURCE_ARN = "arn:aws:rds:ap-south-1:111111111111:db:engine-test-db"


@pytest.fixture(scope="module")
def dr_template(template: tuple[dict[str, Any], Path]) -> tuple[dict[str, Any], Path]:
    path = template[1].with_name("PostgresDrTest.template.json")
    return json.loads(path.read_text()), path


def _instances(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(template, "AWS::RDS::DBInstance").items()}


def test_primary_is_encrypted_iam_authenticated_private_and_protected(
    template: tuple[dict[str, Any], Path],
) -> None:
    primary = next(
        p for p in _instances(template[0]).values() if "SourceDBInstanceIdentifier" not in p
    )
    assert primary["Engine"] == "postgres"
    assert int(primary["EngineVersion"].split(".")[0]) >= 15
    assert primary["StorageEncrypted"] is True and "KmsKeyId" in primary
    assert primary["EnableIAMDatabaseAuthentication"] is True
    assert primary["PubliclyAccessible"] is False
    assert primary["MultiAZ"] is True
    assert primary["BackupRetentionPeriod"] == 35
    assert primary["DeletionProtection"] is True
    assert primary["EnablePerformanceInsights"] is True
    assert "PerformanceInsightsKMSKeyId" in primary
    assert primary["MonitoringInterval"] == 60
    assert primary["DBInstanceIdentifier"] == "engine-test-db"
    assert primary["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_two_read_replicas_with_the_same_protections(
    template: tuple[dict[str, Any], Path],
) -> None:
    replicas = [p for p in _instances(template[0]).values() if "SourceDBInstanceIdentifier" in p]
    assert sorted(r["DBInstanceIdentifier"] for r in replicas) == [
        "engine-test-db-analytics",
        "engine-test-db-reporting",
    ]
    for replica in replicas:
        assert "StorageEncrypted" not in replica  # inherited from the encrypted source
        assert "DatabaseInstance" in json.dumps(replica["SourceDBInstanceIdentifier"])
        assert replica["EnableIAMDatabaseAuthentication"] is True
        assert replica["EnablePerformanceInsights"] is True
        assert replica["PubliclyAccessible"] is False
        # The primary's storage: gp3, autoscaling to the same limit.
        assert (replica["StorageType"], replica["MaxAllocatedStorage"]) == ("gp3", 500)


def test_parameters_apply_the_seed_tuning_and_force_tls(
    template: tuple[dict[str, Any], Path],
) -> None:
    [group] = props(template[0], "AWS::RDS::DBParameterGroup")
    assert group["Parameters"]["rds.force_ssl"] == "1"
    for name, value in TUNING.items():
        assert group["Parameters"][name] == value


def test_proxy_requires_tls_and_iam_and_the_secret_rotates(
    template: tuple[dict[str, Any], Path],
) -> None:
    [proxy] = props(template[0], "AWS::RDS::DBProxy")
    assert proxy["RequireTLS"] is True
    assert proxy["Auth"][0]["IAMAuth"] == "REQUIRED"
    assert proxy["EngineFamily"] == "POSTGRESQL"
    # End-to-end IAM: the functions' login roles need no secret in the proxy.
    assert proxy["DefaultAuthScheme"] == "IAM_AUTH"
    [schedule] = props(template[0], "AWS::SecretsManager::RotationSchedule")
    assert schedule["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    [secret] = props(template[0], "AWS::SecretsManager::Secret")
    assert "KmsKeyId" in secret
    assert secret["ReplicaRegions"] == [
        {
            "Region": "ap-southeast-1",
            "KmsKeyId": REPLICA_KEY,
        }
    ]


def test_rotation_reaches_only_postgres_and_secrets_manager(
    template: tuple[dict[str, Any], Path],
) -> None:
    groups = resources(template[0], "AWS::EC2::SecurityGroup")
    [rotation_id] = [k for k in groups if k.startswith("DatabaseRotationSg")]
    rotation = groups[rotation_id]["Properties"]
    assert rotation.get("SecurityGroupEgress", []) == []  # no default allow-all
    egress = [
        r["Properties"]
        for r in resources(template[0], "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [rotation_id, "GroupId"]}
    ]
    destinations = sorted(
        (json.dumps(e["FromPort"]), e["DestinationSecurityGroupId"]["Fn::GetAtt"][0])
        for e in egress
    )
    assert len(destinations) == 2
    assert destinations[0][0] == "443" and destinations[0][1].startswith("EndpointSg")
    assert destinations[1][0] == "5432" and destinations[1][1].startswith("DbSg")


def test_every_rule_names_port_5432_literally(template: tuple[dict[str, Any], Path]) -> None:
    """No rule's port is the instance's Endpoint.Port: in the engine the groups live in the
    network stack, and such a rule would reference the database stack (a cycle)."""
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        for rule in props(template[0], kind):
            assert isinstance(rule["FromPort"], int) and isinstance(rule["ToPort"], int), rule


def test_proxy_connects_with_iam_as_the_login_roles_only(
    template: tuple[dict[str, Any], Path],
) -> None:
    policies = [
        p
        for p in props(template[0], "AWS::IAM::ManagedPolicy")
        if "rds-db:connect" in json.dumps(p["PolicyDocument"])
    ]
    [policy] = policies
    [statement] = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Action"] == "rds-db:connect"
    ]
    users = sorted(json.dumps(r).rsplit("/", 1)[1].rstrip('"]}') for r in statement["Resource"])
    assert users == ["engine_app", "engine_health"]
    assert props(template[0], "AWS::IAM::Policy") == []  # no inline policies anywhere


def test_exported_logs_are_cmk_encrypted_and_expire(template: tuple[dict[str, Any], Path]) -> None:
    groups = {g["LogGroupName"]: g for g in props(template[0], "AWS::Logs::LogGroup")}
    for identifier in ("engine-test-db", "engine-test-db-reporting", "engine-test-db-analytics"):
        for export in ("postgresql", "upgrade"):
            group = groups[f"/aws/rds/instance/{identifier}/{export}"]
            assert group["RetentionInDays"] == 90 and "KmsKeyId" in group
    assert resources(template[0], "Custom::LogRetention") == {}


def test_proxy_grants_name_the_user_through_the_proxy() -> None:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = ConfiguredStack(
        app,
        "Grant",
        env=cdk.Environment(account="111111111111", region="ap-south-1"),
        availability_zones=["ap-south-1a", "ap-south-1b"],
    )
    database = _database(stack)
    arn = stack.resolve(database.user_connect_arn("engine_health"))
    text = json.dumps(arn)
    assert "rds-db:ap-south-1:111111111111:dbuser:" in text
    assert "/engine_health" in text and "Proxy" in text


def test_cross_region_replica_names_its_source_by_arn_and_re_encrypts(
    dr_template: tuple[dict[str, Any], Path],
) -> None:
    [replica] = props(dr_template[0], "AWS::RDS::DBInstance")
    assert replica["SourceDBInstanceIdentifier"] == SOURCE_ARN
    assert replica["DBInstanceIdentifier"] == "engine-test-db-dr"
    assert "KmsKeyId" in replica and "StorageEncrypted" not in replica
    assert replica["EnableIAMDatabaseAuthentication"] is True
    assert replica["PubliclyAccessible"] is False
    assert replica["DeletionProtection"] is True
    assert replica["EnablePerformanceInsights"] is True
    assert (replica["StorageType"], replica["MaxAllocatedStorage"]) == ("gp3", 500)
    [group] = props(dr_template[0], "AWS::RDS::DBParameterGroup")
    assert group["Parameters"]["rds.force_ssl"] == "1"


def test_cross_region_replica_needs_an_arn() -> None:
    stack = ConfiguredStack(
        cdk.App(),
        "BadDr",
        env=cdk.Environment(account="111111111111", region="ap-southeast-1"),
        availability_zones=["ap-southeast-1a"],
    )
    with pytest.raises(ValueError, match="P16"):
        _cross_region_replica(stack, source_instance_arn="engine-test-db")


def test_monitoring_role_has_no_aws_managed_policy(
    template: tuple[dict[str, Any], Path],
) -> None:
    roles = [
        r
        for r in props(template[0], "AWS::IAM::Role")
        if "monitoring.rds.amazonaws.com" in json.dumps(r["AssumeRolePolicyDocument"])
    ]
    assert len(roles) == 1
    assert "ManagedPolicyArns" not in roles[0] or all(
        "aws:policy" not in json.dumps(arn) for arn in roles[0]["ManagedPolicyArns"]
    )


def test_cfn_lint_accepts_it(
    template: tuple[dict[str, Any], Path], dr_template: tuple[dict[str, Any], Path]
) -> None:
    result = subprocess.run(
        [
            cfn_lint(),
            "--format",
            "json",
            "--regions",
            "ap-south-1",
            "ap-southeast-1",
            "--",
            str(template[1]),
            str(dr_template[1]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [m for m in json.loads(result.stdout or "[]") if m["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)[:3000]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backup_retention_days": 0}, "at least one day"),
        ({"max_allocated_storage_gb": 10}, "max_allocated_storage_gb"),
        ({"monitoring_interval_seconds": 7}, "monitoring interval"),
    ],
)
def test_bad_props_fail_early(overrides: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(
        cdk.App(), "Bad", env=cdk.Environment(account="111111111111", region="ap-south-1")
    )
    with pytest.raises(ValueError, match=message):
        _database(stack, **overrides)
