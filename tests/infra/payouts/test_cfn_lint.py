"""cfn-lint (the pinned version) over every synthesized template, in one process.

Errors fail the test. The one tolerated warning is W3005: CDK's Function always
adds `DependsOn` on its role even though `Role: GetAtt` already orders them.
Any other warning is new and fails too, so it gets looked at.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from config.payouts import REGION
from tests.infra.cfn_lint import TOLERATED_WARNINGS, WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.conftest import ENVIRONMENTS
from tests.infra.synth import Synth


def test_cfn_lint_finds_no_errors(synth_of: Callable[[str], Synth]) -> None:
    templates = [str(p) for env in ENVIRONMENTS for p in synth_of(env).template_paths()]
    result = subprocess.run(
        [cfn_lint(), "--format", "json", "--regions", REGION, "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & ~WARNING_OR_INFO_BITS == 0, result.stderr or result.stdout
    matches = json.loads(result.stdout or "[]")
    errors = [m for m in matches if m["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)[:4000]
    unexpected = {m["Rule"]["Id"] for m in matches} - TOLERATED_WARNINGS
    assert unexpected == set(), json.dumps([m for m in matches if m["Rule"]["Id"] in unexpected])[
        :4000
    ]
