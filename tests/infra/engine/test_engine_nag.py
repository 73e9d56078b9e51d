"""cdk-nag: all four packs (AwsSolutions, PCI DSS 3.2.1, Serverless, NIST 800-53 R5)
pass every payments-engine stack, and every acknowledgment is still needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdk_constructs.nag import TEMPLATE_CHECK, Pack
from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth

ACK_TYPE = "aws:cdk:acknowledged-rules"
REQUIRED_PACKS = {"AwsSolutions", "PCI.DSS.321", "Serverless", "NIST.800.53.R5"}


def _acknowledgments(synth: EngineSynth) -> list[tuple[str, str, str]]:
    """The nag packs' acknowledgments; CDK's template validation's are checked where it runs
    (tests/infra/common/test_template_validation.py: these synths skip it)."""
    found = []
    for metadata in synth.metadata.values():
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == ACK_TYPE:
                    found += [
                        (path.lstrip("/"), ack_id, reason)
                        for ack_id, reason in entry["data"].items()
                        if not ack_id.startswith(f"{TEMPLATE_CHECK}::")
                    ]
    return found


def _suppressed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for plugin in report["pluginReports"] for s in plugin.get("suppressedViolations") or []
    ]


def test_all_four_packs_ran_and_found_nothing_unacknowledged(engine_synth: EngineSynth) -> None:
    plugins = {p["pluginName"]: p for p in engine_synth.report["pluginReports"]}
    assert set(plugins) == REQUIRED_PACKS == {pack.value for pack in Pack}
    for name, plugin in plugins.items():
        assert plugin["violations"] == [], (
            f"{name}: {[v['ruleName'] for v in plugin['violations']]}"
        )
        assert plugin["conclusion"] == "success"


def test_every_pack_really_inspected_the_engine_stacks(engine_synth: EngineSynth) -> None:
    """Each pack suppressed at least one engine finding: proof it saw these stacks."""
    stage = f"{engine_synth.stage.node.path}/"
    for plugin in engine_synth.report["pluginReports"]:
        paths = [
            c["constructPath"]
            for s in plugin.get("suppressedViolations") or []
            for c in s["violatingConstructs"]
        ]
        assert any(p.startswith(stage) for p in paths), plugin["pluginName"]


def test_every_engine_acknowledgment_is_still_needed(engine_synth: EngineSynth) -> None:
    used = {(s["acknowledgedAt"], s["acknowledgedId"]) for s in _suppressed(engine_synth.report)}
    acknowledged = _acknowledgments(engine_synth)
    assert acknowledged
    stale = [(path, ack_id) for path, ack_id, _ in acknowledged if (path, ack_id) not in used]
    assert stale == [], f"acknowledgments that suppress nothing: {stale}"


def test_engine_acknowledgments_are_qualified_explained_and_narrow(
    engine_synth: EngineSynth,
) -> None:
    prefixes = tuple(f"{pack.value}::{pack.value}-" for pack in Pack)
    stacks = {stack.node.path for stack in engine_synth.stage.stacks}
    for path, ack_id, reason in _acknowledgments(engine_synth):
        assert ack_id.startswith(prefixes), f"{path}: {ack_id} lacks its Pack:: prefix"
        assert len(reason) >= 60, f"{path}: {ack_id} has no real reason"
        assert path not in stacks and path != engine_synth.stage.node.path, ack_id


# Every kind of acknowledgment the engine makes (granular ids reduced to their rule).
# A new kind gets reviewed: this set changes with it, and a kind no longer used fails too.
KNOWN_RULES = {
    # network
    "AwsSolutions-VPC3",
    "NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
    "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
    "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
    "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW",
    # queues: DLQs have none behind them; DLQs only Lambda or EventBridge send to
    "Serverless-SQSRedrivePolicy",
    "AwsSolutions-SQS3",
    # RazorPay's and the OTP hash key's secrets: rotated by the runbook, not a function
    "AwsSolutions-SMG4",
    "NIST.800.53.R5-SecretsManagerRotationEnabled",
    # the webhook replay queue's mapping: SQS mappings take no on-failure destination
    "Serverless-LambdaEventSourceMappingDestination",
    # functions: X-Ray, VPC ENIs, API Gateway's log role, RDS monitoring, S3 replication
    "AwsSolutions-IAM5",
    "Serverless-LambdaDLQ",
    "NIST.800.53.R5-LambdaDLQ",
    # AWS Backup's service-role policies
    "AwsSolutions-IAM4",
    # databases
    "AwsSolutions-RDS2",
    "AwsSolutions-RDS3",
    "AwsSolutions-RDS10",
    "AwsSolutions-RDS11",
    "PCI.DSS.321-RDSStorageEncrypted",
    "NIST.800.53.R5-RDSStorageEncrypted",
    "NIST.800.53.R5-RDSMultiAZSupport",
    "NIST.800.53.R5-RDSInBackupPlan",
    "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
    # buckets
    "PCI.DSS.321-S3DefaultEncryptionKMS",
    "NIST.800.53.R5-S3DefaultEncryptionKMS",
    "PCI.DSS.321-S3BucketReplicationEnabled",
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    # CloudFront without a custom domain yet
    "AwsSolutions-CFR1",
    "AwsSolutions-CFR4",
    # APIs: the unauthenticated /health for Route 53, no cache, Lambda-only backends
    "AwsSolutions-APIG4",
    "AwsSolutions-COG4",
    "PCI.DSS.321-APIGWSSLEnabled",
    "NIST.800.53.R5-APIGWSSLEnabled",
    "PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
    "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
    # dev's alarms page nobody
    "NIST.800.53.R5-CloudWatchAlarmAction",
}


def _rules(synth: EngineSynth) -> set[str]:
    return {ack_id.split("::", 1)[1].split("[", 1)[0] for _, ack_id, _ in _acknowledgments(synth)}


def test_engine_acknowledges_only_the_known_rules(engine_synth: EngineSynth) -> None:
    unknown = _rules(engine_synth) - KNOWN_RULES
    assert unknown == set(), f"review these new kinds of acknowledgment: {sorted(unknown)}"


def test_every_known_rule_is_still_acknowledged_somewhere(
    engine_synth_of: Callable[[str], EngineSynth],
) -> None:
    used = set().union(*(_rules(engine_synth_of(env)) for env in ENGINE_ENVIRONMENTS))
    assert KNOWN_RULES - used == set()
