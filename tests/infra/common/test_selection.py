"""ENV= and SYSTEM= choose the same way everywhere; an unknown name is one line naming the
valid ones, from the selection module, the app and `make`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from config import ConfigError
from config.selection import chosen, main
from tests.infra.synth import ROOT, cdk_json_context


def test_nothing_chosen_is_every_environment_of_every_system() -> None:
    pairs = chosen(None, None)
    assert ("payouts", "dev") in pairs and ("engine", "qa") in pairs
    assert len(pairs) == 7


def test_an_environment_only_one_system_has_selects_that_system() -> None:
    assert chosen("qa", None) == [("engine", "qa")]
    assert chosen("dev", None) == [("payouts", "dev"), ("engine", "dev")]
    assert chosen("prod", "engine") == [("engine", "prod")]


@pytest.mark.parametrize(
    ("env", "system", "message"),
    [
        (None, "billing", "unknown system 'billing'; valid systems: payouts, engine"),
        (
            "qa",
            "payouts",
            "unknown environment 'qa'; valid environments: payouts: dev, staging, prod",
        ),
        (
            "uat",
            None,
            "unknown environment 'uat'; valid environments: payouts: dev, staging, prod; "
            "engine: dev, qa, staging, prod",
        ),
    ],
)
def test_an_unknown_name_is_one_line_listing_the_valid_ones(
    env: str | None, system: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        chosen(env, system)
    assert str(raised.value) == message


def test_the_module_exits_2_with_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--system", "billing"]) == 2
    assert capsys.readouterr().err == "unknown system 'billing'; valid systems: payouts, engine\n"
    assert main(["--env", "qa", "--system", "engine"]) == 0


def test_the_app_says_it_in_one_line_not_a_traceback(tmp_path: os.PathLike[str]) -> None:
    context = cdk_json_context() | {"system": "engine", "env": "uat"}
    env = os.environ | {"CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "synth: unknown environment 'uat'; valid environments: engine: dev, qa, staging, prod"
    ]
