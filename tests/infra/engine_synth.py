"""Synthesize one payments-engine environment (its Stage only) and read it back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from config.engine import ENVIRONMENTS
from stacks import build
from stacks.engine import EngineStage
from tests.infra.synth import cdk_json_context

ENGINE_ENVIRONMENTS = tuple(ENVIRONMENTS)
PRIMARY_ROLES = (
    "keys",
    "network",
    "data",
    "database",
    "storage",
    "edge-waf",
    "edge",
    "api",
    "backup",
    "monitoring",
)
DR_ROLES = (
    "dr-keys",
    "dr-network",
    "dr-data",
    "dr-database",
    "dr-storage",
    "dr-backup",
    "dr-api",
    "dr-runbook",
    "dr-monitoring",
)


def roles_of(env_name: str) -> tuple[str, ...]:
    """The stack roles an environment has: the DR ones only where DR is enabled."""
    return PRIMARY_ROLES + (DR_ROLES if ENVIRONMENTS[env_name].dr_enabled else ())


@dataclass
class EngineSynth:
    env_name: str
    outdir: Path
    stage: EngineStage
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def cfg(self) -> Any:
        return self.stage.cfg

    @property
    def assembly_dir(self) -> Path:
        return self.outdir / f"assembly-engine-{self.env_name}"

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def manifest(self, nested: bool = False) -> dict[str, Any]:
        directory = self.assembly_dir if nested else self.outdir
        return json.loads((directory / "manifest.json").read_text())

    def template_paths(self) -> list[Path]:
        return [self.assembly_dir / stack.template_file for stack in self.stage.stacks]


def synthesize_engine(env_name: str, outdir: Path) -> EngineSynth:
    context = cdk_json_context() | {
        "aws:cdk:bundling-stacks": [],
        "env": env_name,
        "system": "engine",
    }
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    (stage,) = build(app)
    assert isinstance(stage, EngineStage)
    app.synth()
    synth = EngineSynth(env_name=env_name, outdir=outdir, stage=stage)
    for role, stack in stage.roles.items():
        synth.templates[role] = json.loads((synth.assembly_dir / stack.template_file).read_text())
        metadata_file = synth.assembly_dir / f"{stack.artifact_id}.metadata.json"
        synth.metadata[role] = json.loads(metadata_file.read_text())
    return synth
