"""Shared by every test suite: import paths and the jsii/CDK environment.

The runtime packages (`payouts`, `shared`) live under lambda_src/, and the CDK
side imports them too. The two environment variables must be set before anything
imports aws_cdk: jsii reads them when it starts its Node process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "lambda_src", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_VALIDATION", "false")
