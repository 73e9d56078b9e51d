"""Synthesize one environment of one system the way the CLI would, minus bundling, and
read it back: templates and nag metadata by stack role (the stack name's suffix)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aws_cdk as cdk

from stacks import build
from stacks.payouts import PayoutsStage

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("stateful", "service", "monitoring")
ASSET_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
MASK = "<asset-hash>"


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


@dataclass
class Synth:
    env_name: str
    outdir: Path
    stage: Any  # PayoutsStage, or EngineStage for EngineSynth
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def assembly_dir(self) -> Path:
        return self.outdir / f"assembly-{self.stage.stage_name}"

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def manifest(self, nested: bool = False) -> dict[str, Any]:
        directory = self.assembly_dir if nested else self.outdir
        return json.loads((directory / "manifest.json").read_text())

    def template_paths(self) -> list[Path]:
        return [self.assembly_dir / stack.template_file for stack in self.stage.stacks]


S = TypeVar("S", bound=Synth)


def synthesize(env_name: str, outdir: Path) -> Synth:
    synth = synthesize_system(Synth, "payouts", env_name, outdir)
    assert isinstance(synth.stage, PayoutsStage)
    assert tuple(synth.templates) == ROLES
    return synth


def synthesize_system(kind: type[S], system: str, env_name: str, outdir: Path) -> S:
    context = cdk_json_context() | {
        "aws:cdk:bundling-stacks": [],
        "env": env_name,
        "system": system,
    }
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    (stage,) = build(app)
    app.synth()
    synth = kind(env_name=env_name, outdir=outdir, stage=stage)
    prefix = f"{system}-{env_name}-"
    for stack in stage.stacks:
        role = stack.stack_name.removeprefix(prefix)
        synth.templates[role] = json.loads((synth.assembly_dir / stack.template_file).read_text())
        metadata_file = synth.assembly_dir / f"{stack.artifact_id}.metadata.json"
        synth.metadata[role] = json.loads(metadata_file.read_text())
    return synth


def mask_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    """Replace content hashes of assets so that code edits do not churn snapshots."""
    return json.loads(ASSET_HASH.sub(MASK, json.dumps(template)))


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def props(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [resource["Properties"] for resource in resources(template, resource_type).values()]
