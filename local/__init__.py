"""Running the systems on a laptop: AWS in moto, the same handlers, provider simulators."""

import os
import sys
from pathlib import Path

# The runner reads the dev config, which imports aws_cdk: keep jsii's Node banner quiet.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The runtime packages (payouts, shared) live in lambda_src/, as they do in the Lambda asset.
_RUNTIME = str(Path(__file__).resolve().parents[1] / "lambda_src")
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)
