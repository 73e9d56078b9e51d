"""One stack with one dependencies layer, synthesized with bundling on, as `make synth` does.

python -m tests.infra.common.layer_app <requirements file> <layer cache> <outdir>
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from cdk_constructs.python_layer import PythonDependenciesLayer, PythonLayerProps


def main(argv: list[str]) -> None:
    requirements, cache, outdir = (Path(arg) for arg in argv[1:4])
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    stack = cdk.Stack(
        app, "LayerOnly", env=cdk.Environment(account="111111111111", region="ap-southeast-2")
    )
    PythonDependenciesLayer(
        stack,
        "Dependencies",
        PythonLayerProps(requirements_file=requirements, description="test layer", cache_dir=cache),
    )
    app.synth()


if __name__ == "__main__":
    main(sys.argv)
