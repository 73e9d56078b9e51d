"""The engine's S3 storage (documents, reports, their Singapore replicas) and the
portal's static-site edge (S3 + CloudFront + a us-east-1 CloudFront WAF), read off
one synthesized app holding prod (DR) and dev (no DR) side by side."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from cdk_constructs import nag
from cdk_constructs.bucket import (
    AccessLogBucket,
    AccessLogBucketProps,
    BucketLifecycle,
    ReplicationTarget,
    SecureBucket,
    SecureBucketProps,
)
from cdk_constructs.edge_waf import CloudFrontWebAcl, CloudFrontWebAclProps
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.static_site import ContentSecurityPolicy
from config import load_engine
from config.engine import DomainConfig, EngineConfig
from stacks.engine.edge import EngineEdgeStack, EngineEdgeWafStack
from stacks.engine.keys import EngineDrKeysStack, EngineKeysStack
from stacks.engine.storage import EngineDrStorageStack, EngineStorageStack, bucket_name
from tests.infra.cfn_lint import WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.synth import cdk_json_context, props, resources

ENVS = ("prod", "dev")
ROLES = ("storage", "dr-storage", "edge-waf", "edge")
TOLERATED_LINT = {"W3005", "W3010"}
BUCKET = "AWS::S3::Bucket"
ACK_TYPE = "aws:cdk:acknowledged-rules"


@dataclass
class Built:
    outdir: Path
    cfgs: dict[str, EngineConfig]
    stacks: dict[tuple[str, str], cdk.Stack] = field(default_factory=dict)
    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def _build(app: cdk.App, cfg: EngineConfig, built: Built) -> None:
    """Wire the stacks as the stage does, with the deploy order stated."""
    prefix = cfg.env_name.title()
    keys = EngineKeysStack(app, f"{prefix}Keys", cfg=cfg)
    data = keys.keys["Data"]
    replica_arn = data.replica_arn(cfg.dr_region) if cfg.dr_enabled else None
    dr_storage = None
    if cfg.dr_enabled:
        dr_keys = EngineDrKeysStack(app, f"{prefix}DrKeys", cfg=cfg, primaries=keys)
        dr_keys.add_stack_dependency(keys)
        dr_storage = EngineDrStorageStack(
            app, f"{prefix}DrStorage", cfg=cfg, data_key_arn=dr_keys.keys["Data"].key_arn
        )
        dr_storage.add_stack_dependency(dr_keys)
        built.stacks[(cfg.env_name, "dr-storage")] = dr_storage
    storage = EngineStorageStack(
        app, f"{prefix}Storage", cfg=cfg, data_key_arn=data.key_arn, replica_key_arn=replica_arn
    )
    waf = EngineEdgeWafStack(app, f"{prefix}EdgeWaf", cfg=cfg)
    edge = EngineEdgeStack(
        app, f"{prefix}Edge", cfg=cfg, web_acl_arn=waf.web_acl_arn, replica_key_arn=replica_arn
    )
    storage.add_stack_dependency(keys)
    edge.add_stack_dependency(waf)
    for stack in (storage, edge):
        if dr_storage is not None:
            stack.add_stack_dependency(dr_storage)
    built.stacks |= {
        (cfg.env_name, "storage"): storage,
        (cfg.env_name, "edge-waf"): waf,
        (cfg.env_name, "edge"): edge,
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    outdir = tmp_path_factory.mktemp("cdk-engine-storage-edge")
    context = cdk_json_context() | {"aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    nag.register_packs(app)
    result = Built(outdir=outdir, cfgs={env: load_engine(env) for env in ENVS})
    for env in ENVS:
        _build(app, result.cfgs[env], result)
    app.synth()
    for key, stack in result.stacks.items():
        result.templates[key] = json.loads((outdir / stack.template_file).read_text())
    return result


def _buckets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Bucket name -> properties."""
    return {p["BucketName"]: p for p in props(template, BUCKET)}


def _data_buckets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every bucket but the server-access-log targets (the SSE-S3 exception)."""
    return {
        name: p
        for name, p in _buckets(template).items()
        if p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        != "AES256"
    }


def _statements(template: dict[str, Any], resource_type: str, key: str) -> list[dict[str, Any]]:
    return [s for p in props(template, resource_type) for s in p[key]["Statement"]]


def _templates_with_buckets(built: Built) -> list[tuple[str, str]]:
    return [key for key in built.templates if key[1] != "edge-waf"]


# --------------------------------------------------------------------------- buckets


def test_every_data_bucket_is_versioned_cmk_encrypted_private_and_logged(built: Built) -> None:
    checked = 0
    for key in _templates_with_buckets(built):
        template = built.templates[key]
        log_targets = set(resources(template, BUCKET)) - {
            lid
            for lid, r in resources(template, BUCKET).items()
            if r["Properties"]["BucketName"] in _data_buckets(template)
        }
        for name, bucket in _data_buckets(template).items():
            rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", name
            assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"], name
            assert rule["BucketKeyEnabled"] is True, name
            assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}, name
            assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}, name
            assert len(bucket["PublicAccessBlockConfiguration"]) == 4, name
            assert "AccessControl" not in bucket, name
            target = bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
            assert target in log_targets, name
            checked += 1
    # prod: 3 + 4 (DR) + 2 (site, CloudFront logs); dev: 3 + 2 (documents, reports, anchors).
    assert checked == 14


def test_only_the_cloudfront_log_bucket_enables_acls(built: Built) -> None:
    for key in _templates_with_buckets(built):
        for name, bucket in _buckets(built.templates[key]).items():
            (rule,) = bucket["OwnershipControls"]["Rules"]
            expected = (
                "BucketOwnerPreferred" if "-cloudfront-logs-" in name else ("BucketOwnerEnforced")
            )
            assert rule["ObjectOwnership"] == expected, name


def test_primary_buckets_use_the_data_key_and_dr_buckets_its_replica(built: Built) -> None:
    for env in ENVS:
        for name, bucket in _data_buckets(built.templates[(env, "storage")]).items():
            key = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                "ServerSideEncryptionByDefault"
            ]["KMSMasterKeyID"]
            assert f"engine-{env}-keys:" in json.dumps(key) and "DataKey" in json.dumps(key), name
    for name, bucket in _data_buckets(built.templates[("prod", "dr-storage")]).items():
        key = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["KMSMasterKeyID"]
        assert "engine-prod-dr-keys:" in json.dumps(key) and "DataKey" in json.dumps(key), name


def test_every_bucket_policy_denies_plain_http_and_old_tls(built: Built) -> None:
    for key in _templates_with_buckets(built):
        template = built.templates[key]
        policies = {
            p["Bucket"]["Ref"]: p["PolicyDocument"]["Statement"]
            for p in props(template, "AWS::S3::BucketPolicy")
        }
        for logical_id in resources(template, BUCKET):
            statements = policies[logical_id]
            denies = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "s3:*"]
            conditions = [s["Condition"] for s in denies]
            assert {"Bool": {"aws:SecureTransport": "false"}} in conditions, logical_id
            assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions, logical_id


def test_access_log_buckets_take_server_access_logs_by_bucket_policy(built: Built) -> None:
    for key in _templates_with_buckets(built):
        template = built.templates[key]
        targets = {
            lid: r["Properties"]
            for lid, r in resources(template, BUCKET).items()
            if r["Properties"]["BucketName"] not in _data_buckets(template)
        }
        assert len(targets) == 1, key
        ((logical_id, bucket),) = targets.items()
        encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        statements = _statements(template, "AWS::S3::BucketPolicy", "PolicyDocument")
        delivery = [
            s
            for s in statements
            if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
            and json.dumps(s["Resource"]).count(logical_id)
        ]
        sources = sum(1 for b in _data_buckets(template).values() if "LoggingConfiguration" in b)
        assert len(delivery) == sources, key
        assert all(s["Action"] == "s3:PutObject" for s in delivery)
        assert all("aws:SourceArn" in s["Condition"]["ArnLike"] for s in delivery)


def _rule(bucket: dict[str, Any]) -> dict[str, Any]:
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    return rule


@pytest.mark.parametrize("env", ENVS)
def test_lifecycle_rules_follow_config(built: Built, env: str) -> None:
    cfg = built.cfgs[env]
    regions = (cfg.region, cfg.dr_region) if cfg.dr_enabled else (cfg.region,)
    every_bucket = {
        name: bucket
        for key in _templates_with_buckets(built)
        if key[0] == env
        for name, bucket in _buckets(built.templates[key]).items()
    }
    for region in regions:
        documents = _rule(every_bucket[bucket_name(cfg, "documents", region)])
        assert documents["Transitions"] == [
            {"StorageClass": "STANDARD_IA", "TransitionInDays": cfg.document_transition_to_ia_days},
            {
                "StorageClass": "GLACIER",
                "TransitionInDays": cfg.document_transition_to_glacier_days,
            },
        ]
        assert documents["ExpirationInDays"] == cfg.document_expiry_days
        reports = _rule(every_bucket[bucket_name(cfg, "reports", region)])
        assert reports["ExpirationInDays"] == cfg.report_expiry_days
        assert "Transitions" not in reports
        site = _rule(every_bucket[bucket_name(cfg, "site", region)])
        assert "ExpirationInDays" not in site
        logs_rule = _rule(every_bucket[bucket_name(cfg, "access-logs", region)])
        assert logs_rule["ExpirationInDays"] == cfg.access_log_expiry_days
        # An anchor's history (its noncurrent versions) goes only once its lock has run out;
        # the current anchors stay.
        anchors = _rule(every_bucket[bucket_name(cfg, "audit-anchors", region)])
        assert "ExpirationInDays" not in anchors and "Transitions" not in anchors
    for name, bucket in every_bucket.items():
        rule = _rule(bucket)
        assert rule["Status"] == "Enabled", name
        noncurrent = (
            cfg.audit_anchor_retention_days
            if "-audit-anchors-" in name
            else cfg.noncurrent_version_expiry_days
        )
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": noncurrent}, name
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, name


# --------------------------------------------------------------------------- replication


def _replicated(built: Built, env: str) -> dict[str, dict[str, Any]]:
    return {
        name: bucket
        for role in ("storage", "edge")
        for name, bucket in _buckets(built.templates[(env, role)]).items()
        if "ReplicationConfiguration" in bucket
    }


def test_prod_replicates_documents_reports_anchors_and_site_to_singapore(built: Built) -> None:
    cfg = built.cfgs["prod"]
    replicated = _replicated(built, "prod")
    assert set(replicated) == {
        bucket_name(cfg, purpose, cfg.region)
        for purpose in ("documents", "reports", "audit-anchors", "site")
    }
    dr_names = set(_buckets(built.templates[("prod", "dr-storage")]))
    destinations = set()
    for name, bucket in replicated.items():
        (rule,) = bucket["ReplicationConfiguration"]["Rules"]
        purpose = name.removeprefix("engine-prod-").split("-777777777777-")[0]
        destination = rule["Destination"]["Bucket"]
        assert destination == f"arn:aws:s3:::{bucket_name(cfg, purpose, cfg.dr_region)}"
        destinations.add(destination.removeprefix("arn:aws:s3:::"))
        replica_key = json.dumps(rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"])
        assert "arn:aws:kms:ap-southeast-1:777777777777:key/" in replica_key
        assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
        assert rule["Status"] == "Enabled"
    # The DR stack creates exactly the destinations (plus its own access-log bucket).
    assert dr_names - destinations == {bucket_name(cfg, "access-logs", cfg.dr_region)}
    assert destinations <= dr_names


def test_dev_replicates_nothing_and_has_no_dr_storage(built: Built) -> None:
    assert _replicated(built, "dev") == {}
    assert ("dev", "dr-storage") not in built.templates
    assert resources(built.templates[("dev", "storage")], "AWS::IAM::Role") == {}
    with pytest.raises(ValueError, match="dr_enabled false"):
        EngineDrStorageStack(cdk.App(), "X", cfg=built.cfgs["dev"], data_key_arn="arn")


def test_replication_roles_are_least_privilege_with_managed_policies_only(built: Built) -> None:
    for role in ("storage", "edge"):
        template = built.templates[("prod", role)]
        assert resources(template, "AWS::IAM::Policy") == {}
        roles = props(template, "AWS::IAM::Role")
        replication_roles = [
            r
            for r in roles
            if r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            == {"Service": "s3.amazonaws.com"}
        ]
        assert len(replication_roles) == (3 if role == "storage" else 1)
        assert all("Policies" not in r for r in replication_roles)
        for policy in props(template, "AWS::IAM::ManagedPolicy"):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                assert all("*" not in action for action in actions), actions
                assert statement["Resource"] != "*"
                if actions[0].startswith("kms:"):
                    assert "kms:ViaService" in statement["Condition"]["StringEquals"]


# --------------------------------------------------------------------------- WAF


@pytest.mark.parametrize("env", ENVS)
def test_cloudfront_web_acl_lives_in_us_east_1_with_managed_rules_and_minute_limit(
    built: Built, env: str
) -> None:
    stack = built.stacks[(env, "edge-waf")]
    assert stack.region == "us-east-1"
    assert stack.account == built.cfgs[env].account
    template = built.templates[(env, "edge-waf")]
    (acl,) = props(template, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    groups = [
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    ]
    assert groups == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ]
    (rate,) = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 60,
        "Limit": 100,
    }
    assert rate["Action"] == {"Block": {}}
    (log_group,) = props(template, "AWS::Logs::LogGroup")
    assert log_group["LogGroupName"].startswith("aws-waf-logs-")
    assert log_group["RetentionInDays"] == 90
    assert "KmsKeyId" in log_group
    (key,) = props(template, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "logs.us-east-1.amazonaws.com"} in principals
    (logging,) = props(template, "AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]


# --------------------------------------------------------------------------- CloudFront


@pytest.mark.parametrize("env", ENVS)
def test_distribution_uses_oac_https_headers_and_the_web_acl(built: Built, env: str) -> None:
    template = built.templates[(env, "edge")]
    assert resources(template, "AWS::CloudFront::CloudFrontOriginAccessIdentity") == {}
    ((distribution_id, distribution),) = resources(
        template, "AWS::CloudFront::Distribution"
    ).items()
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == (
        f"{bucket_name(built.cfgs[env], 'site', 'ap-south-1')}.s3.ap-south-1.amazonaws.com"
    )
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    (oac,) = props(template, "AWS::CloudFront::OriginAccessControl")
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    ((policy_id, policy),) = resources(template, "AWS::CloudFront::ResponseHeadersPolicy").items()
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63_072_000,
        "IncludeSubdomains": True,
        "Preload": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "https://*.execute-api.ap-south-1.amazonaws.com" in csp
    assert ("ap-southeast-1" in csp) is built.cfgs[env].dr_enabled
    assert config["WebACLId"]["Fn::GetAtt"][0].startswith("ExportsReader")
    assert config["DefaultRootObject"] == "index.html"
    assert config["PriceClass"] == "PriceClass_200"
    assert {
        (e["ErrorCode"], e["ResponseCode"], e["ResponsePagePath"])
        for e in config["CustomErrorResponses"]
    } == {(403, 200, "/index.html"), (404, 200, "/index.html")}
    assert config["Logging"]["IncludeCookies"] is False
    assert "Restrictions" not in config
    _assert_only_this_distribution_reads_the_site(
        template, distribution_id, built.cfgs[env].account
    )


def _assert_only_this_distribution_reads_the_site(
    template: dict[str, Any], distribution_id: str, account: str
) -> None:
    distribution_arn = [f"arn:aws:cloudfront::{account}:distribution/", {"Ref": distribution_id}]
    source_arn = {"StringEquals": {"aws:SourceArn": {"Fn::Join": ["", distribution_arn]}}}
    cloudfront = {"Service": "cloudfront.amazonaws.com"}
    bucket_reads = [
        s
        for s in _statements(template, "AWS::S3::BucketPolicy", "PolicyDocument")
        if s.get("Principal") == cloudfront
    ]
    assert [(s["Action"], s["Condition"]) for s in bucket_reads] == [("s3:GetObject", source_arn)]
    key_uses = [
        s
        for s in _statements(template, "AWS::KMS::Key", "KeyPolicy")
        if s.get("Principal") == cloudfront
    ]
    assert [(s["Action"], s["Condition"]) for s in key_uses] == [("kms:Decrypt", source_arn)]
    keys = props(template, "AWS::KMS::Key")
    assert len(keys) == 2 and all(k["EnableKeyRotation"] for k in keys)


def test_edge_stack_takes_the_web_acl_across_regions_and_is_protected(built: Built) -> None:
    for env in ENVS:
        edge = built.stacks[(env, "edge")]
        cfg = built.cfgs[env]
        assert edge.region == cfg.region
        assert edge.termination_protection is cfg.termination_protection
        assert built.stacks[(env, "storage")].termination_protection is cfg.termination_protection
        assert edge.stack_name == f"engine-{env}-edge"
        assert built.stacks[(env, "edge-waf")].stack_name == f"engine-{env}-edge-waf"


# --------------------------------------------------------------------------- nag and lint


def _acknowledgments(built: Built) -> set[tuple[str, str]]:
    found = set()
    for stack in built.stacks.values():
        metadata = json.loads((built.outdir / f"{stack.artifact_id}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == ACK_TYPE:
                    found |= {(path.lstrip("/"), ack_id) for ack_id in entry["data"]}
    return found


def test_no_unacknowledged_nag_findings_and_every_acknowledgment_is_used(built: Built) -> None:
    report = built.report
    # Serverless has no rule for S3, CloudFront or WAF: with nothing found it files no report.
    assert {p["pluginName"] for p in report["pluginReports"]} >= {
        "AwsSolutions",
        "PCI.DSS.321",
        "NIST.800.53.R5",
    }
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], [v["ruleName"] for v in plugin["violations"]]
    used = {
        (s["acknowledgedAt"], s["acknowledgedId"])
        for p in report["pluginReports"]
        for s in p.get("suppressedViolations") or []
    }
    acknowledged = _acknowledgments(built)
    assert acknowledged and acknowledged <= used, acknowledged - used
    rules = {ack_id.split("::", 1)[1].split("[")[0] for _, ack_id in acknowledged}
    assert rules == {
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR4",
        "AwsSolutions-IAM5",
        "PCI.DSS.321-S3DefaultEncryptionKMS",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "PCI.DSS.321-S3BucketReplicationEnabled",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
    }
    # The CMK exception is only ever the server-access-log targets.
    kms_paths = {path for path, ack in acknowledged if "S3DefaultEncryptionKMS" in ack}
    assert kms_paths and all(path.endswith("/AccessLogs/Bucket") for path in kms_paths)


def test_cfn_lint_is_clean_in_each_region(built: Built) -> None:
    by_region: dict[str, list[str]] = {}
    for stack in built.stacks.values():
        by_region.setdefault(stack.region, []).append(str(built.outdir / stack.template_file))
    assert set(by_region) == {"ap-south-1", "ap-southeast-1", "us-east-1"}
    # One cfn-lint per Region, run side by side (each starts in about a second).
    running = {
        region: subprocess.Popen(
            [cfn_lint(), "--format", "json", "--regions", region, "--", *templates],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for region, templates in by_region.items()
    }
    for region, process in running.items():
        stdout, stderr = process.communicate()
        assert process.returncode & ~WARNING_OR_INFO_BITS == 0, (region, stderr or stdout)
        unexpected = [
            m for m in json.loads(stdout or "[]") if m["Rule"]["Id"] not in TOLERATED_LINT
        ]
        assert unexpected == [], (region, json.dumps(unexpected, indent=1)[:4000])


# --------------------------------------------------------------------------- validation


def _stack(region: str = "ap-south-1") -> cdk.Stack:
    return ConfiguredStack(
        cdk.App(),
        "S",
        env=cdk.Environment(account="123456789012", region=region),
        availability_zones=[f"{region}a"],
    )


def _secure_props(stack: cdk.Stack, **changes: Any) -> SecureBucketProps:
    values: dict[str, Any] = {
        "bucket_name": "engine-test-documents-123456789012-ap-south-1",
        "encryption_key": kms.Key(stack, f"K{len(stack.node.children)}"),
        "access_log_bucket": s3.Bucket(stack, f"L{len(stack.node.children)}"),
        "removal_policy": cdk.RemovalPolicy.DESTROY,
        "lifecycle": BucketLifecycle(noncurrent_version_expiry_days=30),
        "no_replication_reason": "a test bucket with no DR Region to replicate into",
    }
    return SecureBucketProps(**(values | changes))


@pytest.mark.parametrize(
    ("lifecycle", "message"),
    [
        (BucketLifecycle(30, transition_to_ia_days=10), "at least 30"),
        (BucketLifecycle(30, transition_to_ia_days=90, transition_to_glacier_days=60), "later"),
        (BucketLifecycle(30, transition_to_glacier_days=400, expiry_days=365), "later"),
        (BucketLifecycle(0), "noncurrent_version_expiry_days"),
        (BucketLifecycle(30, expiry_days=0), "expiry_days must be at least 1"),
    ],
)
def test_lifecycle_refuses_steps_out_of_order(lifecycle: BucketLifecycle, message: str) -> None:
    stack = _stack()
    with pytest.raises(ValueError, match=message):
        SecureBucket(stack, "B", _secure_props(stack, lifecycle=lifecycle))


def test_secure_bucket_needs_replication_or_a_reason_and_a_fixed_valid_name() -> None:
    stack = _stack()
    target = ReplicationTarget("engine-test-documents-dr", "ap-southeast-1", "arn:aws:kms:x")
    with pytest.raises(ValueError, match="exactly one of replication"):
        SecureBucket(stack, "Both", _secure_props(stack, replication=target))
    with pytest.raises(ValueError, match="exactly one of replication"):
        SecureBucket(stack, "Neither", _secure_props(stack, no_replication_reason=None))
    with pytest.raises(ValueError, match="explain itself"):
        SecureBucket(stack, "Terse", _secure_props(stack, no_replication_reason="dev"))
    with pytest.raises(ValueError, match="lower-case"):
        SecureBucket(stack, "Upper", _secure_props(stack, bucket_name="Engine-Docs"))
    with pytest.raises(ValueError, match="3 to 63"):
        SecureBucket(stack, "Long", _secure_props(stack, bucket_name="b" * 64))
    with pytest.raises(ValueError, match="fixed strings"):
        SecureBucket(stack, "Token", _secure_props(stack, bucket_name=cdk.Aws.STACK_NAME))
    same = ReplicationTarget(
        "engine-test-documents-123456789012-ap-south-1", "ap-southeast-1", "arn:aws:kms:x"
    )
    with pytest.raises(ValueError, match="itself"):
        SecureBucket(
            stack, "Self", _secure_props(stack, replication=same, no_replication_reason=None)
        )
    with pytest.raises(ValueError, match="must be at least 1"):
        AccessLogBucket(
            stack,
            "Logs",
            AccessLogBucketProps("engine-test-logs", 0, cdk.RemovalPolicy.DESTROY),
        )


def _acl_props(stack: cdk.Stack, limit: int = 100) -> CloudFrontWebAclProps:
    return CloudFrontWebAclProps(
        name="test",
        rate_limit_per_minute_per_ip=limit,
        log_encryption_key=kms.Key(stack, f"K{len(stack.node.children)}"),
        log_retention=logs.RetentionDays.ONE_MONTH,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
    )


def test_cloudfront_web_acl_refuses_other_regions_and_tiny_limits() -> None:
    mumbai = _stack()
    with pytest.raises(ValueError, match="must be created in us-east-1"):
        CloudFrontWebAcl(mumbai, "Acl", _acl_props(mumbai))
    virginia = _stack("us-east-1")
    with pytest.raises(ValueError, match="at least 10"):
        CloudFrontWebAcl(virginia, "Acl", _acl_props(virginia, limit=9))


def test_csp_refuses_anything_but_https_origins() -> None:
    for origin in ("http://api.example", "https://a.example; script-src *", "'unsafe-inline'"):
        with pytest.raises(ValueError, match="https:// origin"):
            ContentSecurityPolicy(connect_origins=(origin,)).render()


def test_stacks_refuse_missing_replica_keys_and_a_domain_without_its_certificate() -> None:
    prod = load_engine("prod")
    with pytest.raises(ValueError, match="replica_key_arn"):
        EngineStorageStack(cdk.App(), "S", cfg=prod, data_key_arn="arn", replica_key_arn=None)
    with pytest.raises(ValueError, match="replica_key_arn"):
        EngineEdgeStack(cdk.App(), "E", cfg=prod, web_acl_arn="arn", replica_key_arn=None)
    with_domain = dataclasses.replace(
        prod, domain=DomainConfig(hosted_zone_id="Z123", zone_name="pay.example")
    )
    with pytest.raises(ValueError, match="us-east-1 certificate"):
        EngineEdgeStack(cdk.App(), "E", cfg=with_domain, web_acl_arn="arn", replica_key_arn="k")
    with pytest.raises(ValueError, match="us-east-1 certificate"):
        EngineEdgeStack(
            cdk.App(),
            "E",
            cfg=prod,
            web_acl_arn="arn",
            replica_key_arn="k",
            site_certificate_arn="arn:aws:acm:us-east-1:777777777777:certificate/x",
        )
