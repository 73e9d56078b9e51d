#!/usr/bin/env python3
"""CDK entry point: every stack of every environment, or one with `-c env=<name>`.

No AWS calls and no context lookups happen here: accounts, regions and zones all
come from `config/`. CDK_VALIDATION=false (read by the jsii runtime) turns off
CDK's built-in CloudFormation validation; cdk-nag runs either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The runtime declarations (tables, functions, routes) live with the Lambda code.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))

import aws_cdk as cdk

from stacks import build


def main() -> None:
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
