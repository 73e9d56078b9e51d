"""The stacks of a synthesized cloud assembly (the root and each stage's nested one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Stack:
    name: str
    system: str
    environment: str
    region: str
    resources: tuple[Resource, ...]

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources if r.type in types)


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def assembly_dirs(outdir: Path) -> list[Path]:
    """The root assembly and each stage's nested one (scripts/synth_summary.py reads them too)."""
    nested = [
        outdir / artifact["properties"]["directoryName"]
        for artifact in _load(outdir / "manifest.json")["artifacts"].values()
        if artifact["type"] == "cdk:cloud-assembly"
    ]
    return [outdir, *nested]


def read(outdir: Path) -> list[Stack]:
    """Every stack, tagged with its system and environment from the config tags."""
    if not (outdir / "manifest.json").exists():
        raise FileNotFoundError(f"no cloud assembly in {outdir}: run `make synth` first")
    found = []
    for directory in assembly_dirs(outdir):
        for artifact in _load(directory / "manifest.json")["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                found.append(_stack(directory, artifact))
    return found


def _stack(directory: Path, artifact: dict[str, Any]) -> Stack:
    properties = artifact["properties"]
    template = _load(directory / properties["templateFile"])
    tags = properties.get("tags") or {}
    return Stack(
        name=properties.get("stackName", artifact.get("displayName", "?")),
        system=tags.get("system", "-"),
        environment=tags.get("environment", "-"),
        region=artifact.get("environment", "aws://unknown/unknown").rsplit("/", 1)[-1],
        resources=tuple(
            Resource(logical_id, body["Type"], body.get("Properties") or {})
            for logical_id, body in template.get("Resources", {}).items()
        ),
    )
