#!/usr/bin/env python3
"""Summarize a synthesized cloud assembly: one row per stack, with its cdk-nag result.

Every system's stacks appear (payouts and the payments engine, primary and DR
Regions); the nag result counts all registered packs (AwsSolutions, PCI DSS 3.2.1,
Serverless, NIST 800-53 R5). A second table gives each environment's reserved Lambda
concurrency per Region and the account limit it needs (Lambda keeps 100 unreserved; new
accounts often start at 10): `make preflight` checks it against a real account.

    python -m scripts.synth_summary [cdk.out]

Reads the root manifest, each stage's nested assembly and templates, and the
validation report cdk-nag writes next to the root manifest. Exits 1 when any nag
finding is unacknowledged, 2 when the report is missing or older than the
assembly (a stale report from an earlier run must not pass for this one).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cost_model import assembly
from cost_model.assembly import assembly_dirs
from scripts import quotas

REPORT = "validation-report.json"
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


def nag_counts(report: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """(unacknowledged findings, acknowledged findings) per construct-path prefix."""
    findings: Counter[str] = Counter()
    acknowledged: Counter[str] = Counter()
    for plugin in report.get("pluginReports", []):
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


def render(rows: list[StackRow], findings: Counter[str], acknowledged: Counter[str]) -> list[str]:
    header = ("stack", "system", "environment", "region", "resources", "nag")
    table = [header]
    for row in rows:
        found, acked = (
            _count_for(findings, row.display_name),
            _count_for(acknowledged, row.display_name),
        )
        verdict = f"{found} findings" if found else "pass"
        table.append(
            (
                row.name,
                row.system,
                row.environment,
                row.region,
                str(row.resources),
                f"{verdict} / {acked} acknowledged",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    if not (outdir / "manifest.json").exists():
        print(f"no cloud assembly at {outdir}; run cdk synth first", file=sys.stderr)
        return 2
    problem = _report_problem(outdir)
    report = load(outdir / REPORT) if problem is None else {}
    findings, acknowledged = nag_counts(report)
    rows = stacks(outdir)
    print("\n".join(render(rows, findings, acknowledged)))
    total = sum(findings.values())
    print(
        f"\n{len(rows)} stacks, {sum(r.resources for r in rows)} resources, "
        f"{total} unacknowledged nag findings, {sum(acknowledged.values())} acknowledged"
    )
    print("\nReserved Lambda concurrency (Lambda keeps 100 unreserved per account and Region):")
    print("\n".join(quotas.concurrency_lines(quotas.needs(assembly.read(outdir)).values())))
    if problem:
        print(problem, file=sys.stderr)
        return 2
    unattributed = total - sum(_count_for(findings, r.display_name) for r in rows)
    if unattributed:
        print(f"{unattributed} findings outside any stack", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
