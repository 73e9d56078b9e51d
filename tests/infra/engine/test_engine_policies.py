"""Platform policies, read off every engine environment's synthesized templates.

Each policy is checked over every resource of the kinds it names, so a stack added later
is held to it without anyone remembering to write a test:

* every stateful resource in ap-south-1 has its Singapore counterpart (staging, prod);
* nothing but NAT gateways sits in the public subnets;
* every queue has a DLQ (or is one);
* every log group has a retention;
* every data store is encrypted with a customer-managed key;
* every encrypted event bus and archive may use its key (EventBridge's documented grants);
* no API stage without a WAF web ACL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.engine import DR_REGION, REGION
from engine.tables import REGIONAL_TABLES
from stacks.engine.regional import table_name
from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth
from tests.infra.policy_eval import Ref, Request, TemplateSet, allows, template_set

DR_ENVIRONMENTS = tuple(e for e in ENGINE_ENVIRONMENTS if e in ("staging", "prod"))

# What is regional by design, and why it needs no Singapore copy:
# - log groups and log buckets (S3 access logs, CloudFront logs) describe this region's
#   own requests;
# - single-region keys of the static site: its Singapore copy is re-encrypted with the
#   Singapore replica of the Data key on replication, so nothing there needs them.
REGIONAL_KEY_ALIASES = ("site", "site-cloudfront-logs")


def _templates(synth: EngineSynth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(role, region, template) for every stack of the environment."""
    for role, stack in synth.stage.roles.items():
        yield role, stack.region, synth.templates[role]


def _resources(synth: EngineSynth, kind: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(role, region, logical id, properties) of every resource of `kind`."""
    for role, region, template in _templates(synth):
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == kind:
                yield role, region, logical_id, resource.get("Properties", {})


def _in(synth: EngineSynth, kind: str, region: str, key: str) -> set[str]:
    """The values of property `key` of every `kind` resource in `region`."""
    return {
        json.dumps(p.get(key), sort_keys=True)
        for _, r, _, p in _resources(synth, kind)
        if r == region
    }


def _access_log_buckets(synth: EngineSynth) -> set[str]:
    """Logical ids (role-qualified) of buckets that buckets or distributions log to."""
    targets: set[str] = set()
    for role, _, _, p in _resources(synth, "AWS::S3::Bucket"):
        destination = p.get("LoggingConfiguration", {}).get("DestinationBucketName")
        if isinstance(destination, dict) and "Ref" in destination:
            targets.add(f"{role}/{destination['Ref']}")
    for role, _, _, p in _resources(synth, "AWS::CloudFront::Distribution"):
        bucket = p["DistributionConfig"].get("Logging", {}).get("Bucket", {})
        if "Fn::GetAtt" in bucket:
            targets.add(f"{role}/{bucket['Fn::GetAtt'][0]}")
    return targets


# --------------------------------------------------------------------------- Singapore


@pytest.mark.parametrize("env_name", DR_ENVIRONMENTS)
def test_every_stateful_resource_in_mumbai_has_its_singapore_counterpart(  # noqa: PLR0912
    env_name: str, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    synth = engine_synth_of(env_name)
    missing: list[str] = []

    def need(found: bool, what: str) -> None:
        if not found:
            missing.append(what)

    # Same-name counterparts: regional resources the standby region recreates.
    for kind, key in (
        ("AWS::SQS::Queue", "QueueName"),
        ("AWS::SNS::Topic", "TopicName"),
        ("AWS::Events::EventBus", "Name"),
        ("AWS::Events::Archive", "ArchiveName"),
        ("AWS::Scheduler::ScheduleGroup", "Name"),
        ("AWS::Backup::BackupVault", "BackupVaultName"),
    ):
        singapore = _in(synth, kind, DR_REGION, key)
        for role, region, logical_id, p in _resources(synth, kind):
            if region == REGION:
                name = json.dumps(p.get(key), sort_keys=True)
                need(name in singapore and "Ref" not in name, f"{kind} {role}/{logical_id}")
    singapore_aliases = _in(synth, "AWS::KMS::Alias", DR_REGION, "AliasName")
    for role, region, logical_id, p in _resources(synth, "AWS::KMS::Alias"):
        name = p["AliasName"]
        if region != REGION or name.endswith(REGIONAL_KEY_ALIASES):
            continue
        need(json.dumps(name) in singapore_aliases, f"key {name} ({role}/{logical_id})")
    for role, region, logical_id, p in _resources(synth, "AWS::KMS::Key"):
        if region == REGION and not p.get("MultiRegion"):
            aliases = [
                a["AliasName"]
                for _, _, _, a in _resources(synth, "AWS::KMS::Alias")
                if logical_id in json.dumps(a["TargetKeyId"])
            ]
            need(
                bool(aliases) and all(a.endswith(REGIONAL_KEY_ALIASES) for a in aliases),
                f"single-region key {role}/{logical_id}",
            )
    regional = {table_name(synth.cfg, spec.logical_name) for spec in REGIONAL_TABLES}
    dr_tables = _in(synth, "AWS::DynamoDB::GlobalTable", DR_REGION, "TableName")
    for role, region, logical_id, p in _resources(synth, "AWS::DynamoDB::GlobalTable"):
        regions = {r["Region"] for r in p["Replicas"]}
        if p["TableName"] in regional:
            # Never replicated: the standby keeps its own table of the same name.
            counterpart = region != REGION or json.dumps(p["TableName"]) in dr_tables
            need(regions == {region} and counterpart, f"regional table {role}/{logical_id}")
        else:
            need(regions == {REGION, DR_REGION}, f"table {role}/{logical_id}")
    for role, region, logical_id, p in _resources(synth, "AWS::SecretsManager::Secret"):
        if region == REGION:
            replicas = {r["Region"] for r in p.get("ReplicaRegions", [])}
            need(DR_REGION in replicas, f"secret {role}/{logical_id}")
    dr_sources = {
        p.get("SourceDBInstanceIdentifier")
        for _, r, _, p in _resources(synth, "AWS::RDS::DBInstance")
        if r == DR_REGION
    }
    for role, region, logical_id, p in _resources(synth, "AWS::RDS::DBInstance"):
        if region == REGION and "SourceDBInstanceIdentifier" not in p:
            arn = f"arn:aws:rds:{REGION}:{synth.cfg.account}:db:{p['DBInstanceIdentifier']}"
            need(arn in dr_sources, f"database {role}/{logical_id}")
    dr_buckets = _in(synth, "AWS::S3::Bucket", DR_REGION, "BucketName")
    logs = _access_log_buckets(synth)
    for role, region, logical_id, p in _resources(synth, "AWS::S3::Bucket"):
        if region != REGION or f"{role}/{logical_id}" in logs:
            continue  # REGIONAL_BY_DESIGN: access logs
        rules = p.get("ReplicationConfiguration", {}).get("Rules", [])
        destinations = {json.dumps(r["Destination"]["Bucket"]) for r in rules}
        names = {d.split(":::")[-1].strip('"') for d in destinations}
        need(
            any(json.dumps(n) in dr_buckets for n in names),
            f"bucket {role}/{logical_id} replicates to no Singapore bucket",
        )
    mumbai_vpcs = [p for _, r, _, p in _resources(synth, "AWS::EC2::VPC") if r == REGION]
    dr_vpcs = [p for _, r, _, p in _resources(synth, "AWS::EC2::VPC") if r == DR_REGION]
    need(len(dr_vpcs) == len(mumbai_vpcs), "the DR VPC")
    mumbai_pools = [p for _, r, _, p in _resources(synth, "AWS::Cognito::UserPool") if r == REGION]
    dr_pools = [p for _, r, _, p in _resources(synth, "AWS::Cognito::UserPool") if r == DR_REGION]
    need(len(dr_pools) == len(mumbai_pools), "the DR staff user pool")
    assert missing == [], missing


def test_dev_and_qa_deploy_nothing_to_singapore(engine_synth_of: Callable[[str], Any]) -> None:
    for env_name in ("dev", "qa"):
        regions = {stack.region for stack in engine_synth_of(env_name).stage.stacks}
        assert DR_REGION not in regions, env_name


# --------------------------------------------------------------------------- public subnets


def test_nothing_but_nat_gateways_sits_in_public_subnets(engine_synth: EngineSynth) -> None:
    for role, _, template in _templates(engine_synth):
        resources = template.get("Resources", {})
        public = {
            logical_id
            for logical_id, r in resources.items()
            if r["Type"] == "AWS::EC2::Subnet"
            and any(
                t["Key"] == "aws-cdk:subnet-type" and t["Value"] == "Public"
                for t in r["Properties"].get("Tags", [])
            )
        }
        for logical_id, resource in resources.items():
            text = json.dumps(resource.get("Properties", {}))
            uses_public = any(f'"Ref": "{subnet}"' in text for subnet in public)
            imports_public = "PublicSubnet" in text and "Fn::ImportValue" in text
            if resource["Type"] in (
                "AWS::EC2::SubnetRouteTableAssociation",
                "AWS::EC2::NatGateway",
            ):
                continue
            assert not uses_public and not imports_public, f"{role}/{logical_id}"
        for logical_id, r in resources.items():
            p = r.get("Properties", {})
            assert p.get("MapPublicIpOnLaunch") is not True, f"{role}/{logical_id}"
            assert p.get("PubliclyAccessible") is not True, f"{role}/{logical_id}"


# --------------------------------------------------------------------------- queues, logs


def test_every_queue_has_a_dlq_or_is_one(engine_synth: EngineSynth) -> None:
    """A DLQ is one because a redrive policy names it, or because Lambda or EventBridge is told
    to park failures in it (a mapping's on-failure destination, a function's or a schedule
    target's DLQ)."""
    queues = list(_resources(engine_synth, "AWS::SQS::Queue"))
    assert queues
    targets = {
        json.dumps(p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        for _, _, _, p in queues
        if "RedrivePolicy" in p
    }
    destinations = _failure_destinations(engine_synth)
    for role, region, logical_id, p in queues:
        is_dlq = json.dumps(logical_id) in targets or (region, p["QueueName"]) in destinations
        assert "RedrivePolicy" in p or is_dlq, f"{role}/{logical_id}"


def _failure_destinations(synth: EngineSynth) -> set[tuple[str, str]]:
    """(region, queue name) of every queue a mapping, function or rule target fails into."""
    arns: list[Any] = []
    for _, _, _, p in _resources(synth, "AWS::Lambda::EventSourceMapping"):
        arns.append(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
    for _, _, _, p in _resources(synth, "AWS::Lambda::Function"):
        arns.append(p.get("DeadLetterConfig", {}).get("TargetArn"))
    for _, _, _, p in _resources(synth, "AWS::Events::Rule"):
        arns += [t.get("DeadLetterConfig", {}).get("Arn") for t in p.get("Targets", [])]
    parts = [arn.split(":") for arn in arns if isinstance(arn, str)]
    return {(part[3], part[5]) for part in parts if part[2] == "sqs"}


def test_every_log_group_expires(engine_synth: EngineSynth) -> None:
    groups = list(_resources(engine_synth, "AWS::Logs::LogGroup"))
    assert groups
    for role, _, logical_id, p in groups:
        assert isinstance(p.get("RetentionInDays"), int), f"{role}/{logical_id}"


# --------------------------------------------------------------------------- encryption

# Data store kind -> a check of its properties that it names a customer-managed key.
CMK_CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "AWS::DynamoDB::GlobalTable": lambda p: (
        p["SSESpecification"]["SSEType"] == "KMS"
        and all("KMSMasterKeyId" in r["SSESpecification"] for r in p["Replicas"])
    ),
    # A same-region replica (its source a Ref) inherits the source's key and may not say so.
    "AWS::RDS::DBInstance": lambda p: (
        "PerformanceInsightsKMSKeyId" in p
        and ("KmsKeyId" in p or "Ref" in json.dumps(p.get("SourceDBInstanceIdentifier")))
    ),
    "AWS::SQS::Queue": lambda p: "KmsMasterKeyId" in p,
    "AWS::SNS::Topic": lambda p: "KmsMasterKeyId" in p,
    "AWS::Logs::LogGroup": lambda p: "KmsKeyId" in p,
    "AWS::SecretsManager::Secret": lambda p: "KmsKeyId" in p,
    "AWS::Events::EventBus": lambda p: "KmsKeyIdentifier" in p,
    "AWS::Events::Archive": lambda p: "KmsKeyIdentifier" in p,
    "AWS::Backup::BackupVault": lambda p: "EncryptionKeyArn" in p,
    "AWS::S3::Bucket": lambda p: all(
        rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        and "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
        for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    ),
}


def test_every_data_store_uses_a_customer_managed_key(engine_synth: EngineSynth) -> None:
    logs = _access_log_buckets(engine_synth)
    checked = 0
    for kind, uses_cmk in CMK_CHECKS.items():
        for role, _, logical_id, p in _resources(engine_synth, kind):
            if kind == "AWS::S3::Bucket" and f"{role}/{logical_id}" in logs:
                # S3 server access logging delivers only to SSE-S3 buckets (AWS limit).
                rule = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
                assert algorithm in ("AES256", "aws:kms"), f"{role}/{logical_id}"
                continue
            assert uses_cmk(p), f"{kind} {role}/{logical_id}"
            checked += 1
    assert checked > 20


EVENT_BUS_CONTEXT = "kms:EncryptionContext:aws:events:event-bus:arn"
EVENT_BUS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo")


def _events_may(templates: TemplateSet, key: Ref, action: str, context: dict[str, str]) -> bool:
    policy = templates.resource(key)["Properties"]["KeyPolicy"]["Statement"]
    request = Request(action, service_principal="events.amazonaws.com", context=context)
    return allows(templates, policy, request, key.role)


def test_every_encrypted_event_bus_and_its_archive_can_use_the_key(
    engine_synth: EngineSynth,
) -> None:
    """EventBridge refuses a key it cannot describe; an archive also re-encrypts. Both are
    allowed for this account's bus only (its ARN is the encryption context)."""
    templates = template_set(engine_synth)
    account = engine_synth.cfg.account
    buses = list(templates.resources("AWS::Events::EventBus"))
    assert len(buses) == (2 if engine_synth.cfg.dr_enabled else 1)
    for role, logical_id, bus in buses:
        key = templates.resolve(role, bus["Properties"]["KmsKeyIdentifier"])
        assert isinstance(key, Ref), f"{role}/{logical_id}"
        region = templates.regions[role]
        arn = f"arn:aws:events:{region}:{account}:event-bus/{bus['Properties']['Name']}"
        archived = [
            archive
            for a_role, _, archive in templates.resources("AWS::Events::Archive")
            if templates.resolve(a_role, archive["Properties"]["SourceArn"])
            == Ref(role, logical_id)
            and templates.resolve(a_role, archive["Properties"]["KmsKeyIdentifier"]) == key
        ]
        assert archived, f"{role}/{logical_id} has no encrypted archive"
        own = {"aws:SourceAccount": account, EVENT_BUS_CONTEXT: arn}
        for action in EVENT_BUS_ACTIONS:
            assert _events_may(templates, key, action, own), f"{action} for {arn}"
        assert _events_may(templates, key, "kms:DescribeKey", {"aws:SourceAccount": account})
        other_bus = own | {EVENT_BUS_CONTEXT: arn.replace("/engine-", "/other-")}
        other_account = own | {"aws:SourceAccount": "999999999999"}
        for context in (other_bus, other_account, {EVENT_BUS_CONTEXT: arn}):
            assert not _events_may(templates, key, "kms:ReEncryptFrom", context), context
        foreign = {"aws:SourceAccount": "999999999999"}
        assert not _events_may(templates, key, "kms:DescribeKey", foreign)


# --------------------------------------------------------------------------- WAF


def test_no_api_stage_without_a_web_acl(engine_synth: EngineSynth) -> None:
    stages = 0
    for role, _, template in _templates(engine_synth):
        resources = template.get("Resources", {})
        associated = {
            json.dumps(r["Properties"]["ResourceArn"])
            for r in resources.values()
            if r["Type"] == "AWS::WAFv2::WebACLAssociation"
        }
        for logical_id, r in resources.items():
            if r["Type"] != "AWS::ApiGateway::Stage":
                continue
            stages += 1
            assert any(logical_id in arn for arn in associated), f"{role}/{logical_id}"
    assert stages >= 2  # the portal API and the internal API


def test_the_site_distribution_has_a_cloudfront_web_acl(engine_synth: EngineSynth) -> None:
    distributions = list(_resources(engine_synth, "AWS::CloudFront::Distribution"))
    assert len(distributions) == 1
    [(_, _, _, p)] = distributions
    assert "WebACLId" in p["DistributionConfig"]
    scopes = {
        p["Scope"]
        for _, r, _, p in _resources(engine_synth, "AWS::WAFv2::WebACL")
        if r == "us-east-1"
    }
    assert scopes == {"CLOUDFRONT"}
