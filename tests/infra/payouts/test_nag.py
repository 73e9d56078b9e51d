"""cdk-nag (AwsSolutions, PCI DSS 3.2.1, Serverless) passes in every environment,
and every acknowledgment still suppresses a real finding.

Synth itself raises on unacknowledged findings, so reaching these tests already
means the packs passed; the report is checked anyway so that a pack silently not
running would be noticed too.
"""

from __future__ import annotations

from typing import Any

from cdk_constructs.nag import DEFAULT_PACKS, Pack
from tests.infra.synth import ROLES, Synth

ACK_TYPE = "aws:cdk:acknowledged-rules"


def _acknowledgments(synth: Synth) -> list[tuple[str, str, str]]:
    """(construct path, acknowledged id, reason) recorded in the assembly metadata."""
    found = []
    for role in ROLES:
        for path, entries in synth.metadata[role].items():
            for entry in entries:
                if entry["type"] == ACK_TYPE:
                    found += [
                        (path.lstrip("/"), ack_id, reason)
                        for ack_id, reason in entry["data"].items()
                    ]
    return found


def _suppressed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for plugin in report["pluginReports"] for s in plugin.get("suppressedViolations") or []
    ]


def test_every_pack_ran_and_found_nothing_unacknowledged(synth: Synth) -> None:
    plugins = {p["pluginName"]: p for p in synth.report["pluginReports"]}
    assert set(plugins) == {pack.value for pack in DEFAULT_PACKS}
    assert set(plugins) == {"AwsSolutions", "PCI.DSS.321", "Serverless", "NIST.800.53.R5"}
    for name, plugin in plugins.items():
        assert plugin["violations"] == [], (
            f"{name}: {[v['ruleName'] for v in plugin['violations']]}"
        )
        assert plugin["conclusion"] == "success"


def test_every_acknowledgment_is_still_needed(synth: Synth) -> None:
    used = {(s["acknowledgedAt"], s["acknowledgedId"]) for s in _suppressed(synth.report)}
    acknowledged = _acknowledgments(synth)
    assert acknowledged
    stale = [(path, ack_id) for path, ack_id, _ in acknowledged if (path, ack_id) not in used]
    assert stale == [], f"acknowledgments that suppress nothing: {stale}"


def test_acknowledgments_are_qualified_and_explained(synth: Synth) -> None:
    prefixes = tuple(f"{pack.value}::{pack.value}-" for pack in Pack)
    for path, ack_id, reason in _acknowledgments(synth):
        assert ack_id.startswith(prefixes), f"{path}: {ack_id} lacks its Pack:: prefix"
        assert len(reason) >= 60, f"{path}: {ack_id} has no real reason"


def test_acknowledgments_sit_on_named_constructs_not_stacks(synth: Synth) -> None:
    stacks = {f"{synth.env_name}/{name}" for name in ("Stateful", "Service", "Monitoring")}
    for path, ack_id, _ in _acknowledgments(synth):
        assert path not in stacks and path != synth.env_name, f"{ack_id} acknowledged at {path}"


def test_lambda_outside_vpc_is_acknowledged_per_function(synth: Synth) -> None:
    acks = {(path, ack_id) for path, ack_id, _ in _acknowledgments(synth)}
    for name in synth.stage.service.functions:
        path = f"{synth.env_name}/Service/{name}/Function"
        assert (path, "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC") in acks


def test_nist_findings_mirror_the_other_packs_acknowledgments(synth: Synth) -> None:
    """Each NIST acknowledgment sits where another pack's same finding is acknowledged.

    Reasons name the NIST controls; LambdaConcurrency is fixed (reserved
    concurrency on every function), never acknowledged.
    """
    mirrors = {
        "NIST.800.53.R5-LambdaInsideVPC": "PCI.DSS.321-LambdaInsideVPC",
        "NIST.800.53.R5-LambdaDLQ": "Serverless-LambdaDLQ",
        "NIST.800.53.R5-SecretsManagerRotationEnabled": "AwsSolutions-SMG4",
        "NIST.800.53.R5-APIGWSSLEnabled": "PCI.DSS.321-APIGWSSLEnabled",
        "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted": "PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
    }
    acks = _acknowledgments(synth)
    by_path = {(path, ack_id.split("::", 1)[1]) for path, ack_id, _ in acks}
    nist = [(p, a.split("::", 1)[1], r) for p, a, r in acks if a.startswith("NIST.800.53.R5::")]
    assert nist
    for path, rule, reason in nist:
        assert "NIST 800-53 R5" in reason, (path, rule)
        assert rule != "NIST.800.53.R5-LambdaConcurrency"
        if rule in mirrors:
            assert (path, mirrors[rule]) in by_path, (path, rule)
    counts = {rule: sum(1 for _, r, _ in nist if r == rule) for rule in mirrors}
    assert counts == {
        "NIST.800.53.R5-LambdaInsideVPC": 7,
        "NIST.800.53.R5-LambdaDLQ": 5,
        "NIST.800.53.R5-SecretsManagerRotationEnabled": 2,
        "NIST.800.53.R5-APIGWSSLEnabled": 1,
        "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted": 1,
    }
    # Dev alone turns alarm actions off, so only dev acknowledges CloudWatchAlarmAction.
    alarm_acks = [p for p, r, _ in nist if r == "NIST.800.53.R5-CloudWatchAlarmAction"]
    assert len(alarm_acks) == (0 if cfg_alarms_enabled(synth) else 1)


def cfg_alarms_enabled(synth: Synth) -> bool:
    return bool(synth.stage.cfg.alarm_actions_enabled)
