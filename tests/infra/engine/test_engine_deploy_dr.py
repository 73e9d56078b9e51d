"""`make deploy-dr ENV=…` deploys the Singapore stacks and nothing in Mumbai (issue 11 #10).

During a Mumbai outage `make deploy ENV=prod SYSTEM=engine` would try Mumbai first (dr-database
depends on database, dr-api on data). The DR target selects the Singapore stacks by pattern
with --exclusively; these tests hold the pattern to the stage's stacks, so a Singapore stack
added later without the Dr prefix (or a Mumbai one with it) fails here.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Callable

import pytest

from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth
from tests.infra.synth import ROOT

DR_ENVIRONMENTS = [e for e in ENGINE_ENVIRONMENTS if e in ("staging", "prod")]
# The Makefile runs cdk as `npx --no-install cdk --no-notices deploy ...`
DEPLOY = re.compile(r"\bcdk\b.*\sdeploy\s")


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _deploy_command(env_name: str) -> str:
    dry_run = _make("-n", "deploy-dr", f"ENV={env_name}")
    assert dry_run.returncode == 0, dry_run.stderr
    [command] = [line for line in dry_run.stdout.splitlines() if DEPLOY.search(line)]
    return command


@pytest.mark.parametrize("env_name", DR_ENVIRONMENTS)
def test_deploy_dr_selects_exactly_the_singapore_stacks(
    env_name: str, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    command = _deploy_command(env_name)
    assert "--exclusively" in command.split()
    assert f"-c system=engine -c env={env_name}" in command
    [pattern] = re.findall(r"deploy '([^']+)'", command)
    stage = engine_synth_of(env_name).stage
    selected = {
        stack.stack_name
        for stack in stage.stacks
        if fnmatch.fnmatchcase(f"{stage.stage_name}/{stack.node.id}", pattern)
    }
    singapore = {s.stack_name for s in stage.stacks if s.region == stage.cfg.dr_region}
    assert selected == singapore
    assert len(singapore) == 10


def test_deploy_dr_refuses_an_environment_without_dr_before_touching_anything() -> None:
    refused = _make("deploy-dr", "ENV=dev")
    assert refused.returncode != 0
    assert "engine dev has no DR stacks" in refused.stderr
    assert "cdk" not in refused.stdout
    usage = _make("deploy-dr")
    assert usage.returncode != 0 and "usage: make deploy-dr ENV=" in usage.stdout
