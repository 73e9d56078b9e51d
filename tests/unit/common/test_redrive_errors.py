"""`make redrive-webhooks` fails in one line, not a traceback: no credentials, no such stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import redrive_webhooks

ROOT = Path(__file__).resolve().parents[3]


def test_without_credentials_it_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "scripts.redrive_webhooks", "--env", "dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["redrive-webhooks: Unable to locate credentials"]


def test_an_environment_never_deployed_is_one_line(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert redrive_webhooks.main(["--env", "staging"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("redrive-webhooks: ")
    assert "payouts-staging-stateful" in line
