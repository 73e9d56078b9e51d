"""Synthesize one payments-engine environment (its Stage only) and read it back."""

from __future__ import annotations

from pathlib import Path

from config.engine import ENVIRONMENTS, EngineConfig
from stacks.engine import EngineStage
from tests.infra.synth import Synth, synthesize_system

ENGINE_ENVIRONMENTS = tuple(ENVIRONMENTS)
PRIMARY_ROLES = (
    "keys",
    "network",
    "data",
    "database",
    "storage",
    "edge-waf",
    "edge",
    "service",
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
    "dr-service",
    "dr-api",
    "dr-runbook",
    "dr-monitoring",
)


def roles_of(env_name: str) -> tuple[str, ...]:
    """The stack roles an environment has: the DR ones only where DR is enabled."""
    return PRIMARY_ROLES + (DR_ROLES if ENVIRONMENTS[env_name].dr_enabled else ())


class EngineSynth(Synth):
    stage: EngineStage

    @property
    def cfg(self) -> EngineConfig:
        return self.stage.cfg


def synthesize_engine(env_name: str, outdir: Path) -> EngineSynth:
    synth = synthesize_system(EngineSynth, "engine", env_name, outdir)
    assert isinstance(synth.stage, EngineStage)
    return synth
