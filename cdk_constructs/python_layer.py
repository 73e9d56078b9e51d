"""A dependencies layer built on this machine (never in Docker), once, and reused offline.

The layer is built by `layer_build` into a cache outside `cdk.out/` the first time a synth
bundles it, and its asset then points at the cached directory: no bundling happens in synth
once the cache is warm. The asset hash is the build key (requirements bytes, wheel platforms,
Python version) whether or not the layer was built, so a template never depends on the
cache. Stacks that skip bundling (tests set context `aws:cdk:bundling-stacks: []`; the CLI
skips stacks it was not asked for) build nothing: their asset is the requirements file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_constructs.layer_build import LayerSpec, cached_layer
from cdk_constructs.runtime import ARCHITECTURE, RUNTIME


@dataclass(frozen=True)
class PythonLayerProps:
    requirements_file: Path
    description: str
    # Where built layers are kept; None: LAYER_CACHE_DIR, else .build/layers in the repository.
    cache_dir: Path | None = None


class PythonDependenciesLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PythonLayerProps) -> None:
        super().__init__(scope, construct_id)
        requirements = props.requirements_file
        if not requirements.is_file():
            raise FileNotFoundError(f"no requirements file at {requirements}")
        self.spec = LayerSpec(requirements)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=props.description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=self._code(props),
        )

    def _code(self, props: PythonLayerProps) -> lambda_.AssetCode:
        key = self.spec.key
        if cdk.Stack.of(self).bundling_required:
            directory = cached_layer(self.spec, self.node.path, props.cache_dir)
            return lambda_.Code.from_asset(
                str(directory), asset_hash=key, asset_hash_type=cdk.AssetHashType.CUSTOM
            )
        requirements = props.requirements_file
        return lambda_.Code.from_asset(
            str(requirements.parent),
            exclude=["*", f"!{requirements.name}"],
            asset_hash=key,
            asset_hash_type=cdk.AssetHashType.CUSTOM,
        )
