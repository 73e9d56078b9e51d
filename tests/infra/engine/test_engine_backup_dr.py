"""AWS Backup, failover DNS and the DR runbook: what they build, what they refuse, and
that all four nag packs and cfn-lint (in each template's Region) pass them.

One App per module: prod (with a domain) gets every stack, wired the way the stage
will wire them (the Singapore API domains reach the Mumbai DNS stack, and its
health check ids reach the Singapore runbook, through cross-Region references);
dev gets its backup stack only (no DR).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_backup as backup
from aws_cdk import aws_route53 as route53

from cdk_constructs import nag
from cdk_constructs.backup import (
    SERVICE_ROLE_POLICIES,
    BackupVault,
    BackupVaultProps,
    DailyBackupPlan,
    DailyBackupPlanProps,
)
from cdk_constructs.dr_runbook import (
    FailoverRunbook,
    FailoverRunbookProps,
    runbook_content,
)
from cdk_constructs.failover_dns import FailoverRecords, FailoverRecordsProps, FailoverTarget
from cdk_constructs.stack_base import ConfiguredStack
from config import load_engine
from config.engine import DR_REGION, REGION, DomainConfig, EngineConfig
from engine import declarations
from engine.handlers.jobs import receipt_counters as receipt_counters_handler
from stacks.engine.backup import (
    EngineBackupStack,
    EngineDrBackupVaultStack,
    dr_vault_arn,
    vault_name,
)
from stacks.engine.dr import (
    EngineDnsStack,
    EngineDrRunbookStack,
    FailoverApi,
    api_domain,
    failover_target,
)
from tests.infra.cfn_lint import WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.engine.test_engine_cfn_lint import ENGINE_TOLERATED_WARNINGS
from tests.infra.synth import cdk_json_context

ZONE_ID = "Z0123456789ABCDEFGHIJ"
ZONE = "pay.fivestar.example"
REPLICA = "engine-prod-postgres-dr"
KEY_ID = "mrk-0123456789abcdef0123456789abcdef"


def _prod() -> EngineConfig:
    return dataclasses.replace(
        load_engine("prod"), domain=DomainConfig(hosted_zone_id=ZONE_ID, zone_name=ZONE)
    )


def _key(cfg: EngineConfig, region: str) -> str:
    return f"arn:aws:kms:{region}:{cfg.account}:key/{KEY_ID}"


def _resources(cfg: EngineConfig) -> list[str]:
    return [
        f"arn:aws:rds:{REGION}:{cfg.account}:db:engine-{cfg.env_name}-postgres",
        f"arn:aws:dynamodb:{REGION}:{cfg.account}:table/engine-{cfg.env_name}-payments",
        f"arn:aws:s3:::engine-{cfg.env_name}-documents",
    ]


def _topic(cfg: EngineConfig) -> str:
    return f"arn:aws:sns:{DR_REGION}:{cfg.account}:engine-{cfg.env_name}-dr"


@dataclass
class Built:
    outdir: Path
    prod: EngineConfig
    dev: EngineConfig
    stacks: dict[str, cdk.Stack]
    templates: dict[str, dict[str, Any]]

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def resources(self, stack: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.templates[stack]["Resources"].items()
            if resource["Type"] == resource_type
        }

    def one(self, stack: str, resource_type: str) -> dict[str, Any]:
        (resource,) = self.resources(stack, resource_type).values()
        return dict(resource["Properties"])


def _api_stack(
    app: cdk.App, cfg: EngineConfig, name: str, env: cdk.Environment
) -> tuple[cdk.Stack, list[FailoverTarget]]:
    """Stands in for an API stack: the custom domains plus an imported API id."""
    assert cfg.domain is not None
    stack = ConfiguredStack(app, name, env=env, availability_zones=[f"{env.region}a"])
    targets = [
        failover_target(
            api_domain(stack, cfg, host).domain,
            apigateway.RestApi.from_rest_api_id(stack, f"{host}Api", f"{host}{name.lower()}"),
            "v1",
        )
        for host in (cfg.domain.portal_api_host, cfg.domain.internal_api_host)
    ]
    return stack, targets


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    outdir = tmp_path_factory.mktemp("engine-backup-dr")
    app = cdk.App(
        context=cdk_json_context() | {"aws:cdk:bundling-stacks": []},
        outdir=str(outdir),
        analytics_reporting=False,
    )
    nag.register_packs(app)
    prod, dev = _prod(), load_engine("dev")
    assert prod.domain is not None
    primary_api, primary_targets = _api_stack(app, prod, "PrimaryApi", prod.cdk_environment)
    secondary_api, secondary_targets = _api_stack(
        app, prod, "SecondaryApi", prod.dr_cdk_environment
    )
    stacks: dict[str, cdk.Stack] = {
        "DrVault": EngineDrBackupVaultStack(
            app, "DrVault", cfg=prod, backup_key_arn=_key(prod, DR_REGION)
        ),
        "Backup": EngineBackupStack(
            app,
            "Backup",
            cfg=prod,
            backup_key_arn=_key(prod, REGION),
            resource_arns=_resources(prod),
        ),
        "DevBackup": EngineBackupStack(
            app,
            "DevBackup",
            cfg=dev,
            backup_key_arn=_key(dev, REGION),
            resource_arns=_resources(dev),
        ),
        "PrimaryApi": primary_api,
        "SecondaryApi": secondary_api,
    }
    dns = EngineDnsStack(
        app,
        "Dns",
        cfg=prod,
        apis=[
            FailoverApi(host=host, primary=primary, secondary=secondary)
            for host, primary, secondary in zip(
                (prod.domain.portal_api_host, prod.domain.internal_api_host),
                primary_targets,
                secondary_targets,
                strict=True,
            )
        ],
    )
    stacks["Dns"] = dns
    stacks["Runbook"] = EngineDrRunbookStack(
        app,
        "Runbook",
        cfg=prod,
        replica_identifier=REPLICA,
        notification_topic_arn=_topic(prod),
        notification_key_arn=_key(prod, DR_REGION),
    )
    assembly = app.synth()
    templates = {
        name: assembly.get_stack_by_name(stack.stack_name).template
        for name, stack in stacks.items()
    }
    return Built(outdir=outdir, prod=prod, dev=dev, stacks=stacks, templates=templates)


# --- AWS Backup --------------------------------------------------------------------


def _rule(built: Built, stack: str) -> dict[str, Any]:
    (rule,) = built.one(stack, "AWS::Backup::BackupPlan")["BackupPlan"]["BackupPlanRule"]
    return dict(rule)


def test_the_plan_runs_daily_at_one_am_ist_and_keeps_the_configured_days(built: Built) -> None:
    for stack, cfg in (("Backup", built.prod), ("DevBackup", built.dev)):
        rule = _rule(built, stack)
        assert rule["ScheduleExpression"] == "cron(30 19 * * ? *)"
        assert rule["StartWindowMinutes"] == 60
        assert rule["CompletionWindowMinutes"] == 480
        assert rule["Lifecycle"] == {"DeleteAfterDays": cfg.backup_retention_days}
    assert _rule(built, "Backup")["Lifecycle"]["DeleteAfterDays"] == 35


def test_prod_copies_to_the_singapore_vault_for_seven_days_and_dev_copies_nothing(
    built: Built,
) -> None:
    assert _rule(built, "Backup")["CopyActions"] == [
        {
            "DestinationBackupVaultArn": (
                f"arn:aws:backup:{DR_REGION}:{built.prod.account}:backup-vault:engine-prod-backup"
            ),
            "Lifecycle": {"DeleteAfterDays": 7},
        }
    ]
    assert "CopyActions" not in _rule(built, "DevBackup")


def test_the_copy_target_arn_is_the_dr_vault_the_dr_stack_builds(built: Built) -> None:
    dr_vault = built.one("DrVault", "AWS::Backup::BackupVault")
    assert dr_vault["BackupVaultName"] == vault_name(built.prod)
    assert built.stacks["DrVault"].region == DR_REGION
    assert built.stacks["DrVault"].account == built.prod.account
    assert (
        dr_vault_arn(built.prod)
        == _rule(built, "Backup")["CopyActions"][0]["DestinationBackupVaultArn"]
    )


def test_vaults_use_the_given_keys_and_only_root_may_shorten_recovery_points(
    built: Built,
) -> None:
    for stack, cfg, region in (
        ("Backup", built.prod, REGION),
        ("DrVault", built.prod, DR_REGION),
        ("DevBackup", built.dev, REGION),
    ):
        vault = built.one(stack, "AWS::Backup::BackupVault")
        assert vault["EncryptionKeyArn"] == _key(cfg, region)
        (statement,) = vault["AccessPolicy"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == {"AWS": "*"}
        assert "backup:DeleteRecoveryPoint" in statement["Action"]
        assert "backup:UpdateRecoveryPointLifecycle" in statement["Action"]
        assert statement["Condition"] == {
            "StringNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{cfg.account}:root"}
        }
    prod_vault = built.resources("Backup", "AWS::Backup::BackupVault")
    dev_vault = built.resources("DevBackup", "AWS::Backup::BackupVault")
    assert [v["DeletionPolicy"] for v in prod_vault.values()] == ["RetainExceptOnCreate"]
    assert [v["DeletionPolicy"] for v in dev_vault.values()] == ["Delete"]


def test_the_selection_names_exactly_the_given_resources_with_its_own_role(
    built: Built,
) -> None:
    selection = built.one("Backup", "AWS::Backup::BackupSelection")["BackupSelection"]
    assert selection["Resources"] == _resources(built.prod)
    (role_id,) = built.resources("Backup", "AWS::IAM::Role")
    assert selection["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    role = built.one("Backup", "AWS::IAM::Role")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    attached = [arn["Fn::Join"][1][-1] for arn in role["ManagedPolicyArns"]]
    assert attached == [f":iam::aws:policy/{name}" for name in SERVICE_ROLE_POLICIES]
    assert "Policies" not in role


def test_backup_stacks_are_stateful_and_in_their_regions(built: Built) -> None:
    assert built.stacks["Backup"].region == REGION
    assert built.stacks["Backup"].stack_name == "engine-prod-backup"
    assert built.stacks["DrVault"].stack_name == "engine-prod-dr-backup"
    assert built.stacks["Backup"].termination_protection
    assert built.stacks["DrVault"].termination_protection
    assert not built.stacks["DevBackup"].termination_protection


def _plan_props(stack: cdk.Stack, **changes: Any) -> DailyBackupPlanProps:
    values: dict[str, Any] = {
        "name": "p",
        "vault": backup.BackupVault.from_backup_vault_name(stack, "Vault", "v"),
        "retention_days": 7,
        "resources": ["arn:aws:s3:::b"],
    }
    return DailyBackupPlanProps(**(values | changes))


def _stack(region: str = REGION) -> cdk.Stack:
    return ConfiguredStack(
        cdk.App(),
        "S",
        env=cdk.Environment(account="123456789012", region=region),
        availability_zones=[f"{region}a"],
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resources": []}, "at least one resource"),
        ({"resources": ["arn:aws:ec2:ap-south-1:1:volume/v"]}, "not an RDS, DynamoDB or S3"),
        ({"resources": ["arn:aws:s3:::b", "arn:aws:s3:::b"]}, "distinct"),
        ({"retention_days": 0}, "retention_days"),
        ({"copy_to_vault_arn": "arn:aws:backup:ap-southeast-1:1:backup-vault:v"}, "together"),
        ({"copy_retention_days": 7}, "together"),
    ],
)
def test_the_plan_refuses_bad_props(changes: dict[str, Any], message: str) -> None:
    stack = _stack()
    with pytest.raises(ValueError, match=message):
        DailyBackupPlan(stack, "Plan", _plan_props(stack, **changes))


def test_the_vault_refuses_a_bad_name() -> None:
    stack = _stack()
    key = cdk.aws_kms.Key.from_key_arn(stack, "K", _key(_prod(), REGION))
    with pytest.raises(ValueError, match="vault name"):
        BackupVault(stack, "V", BackupVaultProps("bad name!", key, cdk.RemovalPolicy.DESTROY))


# --- DNS ---------------------------------------------------------------------------


def test_each_name_has_https_health_checks_on_health_every_30s_failing_after_3(
    built: Built,
) -> None:
    checks = built.resources("Dns", "AWS::Route53::HealthCheck")
    endpoints = [
        c["Properties"]["HealthCheckConfig"]
        for c in checks.values()
        if c["Properties"]["HealthCheckConfig"]["Type"] == "HTTPS"
    ]
    assert len(endpoints) == 4  # two names, two Regions
    fqdns = set()
    for config in endpoints:
        assert config["ResourcePath"] == "/v1/health"
        assert config["RequestInterval"] == 30
        assert config["FailureThreshold"] == 3
        assert config["MeasureLatency"] is False
        assert config["Port"] == 443
        assert "Regions" not in config
        fqdns.add(config["FullyQualifiedDomainName"])
    assert fqdns == {
        f"{host}{region}.execute-api.{name}.amazonaws.com"
        for host in ("api", "engine")
        for region, name in (("primaryapi", REGION), ("secondaryapi", DR_REGION))
    }


def test_the_primary_answers_while_its_endpoint_is_healthy_and_the_switch_is_not_thrown(
    built: Built,
) -> None:
    checks = built.resources("Dns", "AWS::Route53::HealthCheck")
    [switch_id] = [
        k
        for k, c in checks.items()
        if c["Properties"]["HealthCheckConfig"]["Type"] == "CLOUDWATCH_METRIC"
    ]
    switch = checks[switch_id]["Properties"]["HealthCheckConfig"]
    assert switch["AlarmIdentifier"] == {
        "Name": "engine-prod-dr-traffic-switch",
        "Region": DR_REGION,
    }
    assert switch["InsufficientDataHealthStatus"] == "Healthy"  # before any failover
    records = built.resources("Dns", "AWS::Route53::RecordSet").values()
    primaries = [r["Properties"] for r in records if r["Properties"]["Failover"] == "PRIMARY"]
    assert len(primaries) == 2
    for record in primaries:
        (check_id,) = [record["HealthCheckId"]["Fn::GetAtt"][0]]
        config = checks[check_id]["Properties"]["HealthCheckConfig"]
        assert config["Type"] == "CALCULATED"
        children = [c["Fn::GetAtt"][0] for c in config["ChildHealthChecks"]]
        assert config["HealthThreshold"] == len(children) == 2
        assert switch_id in children
        (endpoint,) = [c for c in children if c != switch_id]
        fqdn = checks[endpoint]["Properties"]["HealthCheckConfig"]["FullyQualifiedDomainName"]
        assert fqdn.endswith(f".{REGION}.amazonaws.com")
        assert fqdn.startswith(record["Name"].split(".")[0])


def test_primary_and_secondary_alias_records_point_at_their_regions(built: Built) -> None:
    records = built.resources("Dns", "AWS::Route53::RecordSet")
    checks = built.resources("Dns", "AWS::Route53::HealthCheck")
    by_key = {
        (r["Properties"]["Name"], r["Properties"]["Failover"]): r["Properties"]
        for r in records.values()
    }
    assert set(by_key) == {
        (f"{host}.{ZONE}", role) for host in ("api", "engine") for role in ("PRIMARY", "SECONDARY")
    }
    for (name, role), record in by_key.items():
        assert record["HostedZoneId"] == ZONE_ID
        assert record["Type"] == "A"
        assert record["SetIdentifier"] == role.lower()
        assert record["AliasTarget"]["EvaluateTargetHealth"] is True
        domain = "ApiCustomDomain" if name.startswith("api.") else "EngineCustomDomain"
        alias = json.dumps(record["AliasTarget"])
        assert domain in alias
        # Primary: Mumbai's domain (same-Region import); secondary: Singapore's,
        # through the cross-Region reader.
        if role == "PRIMARY":
            assert "PrimaryApi:" in alias and "RegionalDomainName" in alias
        else:
            assert "ExportsReader" in alias and "SecondaryApiapsoutheast1" in alias
        if role == "SECONDARY":
            (check_id,) = [record["HealthCheckId"]["Fn::GetAtt"][0]]
            config = checks[check_id]["Properties"]["HealthCheckConfig"]
            assert config["FullyQualifiedDomainName"].endswith(f".{DR_REGION}.amazonaws.com")
            assert config["FullyQualifiedDomainName"].startswith(name.split(".")[0])


def test_api_domain_is_regional_tls_1_2_with_a_dns_validated_certificate(built: Built) -> None:
    for stack in ("PrimaryApi", "SecondaryApi"):
        domains = built.resources(stack, "AWS::ApiGateway::DomainName")
        certificates = built.resources(stack, "AWS::CertificateManager::Certificate")
        assert {d["Properties"]["DomainName"] for d in domains.values()} == {
            f"api.{ZONE}",
            f"engine.{ZONE}",
        }
        for domain in domains.values():
            props = domain["Properties"]
            assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
            assert props["SecurityPolicy"] == "TLS_1_2"
            (certificate_id,) = [props["RegionalCertificateArn"]["Ref"]]
            certificate = certificates[certificate_id]["Properties"]
            assert certificate["DomainName"] == props["DomainName"]
            assert certificate["ValidationMethod"] == "DNS"
            assert certificate["DomainValidationOptions"] == [
                {"DomainName": props["DomainName"], "HostedZoneId": ZONE_ID}
            ]


def test_dns_and_domains_need_a_configured_domain() -> None:
    dev = load_engine("dev")
    stack = _stack()
    with pytest.raises(ValueError, match="has no domain"):
        api_domain(stack, dev, "api")
    target = FailoverTarget("d-1.execute-api.x", "Z1", "a.execute-api.x")
    with pytest.raises(ValueError, match="has no domain"):
        EngineDnsStack(cdk.App(), "D", cfg=dev, apis=[FailoverApi("api", target, target)])
    with pytest.raises(ValueError, match="distinct"):
        EngineDnsStack(
            cdk.App(),
            "D",
            cfg=_prod(),
            apis=[FailoverApi("api", target, target), FailoverApi("api", target, target)],
        )


@pytest.mark.parametrize(
    ("record_name", "path", "fqdn", "message"),
    [
        ("api.other.example", "/health", "a.execute-api.x", "not inside zone"),
        (f"api.{ZONE}", "health", "a.execute-api.x", "must start with '/'"),
        (f"api.{ZONE}", "/he alth", "a.execute-api.x", "must start with '/'"),
        (f"api.{ZONE}", "/health", f"api.{ZONE}", "follow the failover record"),
    ],
)
def test_failover_records_refuse_bad_props(
    record_name: str, path: str, fqdn: str, message: str
) -> None:
    stack = _stack()
    zone = route53.HostedZone.from_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id=ZONE_ID, zone_name=ZONE
    )
    good = FailoverTarget("d-1.execute-api.x", "Z1", "b.execute-api.x")
    bad = FailoverTarget("d-2.execute-api.x", "Z2", fqdn, path)
    with pytest.raises(ValueError, match=message):
        FailoverRecords(stack, "R", FailoverRecordsProps(zone, record_name, bad, good, "hc-1"))


# --- Runbook -----------------------------------------------------------------------

STEPS = [
    "CheckConfirmation",
    "AssertReplicaAvailable",
    "PromoteReplica",
    "LetPromotionStart",
    "WaitForPromotedInstance",
    # The regional receipt counters raised above the promoted database's receipts, and the
    # function's answer required, before anything can capture a payment here.
    "CarryOverReceiptCounters",
    "CheckReceiptCountersCarriedOver",
    # The jobs and consumers that run only in the active Region, once the database writes.
    "EnableEngineProdPaymentSweep",
    "EnableEngineProdTransactionsRepair",
    "EnableEngineProdLmsSweep",
    "EnableEngineProdLmsHeartbeat",
    "EnableEngineProdLoanSync",
    "EnableEngineProdHrmsSync",
    "FindEngineProdTransactionsSyncMapping",
    "EnableEngineProdTransactionsSyncMapping",
    "FindEngineProdLmsPosterMapping",
    "EnableEngineProdLmsPosterMapping",
    "MoveTrafficToThisRegion",
    "MakeMultiAz",
    "NotifyOperations",
    "RefuseWithoutConfirmation",
]


def _document(built: Built) -> dict[str, Any]:
    return built.one("Runbook", "AWS::SSM::Document")


def test_the_runbook_is_a_json_automation_document_with_its_steps_in_order(
    built: Built,
) -> None:
    document = _document(built)
    assert document["DocumentType"] == "Automation"
    assert document["DocumentFormat"] == "JSON"
    assert document["Name"] == "engine-prod-dr-failover"
    assert built.stacks["Runbook"].document_name == "engine-prod-dr-failover"  # type: ignore[attr-defined]
    assert built.stacks["Runbook"].region == DR_REGION
    content = json.loads(json.dumps(document["Content"]))
    assert content["schemaVersion"] == "0.3"
    (role_id,) = [k for k in built.resources("Runbook", "AWS::IAM::Role") if "Failover" in k]
    assert content["assumeRole"] == {"Fn::GetAtt": [role_id, "Arn"]}
    steps = content["mainSteps"]
    assert [s["name"] for s in steps] == STEPS
    assert "aws:approve" not in {s["action"] for s in steps}
    assert [s["name"] for s in steps if s.get("isEnd")] == [
        "NotifyOperations",
        "RefuseWithoutConfirmation",
    ]


def test_the_runbook_demands_the_environment_name_before_it_touches_anything(
    built: Built,
) -> None:
    content = _document(built)["Content"]
    assert content["parameters"]["Confirm"]["allowedPattern"] == "^prod$"
    check, refuse = content["mainSteps"][0], content["mainSteps"][-1]
    assert check["action"] == "aws:branch"
    assert check["inputs"]["Choices"] == [
        {"NextStep": "AssertReplicaAvailable", "Variable": "{{ Confirm }}", "StringEquals": "prod"}
    ]
    assert check["inputs"]["Default"] == refuse["name"] == "RefuseWithoutConfirmation"
    assert "raise" in refuse["inputs"]["Script"]


def test_the_runbook_promotes_waits_moves_traffic_goes_multi_az_and_notifies(
    built: Built,
) -> None:
    steps = {s["name"]: s for s in _document(built)["Content"]["mainSteps"]}
    assert steps["AssertReplicaAvailable"]["action"] == "aws:assertAwsResourceProperty"
    for name in ("AssertReplicaAvailable", "WaitForPromotedInstance"):
        assert steps[name]["inputs"] | {} == {
            "Service": "rds",
            "Api": "DescribeDBInstances",
            "DBInstanceIdentifier": REPLICA,
            "PropertySelector": "$.DBInstances[0].DBInstanceStatus",
            "DesiredValues": ["available"],
        }
    assert steps["WaitForPromotedInstance"]["action"] == "aws:waitForAwsResourceProperty"
    assert steps["PromoteReplica"]["inputs"] == {
        "Service": "rds",
        "Api": "PromoteReadReplica",
        "DBInstanceIdentifier": REPLICA,
        "BackupRetentionPeriod": built.prod.backup_retention_days,
    }
    assert steps["MoveTrafficToThisRegion"]["inputs"] == {
        "Service": "cloudwatch",
        "Api": "PutMetricData",
        "Namespace": "FivestarPaymentsEngine/Failover/prod",
        "MetricData": [{"MetricName": "PrimaryOutOfService", "Value": 1, "Unit": "Count"}],
    }
    # The switch's alarm, in this stack: ALARM from that one datapoint on, and it stays.
    switch = built.one("Runbook", "AWS::CloudWatch::Alarm")
    assert switch["AlarmName"] == "engine-prod-dr-traffic-switch"
    assert (switch["Namespace"], switch["MetricName"]) == (
        "FivestarPaymentsEngine/Failover/prod",
        "PrimaryOutOfService",
    )
    assert (switch["Threshold"], switch["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert switch["TreatMissingData"] == "ignore" and switch["ActionsEnabled"] is False
    # The standby ran in one zone; the promoted primary does not (database.py's promise).
    assert steps["MakeMultiAz"]["inputs"] == {
        "Service": "rds",
        "Api": "ModifyDBInstance",
        "DBInstanceIdentifier": REPLICA,
        "MultiAZ": True,
        "ApplyImmediately": True,
    }
    assert steps["NotifyOperations"]["inputs"]["TopicArn"] == _topic(built.prod)


CARRY_OVER_FUNCTION = "engine-prod-receipt-counters-carry-over"


def test_the_counters_are_carried_over_after_promotion_and_before_jobs_and_traffic_move(
    built: Built,
) -> None:
    names = [s["name"] for s in _document(built)["Content"]["mainSteps"]]
    promoted = names.index("WaitForPromotedInstance")
    carried, checked = (
        names.index("CarryOverReceiptCounters"),
        names.index("CheckReceiptCountersCarriedOver"),
    )
    jobs = [i for i, n in enumerate(names) if n.startswith("Enable")]
    switch = names.index("MoveTrafficToThisRegion")
    assert promoted < carried < checked < min(jobs) <= max(jobs) < switch
    assert checked == carried + 1 and min(jobs) == checked + 1


def test_the_carry_over_is_invoked_synchronously_and_stops_the_runbook_unless_it_says_so(
    built: Built,
) -> None:
    steps = {s["name"]: s for s in _document(built)["Content"]["mainSteps"]}
    invoke = steps["CarryOverReceiptCounters"]
    assert invoke["action"] == "aws:invokeLambdaFunction"
    assert invoke["inputs"] == {
        "FunctionName": CARRY_OVER_FUNCTION,
        "InvocationType": "RequestResponse",
        "Payload": "{}",
    }
    # SSM waits at most 300 s for the step; the function's own timeout is below that.
    assert invoke["timeoutSeconds"] == 300
    assert declarations.RECEIPT_COUNTERS_CARRY_OVER.timeout_seconds < 300
    assert invoke["onFailure"] == "Abort" and invoke["maxAttempts"] > 1  # idempotent
    check = steps["CheckReceiptCountersCarriedOver"]
    assert check["action"] == "aws:executeScript" and check["onFailure"] == "Abort"
    assert check["inputs"]["InputPayload"] == {"Answer": "{{ CarryOverReceiptCounters.Payload }}"}
    namespace: dict[str, Any] = {}
    exec(check["inputs"]["Script"], namespace)  # noqa: S102 - the document's own script
    run = namespace[check["inputs"]["Handler"]]
    done = {"outcome": "carried-over", "counters_raised": 3, "counters_already_higher": 0}
    assert run({"Answer": json.dumps(done)}, None) == done
    # The handler's own word for success is the one the check requires.
    assert receipt_counters_handler.OUTCOME == "carried-over"
    error = {"errorMessage": "cannot connect", "errorType": "DatabaseUnavailable"}
    for answer in (json.dumps(error), "", "null", "not json", json.dumps({"outcome": "no"})):
        with pytest.raises(ValueError, match="not carried over"):
            run({"Answer": answer}, None)


def test_the_runbook_switches_on_the_standbys_jobs_and_stream_consumer(built: Built) -> None:
    steps = {s["name"]: s for s in _document(built)["Content"]["mainSteps"]}
    for rule in (
        "engine-prod-payment-sweep",
        "engine-prod-transactions-repair",
        "engine-prod-loan-sync",
        "engine-prod-hrms-sync",
    ):
        step = steps["Enable" + "".join(p.capitalize() for p in rule.split("-"))]
        assert step["inputs"] == {"Service": "events", "Api": "EnableRule", "Name": rule}
    find = steps["FindEngineProdTransactionsSyncMapping"]
    assert find["inputs"] == {
        "Service": "lambda",
        "Api": "ListEventSourceMappings",
        "FunctionName": "engine-prod-transactions-sync",
    }
    assert find["outputs"] == [
        {"Name": "Uuid", "Selector": "$.EventSourceMappings[0].UUID", "Type": "String"}
    ]
    assert steps["EnableEngineProdTransactionsSyncMapping"]["inputs"] == {
        "Service": "lambda",
        "Api": "UpdateEventSourceMapping",
        "UUID": "{{ FindEngineProdTransactionsSyncMapping.Uuid }}",
        "Enabled": True,
    }


def test_the_runbook_role_can_only_promote_that_replica(built: Built) -> None:
    account = built.prod.account
    (role,) = [
        r["Properties"]
        for k, r in built.resources("Runbook", "AWS::IAM::Role").items()
        if k.startswith("Failover")
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    statements = built.one("Runbook", "AWS::IAM::ManagedPolicy")["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {
        "PromoteTheReplica",
        "MakeThePromotedInstanceMultiAz",
        "CarryTheReceiptCountersOver",
        "EnableTheStandbysSchedules",
        "FindTheStandbysMappings",
        "EnableTheStandbysMappings",
        "ThrowTheTrafficSwitch",
        "Notify",
        "EncryptForTheTopic",
    }
    prefix = f"arn:aws:events:{DR_REGION}:{account}:rule/engine-prod-"
    assert by_sid["EnableTheStandbysSchedules"] | {} == {
        "Sid": "EnableTheStandbysSchedules",
        "Effect": "Allow",
        "Action": "events:EnableRule",
        "Resource": [
            f"{prefix}hrms-sync",
            f"{prefix}lms-heartbeat",
            f"{prefix}lms-sweep",
            f"{prefix}loan-sync",
            f"{prefix}payment-sweep",
            f"{prefix}transactions-repair",
        ],
    }
    assert by_sid["FindTheStandbysMappings"]["Action"] == "lambda:ListEventSourceMappings"
    assert by_sid["EnableTheStandbysMappings"]["Action"] == "lambda:UpdateEventSourceMapping"
    assert by_sid["EnableTheStandbysMappings"]["Condition"] == {
        "StringEquals": {
            "lambda:FunctionArn": [
                f"arn:aws:lambda:{DR_REGION}:{account}:function:engine-prod-{name}"
                for name in ("transactions-sync", "lms-poster")
            ]
        }
    }
    assert all(s["Effect"] == "Allow" for s in statements)
    # It can invoke that one function, by its exact ARN, and no other.
    assert by_sid["CarryTheReceiptCountersOver"] == {
        "Sid": "CarryTheReceiptCountersOver",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:{DR_REGION}:{account}:function:{CARRY_OVER_FUNCTION}",
    }
    invokers = [s for s in statements if "lambda:Invoke" in json.dumps(s["Action"])]
    assert invokers == [by_sid["CarryTheReceiptCountersOver"]]
    assert by_sid["PromoteTheReplica"]["Action"] == [
        "rds:DescribeDBInstances",
        "rds:PromoteReadReplica",
    ]
    replica_arn = f"arn:aws:rds:{DR_REGION}:{account}:db:{REPLICA}"
    assert by_sid["PromoteTheReplica"]["Resource"] == replica_arn
    assert by_sid["MakeThePromotedInstanceMultiAz"]["Action"] == "rds:ModifyDBInstance"
    assert by_sid["MakeThePromotedInstanceMultiAz"]["Resource"] == replica_arn
    assert by_sid["ThrowTheTrafficSwitch"]["Action"] == "cloudwatch:PutMetricData"
    assert by_sid["ThrowTheTrafficSwitch"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "FivestarPaymentsEngine/Failover/prod"}
    }
    assert by_sid["Notify"] == {
        "Sid": "Notify",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": _topic(built.prod),
    }
    assert by_sid["EncryptForTheTopic"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert by_sid["EncryptForTheTopic"]["Resource"] == _key(built.prod, DR_REGION)


def _runbook_props(**changes: Any) -> FailoverRunbookProps:
    values: dict[str, Any] = {
        "document_name": "engine-qa-dr-failover",
        "confirm_value": "qa",
        "replica_identifier": "engine-qa-postgres-dr",
        "backup_retention_days": 7,
        "multi_az": False,
    }
    return FailoverRunbookProps(**(values | changes))


def test_without_dns_or_topic_the_runbook_ends_after_the_promotion() -> None:
    content = runbook_content(_runbook_props(), "arn:aws:iam::123456789012:role/r")
    names = [s["name"] for s in content["mainSteps"]]
    assert names == [*STEPS[:5], "RefuseWithoutConfirmation"]
    assert content["mainSteps"][4]["isEnd"] is True
    assert json.loads(json.dumps(content)) == content


def test_without_dns_or_topic_the_role_only_touches_the_replica() -> None:
    stack = _stack(DR_REGION)
    runbook = FailoverRunbook(stack, "R", _runbook_props())
    policies = cdk.assertions.Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = policies.values()
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "PromoteTheReplica",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
            "Resource": f"arn:aws:rds:{DR_REGION}:123456789012:db:engine-qa-postgres-dr",
        }
    ]
    assert runbook.document_name == "engine-qa-dr-failover"


def test_with_only_the_carry_over_it_follows_the_promotion_and_the_role_invokes_only_it() -> None:
    props = _runbook_props(receipt_counters_function="engine-qa-receipt-counters-carry-over")
    content = runbook_content(props, "arn:aws:iam::123456789012:role/r")
    names = [s["name"] for s in content["mainSteps"]]
    assert names == [*STEPS[:7], "RefuseWithoutConfirmation"]
    assert content["mainSteps"][6]["isEnd"] is True
    stack = _stack(DR_REGION)
    FailoverRunbook(stack, "R", props)
    policies = cdk.assertions.Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    (policy,) = policies.values()
    assert [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]] == [
        "PromoteTheReplica",
        "CarryTheReceiptCountersOver",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"receipt_counters_function": "arn:aws:lambda:x"}, "not a Lambda function name"),
        ({"replica_identifier": "1db"}, "not an RDS instance identifier"),
        ({"replica_identifier": "db--x"}, "not an RDS instance identifier"),
        ({"replica_identifier": "db-"}, "not an RDS instance identifier"),
        ({"document_name": "AWS-Failover"}, "not a valid SSM document name"),
        ({"confirm_value": "Prod"}, "confirm_value"),
        ({"backup_retention_days": 36}, "1 to 35"),
        ({"notification_key_arn": "arn:aws:kms:x"}, "without notification_topic_arn"),
    ],
)
def test_the_runbook_refuses_bad_props(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FailoverRunbook(_stack(DR_REGION), "R", _runbook_props(**changes))


def test_dr_stacks_refuse_an_environment_without_dr() -> None:
    dev = load_engine("dev")
    with pytest.raises(ValueError, match="dr_enabled is False"):
        EngineDrRunbookStack(cdk.App(), "R", cfg=dev, replica_identifier="engine-dev-db")
    with pytest.raises(ValueError, match="dr_enabled is False"):
        EngineDrBackupVaultStack(cdk.App(), "V", cfg=dev, backup_key_arn=_key(dev, DR_REGION))


# --- Nag and cfn-lint --------------------------------------------------------------


def test_no_unacknowledged_nag_findings_and_only_the_expected_acknowledgments(
    built: Built,
) -> None:
    # All four packs are registered; the report lists a pack only when it has
    # something to say, and synth itself raised had any pack found anything.
    plugins = built.report["pluginReports"]
    assert {p["pluginName"] for p in plugins} <= {pack.value for pack in nag.Pack}
    for plugin in plugins:
        assert plugin["violations"] == [], [v["ruleName"] for v in plugin["violations"]]
    suppressed = {
        (s["ruleName"], c["constructPath"])
        for plugin in plugins
        for s in plugin.get("suppressedViolations") or []
        for c in s["violatingConstructs"]
    }
    expected_rules = {
        f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]"
        for name in SERVICE_ROLE_POLICIES
    }
    backup = {(rule, path) for rule, path in suppressed if rule in expected_rules}
    assert {rule for rule, _ in backup} == expected_rules
    assert {path.split("/", 1)[0] for _, path in backup} == {"Backup", "DevBackup"}
    assert all(path.split("/")[1:3] == ["DailyPlan", "Role"] for _, path in backup)
    # The runbook's failover switch: an alarm with no action on purpose, and a
    # PutMetricData grant that supports no resource (limited by its namespace condition).
    mappings = f"arn:aws:lambda:{DR_REGION}:{built.prod.account}:event-source-mapping:*"
    assert suppressed - backup == {
        ("NIST.800.53.R5-CloudWatchAlarmAction", "Runbook/TrafficSwitch/Alarm/Resource"),
        ("AwsSolutions-IAM5[Resource::*]", "Runbook/Failover/Policy/Resource"),
        (f"AwsSolutions-IAM5[Resource::{mappings}]", "Runbook/Failover/Policy/Resource"),
    }


@pytest.mark.parametrize(
    ("region", "stacks"),
    [
        (REGION, ("Backup", "DevBackup", "PrimaryApi", "Dns")),
        (DR_REGION, ("DrVault", "SecondaryApi", "Runbook")),
    ],
)
def test_cfn_lint_is_clean_in_each_templates_region(
    built: Built, region: str, stacks: tuple[str, ...]
) -> None:
    for name in stacks:
        assert built.stacks[name].region == region
    paths = [str(built.outdir / built.stacks[name].template_file) for name in stacks]
    result = subprocess.run(
        [cfn_lint(), "--format", "json", "--regions", region, "--", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & ~WARNING_OR_INFO_BITS == 0, result.stderr or result.stdout
    matches = json.loads(result.stdout or "[]")
    unexpected = [m for m in matches if m["Rule"]["Id"] not in ENGINE_TOLERATED_WARNINGS]
    assert unexpected == [], json.dumps(unexpected, indent=1)[:4000]
