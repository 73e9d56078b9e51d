#!/usr/bin/env python3
"""CDK entry point: every stack of every environment, or one with `-c env=<name>`.

No AWS calls and no context lookups happen here: accounts, regions and zones all
come from `config/`. CDK_VALIDATION=false (read by the jsii runtime) turns off
CDK's built-in CloudFormation validation; cdk-nag runs either way.

A problem the person running synth can fix (an unknown environment or system, a
layer that could not be built) is printed as one line, not a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The runtime declarations (tables, functions, routes) live with the Lambda code.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))

import aws_cdk as cdk

from cdk_constructs.layer_build import LayerBuildError
from config import ConfigError
from stacks import build


def main() -> int:
    app = cdk.App()
    try:
        build(app)
    except (ConfigError, LayerBuildError) as problem:
        print(f"synth: {problem}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
