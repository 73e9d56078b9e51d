#!/usr/bin/env python3
"""Summarize a synthesized cloud assembly: one row per stack, with its cdk-nag and template checks.

Every system's stacks appear (payouts and the payments engine, primary and DR
Regions); the nag result counts all registered packs (AwsSolutions, PCI DSS 3.2.1,
Serverless, NIST 800-53 R5). The template column is CDK's built-in CloudFormation
validation, the check `cdk deploy` runs ("not run" when synth had CDK_VALIDATION=false);
its findings are counted on their own, never as nag findings. A second table gives each
environment's reserved Lambda concurrency per Region and the account limit it needs (Lambda
keeps 100 unreserved; new accounts often start at 10): `make preflight` checks it against a
real account.

    python -m scripts.synth_summary [cdk.out]

Reads the root manifest, each stage's nested assembly and templates, and the
validation report cdk-nag writes next to the root manifest. Exits 1 when any nag or
template finding is unacknowledged, 2 when the report is missing or older than the
assembly (a stale report from an earlier run must not pass for this one).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_model import assembly
from cost_model.assembly import assembly_dirs
from scripts import quotas

REPORT = "validation-report.json"
# The report's name for CDK's built-in template validation (not a nag pack).
TEMPLATE_CHECK = "CloudFormation Validate"
# The report is written right after the assembly; older than this is a leftover.
STALE_AFTER_SECONDS = 120


@dataclass(frozen=True)
class StackRow:
    name: str
    display_name: str
    system: str
    environment: str
    region: str
    resources: int


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def stacks(outdir: Path) -> list[StackRow]:
    rows: list[StackRow] = []
    for directory in assembly_dirs(outdir):
        for artifact in load(directory / "manifest.json")["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                rows.append(_row(directory, artifact))
    return rows


def _row(directory: Path, artifact: dict[str, Any]) -> StackRow:
    properties = artifact["properties"]
    template = load(directory / properties["templateFile"])
    display = artifact.get("displayName", properties.get("stackName", "?"))
    region = artifact.get("environment", "aws://unknown/unknown").rsplit("/", 1)[-1]
    # Every stack carries the system and environment tags from config; the Stage
    # name (payouts `prod`, engine `engine-prod`) is only the fallback.
    tags = properties.get("tags") or {}
    stage = display.split("/", 1)[0] if "/" in display else "-"
    return StackRow(
        name=properties.get("stackName", display),
        display_name=display,
        system=tags.get("system", "-"),
        environment=tags.get("environment", stage),
        region=region,
        resources=len(template.get("Resources", {})),
    )


@dataclass(frozen=True)
class Counts:
    findings: Counter[str]
    acknowledged: Counter[str]

    def of(self, display_name: str) -> tuple[int, int]:
        return _count_for(self.findings, display_name), _count_for(self.acknowledged, display_name)


def plugin_counts(report: dict[str, Any], template_check: bool) -> Counts:
    """Per construct path: the nag packs' findings, or (template_check) CDK's validation's."""
    plugins = [
        plugin
        for plugin in report.get("pluginReports", [])
        if (plugin.get("pluginName") == TEMPLATE_CHECK) == template_check
    ]
    findings, acknowledged = _tally(plugins)
    return Counts(findings, acknowledged)


def template_check_ran(report: dict[str, Any], environ: Mapping[str, str]) -> bool:
    """CDK leaves the plugin out of the report when it found and suppressed nothing, so
    its absence means a pass unless synth ran with CDK_VALIDATION=false (the summary runs
    in the environment of the synth just before it)."""
    listed = any(p.get("pluginName") == TEMPLATE_CHECK for p in report.get("pluginReports", []))
    return listed or environ.get("CDK_VALIDATION") != "false"


def _tally(plugins: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str]]:
    findings: Counter[str] = Counter()
    acknowledged: Counter[str] = Counter()
    for plugin in plugins:
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings[construct.get("constructPath", "")] += 1
        for suppressed in plugin.get("suppressedViolations") or []:
            for construct in suppressed.get("violatingConstructs", []):
                acknowledged[construct.get("constructPath", "")] += 1
    return findings, acknowledged


def _count_for(counter: Counter[str], display_name: str) -> int:
    return sum(
        n
        for path, n in counter.items()
        if path == display_name or path.startswith(f"{display_name}/")
    )


def _report_problem(outdir: Path) -> str | None:
    report = outdir / REPORT
    if not report.exists():
        return f"{report} is missing: cdk-nag did not run (are the packs registered?)"
    age = (outdir / "manifest.json").stat().st_mtime - report.stat().st_mtime
    if age > STALE_AFTER_SECONDS:
        return (
            f"{report} is {age:.0f}s older than the assembly (stale): rm -rf {outdir}, synth again"
        )
    return None


def render(rows: list[StackRow], nag: Counts, template: Counts | None) -> list[str]:
    header = ("stack", "system", "environment", "region", "resources", "nag", "template")
    table = [header]
    for row in rows:
        table.append(
            (
                row.name,
                row.system,
                row.environment,
                row.region,
                str(row.resources),
                _verdict(*nag.of(row.display_name)),
                _verdict(*template.of(row.display_name)) if template else "not run",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _verdict(found: int, acked: int) -> str:
    return f"{f'{found} findings' if found else 'pass'} / {acked} acknowledged"


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    if not (outdir / "manifest.json").exists():
        print(f"no cloud assembly at {outdir}; run cdk synth first", file=sys.stderr)
        return 2
    problem = _report_problem(outdir)
    report = load(outdir / REPORT) if problem is None else {}
    nag = plugin_counts(report, template_check=False)
    ran = template_check_ran(report, os.environ)
    template = plugin_counts(report, template_check=True) if ran else None
    rows = stacks(outdir)
    print("\n".join(render(rows, nag, template)))
    nag_total = sum(nag.findings.values())
    template_total = sum(template.findings.values()) if template else 0
    template_note = (
        f"{template_total} unacknowledged template findings (CDK's CloudFormation validation)"
        if template
        else "CDK's CloudFormation validation not run (CDK_VALIDATION=false)"
    )
    print(
        f"\n{len(rows)} stacks, {sum(r.resources for r in rows)} resources, "
        f"{nag_total} unacknowledged nag findings, {sum(nag.acknowledged.values())} "
        f"acknowledged; {template_note}"
    )
    print("\nReserved Lambda concurrency (Lambda keeps 100 unreserved per account and Region):")
    print("\n".join(quotas.concurrency_lines(quotas.needs(assembly.read(outdir)).values())))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    for counts in (nag, template):
        if counts is None:
            continue
        total = sum(counts.findings.values())
        unattributed = total - sum(counts.of(r.display_name)[0] for r in rows)
        if unattributed:
            print(f"{unattributed} findings outside any stack", file=sys.stderr)
    return 1 if nag_total or template_total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
