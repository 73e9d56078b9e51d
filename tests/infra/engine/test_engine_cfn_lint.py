"""cfn-lint over every payments-engine template, each in its own Region, in one process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from config.engine import DR_REGION, REGION
from tests.infra.cfn_lint import TOLERATED_WARNINGS, WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth

# W3010 "avoid hardcoding availability zones": the zones are config on purpose
# (pitfalls P8: no context lookup), and the seed's subnets are pinned per zone.
ENGINE_TOLERATED_WARNINGS = TOLERATED_WARNINGS | {"W3010"}


def test_engine_cfn_lint_finds_no_errors(engine_synth_of: Callable[[str], EngineSynth]) -> None:
    templates = [
        str(path) for env in ENGINE_ENVIRONMENTS for path in engine_synth_of(env).template_paths()
    ]
    result = subprocess.run(
        [
            cfn_lint(),
            "--format",
            "json",
            "--regions",
            REGION,
            DR_REGION,
            "us-east-1",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & ~WARNING_OR_INFO_BITS == 0, result.stderr or result.stdout
    matches = json.loads(result.stdout or "[]")
    errors = [m for m in matches if m["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)[:4000]
    unexpected = {m["Rule"]["Id"] for m in matches} - ENGINE_TOLERATED_WARNINGS
    assert unexpected == set(), json.dumps([m for m in matches if m["Rule"]["Id"] in unexpected])[
        :4000
    ]
