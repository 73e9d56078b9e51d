"""The payments engine's stacks, per environment: keys, network and data (phase 1)."""

from stacks.engine.stage import EngineStage

__all__ = ["EngineStage"]
