"""The Makefile's own behaviour: selection, usage lines, the deploy preconditions, what every
recipe's environment holds. Targets that would synthesize or deploy run as `make -n` (print,
don't run); the checks that stop a target early run for real, and install nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts import deploy_check
from tests.infra.synth import ROOT, Synth

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
NO_CREDENTIALS = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
}


def make(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
        and not k.startswith(("AWS_", "CDK_ACCOUNT_", "CDK_VALIDATION"))
    }
    return subprocess.run(
        [str(MAKE), "--no-print-directory", "-s", *args],
        cwd=cwd,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("action", ["diff", "deploy"])
def test_diff_and_deploy_without_env_print_their_own_usage(action: str) -> None:
    result = make(action)
    assert result.returncode == 2
    assert result.stdout.startswith(f"usage: make {action} ENV=dev|staging|prod [SYSTEM=payouts]")
    other = "deploy" if action == "diff" else "diff"
    assert f"make {other}" not in result.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("SYSTEM=billing",), "unknown system 'billing'; valid systems: payouts, engine"),
        (
            ("ENV=uat", "SYSTEM=payouts"),
            "unknown environment 'uat'; valid environments: payouts: dev, staging, prod",
        ),
    ],
)
@pytest.mark.parametrize("target", ["synth", "cost"])
def test_an_unknown_env_or_system_stops_synth_and_cost_in_one_line(
    target: str, args: tuple[str, ...], line: str
) -> None:
    result = make(target, *args)
    assert result.returncode == 2
    ours = [text for text in result.stderr.splitlines() if not text.startswith("make: ***")]
    assert ours == [line]
    assert result.stdout == ""  # nothing was installed, removed or synthesized


def _cdk_line(output: str, command: str) -> str:
    (line,) = [text for text in output.splitlines() if f"cdk --no-notices {command} " in text]
    return line


def test_synth_passes_system_and_env_to_the_app_and_both_systems_without_them() -> None:
    narrowed = _cdk_line(make("-n", "synth", "ENV=prod", "SYSTEM=engine").stdout, "synth")
    assert "-c env=prod -c system=engine" in narrowed
    everything = _cdk_line(make("-n", "synth").stdout, "synth")
    assert "-c system" not in everything and "-c env" not in everything
    assert "CDK_VALIDATION=false" not in everything  # the check `cdk deploy` runs runs here too


@pytest.mark.parametrize(
    ("args", "glob", "system"),
    [
        (("ENV=dev",), "'dev/**'", "payouts"),
        (("ENV=qa", "SYSTEM=engine"), "'engine-qa/**'", "engine"),
    ],
)
@pytest.mark.parametrize("action", ["diff", "deploy"])
def test_diff_and_deploy_select_one_system_the_same_way(
    action: str, args: tuple[str, ...], glob: str, system: str
) -> None:
    line = _cdk_line(make("-n", action, *args).stdout, action)
    assert f"{action} {glob} -c system={system}" in line


@pytest.mark.parametrize(
    ("args", "variables"),
    [
        (("ENV=dev",), ("CDK_ACCOUNT_PAYOUTS_DEV", "CDK_ACCOUNT_DEV")),
        (("ENV=qa", "SYSTEM=engine"), ("CDK_ACCOUNT_ENGINE_QA", "CDK_ACCOUNT_QA")),
    ],
)
def test_missing_credentials_name_the_variables_that_set_the_account(
    args: tuple[str, ...], variables: tuple[str, str]
) -> None:
    result = make("diff", *args, **NO_CREDENTIALS)
    assert result.returncode == 2
    (line, *_) = result.stderr.splitlines()
    assert line.startswith("make diff: no AWS credentials found")
    assert all(name in line for name in variables)
    assert "(the placeholder)" in line


def test_deploy_dr_checks_credentials_and_the_account_before_touching_anything() -> None:
    result = make("deploy-dr", "ENV=prod", **NO_CREDENTIALS)
    assert result.returncode == 2
    (line, *_) = result.stderr.splitlines()
    assert line.startswith("make deploy-dr: no AWS credentials found")
    assert "CDK_ACCOUNT_ENGINE_PROD" in line and "CDK_ACCOUNT_PROD" in line
    assert "cdk" not in result.stdout  # nothing removed, synthesized or deployed


CREDENTIALS = NO_CREDENTIALS | {"AWS_ACCESS_KEY_ID": "AKIA0", "AWS_SECRET_ACCESS_KEY": "x"}


def test_with_credentials_a_placeholder_account_is_refused() -> None:
    result = make("deploy", "ENV=staging", **CREDENTIALS)
    assert result.returncode == 2
    (line, *_) = result.stderr.splitlines()
    assert line == (
        "make deploy: payouts/staging deploys to account 222222222222 (the placeholder) in "
        "ap-southeast-2: set CDK_ACCOUNT_PAYOUTS_STAGING or CDK_ACCOUNT_STAGING to the real "
        "account id"
    )


def test_with_credentials_and_a_real_account_the_check_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in (CREDENTIALS | {"CDK_ACCOUNT_STAGING": "123456789012"}).items():
        monkeypatch.setenv(key, value)
    assert deploy_check.main(["--action", "deploy", "--system", "payouts", "--env", "staging"]) == 0
    monkeypatch.setenv("CDK_ACCOUNT_ENGINE_STAGING", "210987654321")
    assert deploy_check.main(["--system", "engine", "--env", "staging"]) == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "1 false"), ({"UV_SYSTEM_CERTS": "0"}, "0 false")],
)
def test_every_recipe_has_uv_on_the_system_store_and_npm_quiet(
    env: dict[str, str], expected: str
) -> None:
    show = 'show-env: ; @echo "$$UV_SYSTEM_CERTS $$NPM_CONFIG_UPDATE_NOTIFIER"'
    result = make("--eval", show, "show-env", **env)
    assert result.stdout.strip() == expected


def _project_copy(tmp_path: Path) -> Path:
    """The Makefile beside links to the code and tools, so `make cost` reads this cdk.out."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(ROOT / "Makefile", copy / "Makefile")
    for name in (".venv", ".tools", "node_modules", "config", "cost_model", "scripts"):
        if (ROOT / name).exists():
            (copy / name).symlink_to(ROOT / name)
    for name in ("requirements.txt", "requirements-dev.txt", "package.json", "package-lock.json"):
        (copy / name).symlink_to(ROOT / name)
    (copy / "lambda_src").mkdir()
    (copy / "lambda_src" / "requirements.txt").symlink_to(ROOT / "lambda_src" / "requirements.txt")
    return copy


def test_cost_synthesizes_what_cdk_out_lacks_and_not_what_it_has(
    tmp_path: Path, synth_of: Callable[[str], Synth]
) -> None:
    copy = _project_copy(tmp_path)
    shutil.copytree(synth_of("prod").outdir, copy / "cdk.out")
    lacking = make("-n", "cost", "ENV=prod", cwd=copy)  # engine/prod is not in cdk.out
    assert "has no templates for engine/prod" in lacking.stderr
    assert _cdk_line(lacking.stdout, "synth").count("-c env=prod") == 1
    covered = make("-n", "cost", "ENV=prod", "SYSTEM=payouts", cwd=copy)
    assert covered.stderr == ""
    assert "cdk --no-notices synth" not in covered.stdout
    assert "-m cost_model cdk.out --env prod --system payouts --json" in covered.stdout


def test_synth_drops_only_the_clis_chatter() -> None:
    cli_output = "\n".join(
        [
            "Successfully synthesized to /work/cdk.out",
            "Supply a stack id (dev/Stateful, dev/Service) to display its template.",
            "synth: layer dev/Service/Dependencies was not built: ...",
            "python3 app.py: Subprocess exited with error 1",
            "WARNING Tags: Additional properties are not allowed (CloudFormation Validate)",
        ]
    )
    show = "show-filter: ; @printf '%s\\n' \"$$OUTPUT\" | grep -Ev '$(CLI_CHATTER)'"
    result = make("--eval", show, "show-filter", OUTPUT=cli_output)
    assert result.stdout.splitlines() == [
        "synth: layer dev/Service/Dependencies was not built: ...",
        "WARNING Tags: Additional properties are not allowed (CloudFormation Validate)",
    ]
