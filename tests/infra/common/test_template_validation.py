"""CDK's own template validation, the check `cdk deploy` runs, passes on every template.

The other infra tests synthesize with it off (CDK_VALIDATION=false: it costs seconds per
synth); here the whole app, both systems and every environment, is synthesized once with
it on, as `make synth` and `make deploy` do, so a deployer never meets a warning the tests
hid. Bundling stays off: the templates do not depend on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdk_constructs.nag import TEMPLATE_CHECK
from cdk_constructs.tags import UNTAGGABLE_TYPES
from config.selection import PAYOUTS, chosen
from scripts import synth_summary
from tests.infra.synth import ROOT, Synth, cdk_json_context

PLUGIN = synth_summary.TEMPLATE_CHECK


# What the CDK CLI adds to the context of every `cdk synth`/`cdk deploy` (bundling aside).
CLI_CONTEXT = {
    "aws:cdk:version-reporting": True,
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
}
# Without version reporting (`--no-version-reporting`, or an app run directly) CDK's checker
# also flags the pinned availability zones (W3010): one engine environment with both
# Regions' VPCs proves their acknowledgments, at half the cost of all of them.
VARIANTS = {"cli": CLI_CONTEXT, "no-version-reporting": {"system": "engine", "env": "prod"}}


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Per variant, (cdk.out, stderr) of the whole app synthesized with CDK's validation on;
    the two synths run side by side."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    runs = {}
    for name, extra in VARIANTS.items():
        outdir = tmp_path_factory.mktemp(name) / "cdk.out"
        context = cdk_json_context() | extra | {"aws:cdk:bundling-stacks": []}
        child_env = env | {"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
        runs[name] = (
            outdir,
            subprocess.Popen(
                [sys.executable, "app.py"],
                cwd=ROOT,
                env=child_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    found = {}
    for name, (outdir, process) in runs.items():
        _, stderr = process.communicate()
        assert process.returncode == 0, f"{name}: {stderr[-4000:]}"
        found[name] = (outdir, stderr)
    return found


def _plugin(outdir: Path) -> dict[str, Any]:
    """CDK's validation's report; CDK leaves it out when it found and suppressed nothing."""
    plugins = [p for p in _report(outdir)["pluginReports"] if p["pluginName"] == PLUGIN]
    return plugins[0] if plugins else {"violations": [], "suppressedViolations": []}


def _report(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "validation-report.json").read_text())


def _templates(outdir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(outdir.glob("assembly-*/*.template.json")):
        yield path, json.loads(path.read_text())


def test_every_environment_of_both_systems_was_validated(
    validated: dict[str, tuple[Path, str]],
) -> None:
    outdir, _ = validated["cli"]
    stages = {f"{'' if s == PAYOUTS else 'engine-'}{e}" for s, e in chosen(None, None)}
    assert {p.name.removeprefix("assembly-") for p in outdir.glob("assembly-*")} == stages
    for variant, (directory, _) in validated.items():
        templates = [
            json.loads(t.read_text()) for t in directory.glob("assembly-*/*.template.json")
        ]
        reported = {"CDKMetadata" in template["Resources"] for template in templates}
        assert reported == {variant == "cli"}, variant


def test_the_checker_really_read_the_templates(validated: dict[str, tuple[Path, str]]) -> None:
    outdir, _ = validated["no-version-reporting"]
    checked = {
        c["cloudFormationResource"]["templatePath"].split("/", 1)[0]
        for s in _plugin(outdir)["suppressedViolations"]
        for c in s["violatingConstructs"]
    }
    assert "assembly-engine-prod" in checked


@pytest.mark.parametrize("variant", VARIANTS)
def test_cdks_validation_finds_nothing_a_deployer_would_see(
    validated: dict[str, tuple[Path, str]], variant: str
) -> None:
    outdir, stderr = validated[variant]
    findings = [
        (v["ruleName"], v["description"], c["constructPath"])
        for v in _plugin(outdir)["violations"]
        for c in v["violatingConstructs"]
    ]
    assert findings == []
    assert "Template validation found issues" not in stderr
    assert "WARNING" not in stderr


def test_every_template_check_acknowledgment_is_explained_and_still_needed(
    validated: dict[str, tuple[Path, str]],
) -> None:
    outdir, _ = validated["no-version-reporting"]
    plugin = _plugin(outdir)
    used = {(s["acknowledgedAt"], s["acknowledgedId"]) for s in plugin["suppressedViolations"]}
    acknowledged = []
    for metadata_file in outdir.glob("assembly-*/*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] != "aws:cdk:acknowledged-rules":
                    continue
                for ack_id, reason in entry["data"].items():
                    if ack_id.startswith(f"{TEMPLATE_CHECK}::"):
                        acknowledged.append((path.lstrip("/"), ack_id, reason))
    assert acknowledged
    for path, ack_id, reason in acknowledged:
        assert (path, ack_id) in used, f"{path}: {ack_id} suppresses nothing"
        assert len(reason) >= 60, f"{path}: {ack_id} has no real reason"
        assert path.endswith("/Subnet"), f"{path}: {ack_id} is wider than one subnet"


def test_types_cloudformation_takes_no_tags_on_are_not_tagged(
    validated: dict[str, tuple[Path, str]],
) -> None:
    outdir, _ = validated["cli"]
    untaggable, proxies = [], []
    for path, template in _templates(outdir):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in UNTAGGABLE_TYPES:
                untaggable.append((path.name, logical_id, resource["Properties"].get("Tags")))
            if resource["Type"] == "AWS::RDS::DBProxy":
                proxies.append({t["Key"] for t in resource["Properties"]["Tags"]})
    assert untaggable and all(tags is None for _, _, tags in untaggable), untaggable
    assert proxies and all({"system", "environment"} <= keys for keys in proxies)


def test_the_summary_passes_the_validated_assembly(
    validated: dict[str, tuple[Path, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outdir, _ = validated["cli"]
    monkeypatch.delenv("CDK_VALIDATION", raising=False)  # as under `make synth`
    assert synth_summary.main(["synth_summary", str(outdir)]) == 0
    out = capsys.readouterr().out
    assert "0 unacknowledged nag findings" in out
    assert "0 unacknowledged template findings" in out
    assert "not run" not in out


def test_the_summary_counts_template_findings_apart_from_nag_findings(
    synth_of: Callable[[str], Synth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "cdk.out"
    shutil.copytree(synth_of("dev").outdir, outdir)
    report = _report(outdir)
    path = "dev/Service/Dependencies/Layer/Resource"
    finding = {
        "ruleName": "F3002",
        "description": "Tags: Additional properties are not allowed ('Tags' was unexpected)",
        "severity": "warning",
        "violatingConstructs": [{"constructPath": path}],
    }
    report["pluginReports"].append(
        {"pluginName": PLUGIN, "conclusion": "success", "violations": [finding]}
    )
    (outdir / "validation-report.json").write_text(json.dumps(report))
    assert synth_summary.main(["synth_summary", str(outdir)]) == 1
    out = capsys.readouterr().out
    service = next(line for line in out.splitlines() if line.startswith("payouts-dev-service"))
    *_, nag_cell, template_cell = re.split(r"\s{2,}", service)
    assert nag_cell.startswith("pass /")
    assert template_cell == "1 findings / 0 acknowledged"
    assert "0 unacknowledged nag findings" in out
    assert "1 unacknowledged template findings" in out


def test_the_summary_says_when_cdks_validation_did_not_run(
    synth_of: Callable[[str], Synth],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")
    assert synth_summary.main(["synth_summary", str(synth_of("dev").outdir)]) == 0
    out = capsys.readouterr().out
    assert "not run" in out
    assert "validation not run (CDK_VALIDATION=false)" in out
