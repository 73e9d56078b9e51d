"""A dependencies layer built by pip (or uv) on this machine, never in Docker.

The wheels are chosen for the Lambda platform, not the build host: arm64 manylinux
binaries for the runtime's Python version, binary-only so nothing is compiled for
the wrong CPU. The asset hash is the SOURCE hash of the requirements file alone,
so the layer changes exactly when the pins do. Tests skip bundling entirely
(context `aws:cdk:bundling-stacks: []`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_constructs.runtime import ARCHITECTURE, PYTHON_VERSION, RUNTIME, WHEEL_PLATFORMS

# uv spells the platform as a target triple.
_UV_PLATFORM = "aarch64-manylinux_2_28"


@dataclass(frozen=True)
class PythonLayerProps:
    requirements_file: Path
    description: str


class BundlingError(RuntimeError):
    """Local bundling failed; raised so CDK never falls back to Docker."""


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundler:
    def __init__(self, requirements_file: Path) -> None:
        self.requirements_file = requirements_file.resolve()

    # jsii passes the bundling options positionally; only the output dir matters here.
    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        target = Path(output_dir) / "python"
        command = self.command(target)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                f"layer bundling failed ({' '.join(command[:4])} ...):\n{result.stderr.strip()}"
            )
        # uv leaves its lock file in --target; it has no place in the layer.
        (target / ".lock").unlink(missing_ok=True)
        return True

    def command(self, target: Path) -> list[str]:
        """pip of this interpreter, else uv, else pip of another Python on PATH.

        uv-made virtualenvs have no pip. Which Python runs pip does not matter: the
        wheels are chosen by --platform/--python-version, not by the interpreter.
        """
        if importlib.util.find_spec("pip") is not None:
            return self._pip_command(sys.executable, target)
        uv = shutil.which("uv")
        if uv:
            return self._uv_command(uv, target)
        python = _python_with_pip()
        if python:
            return self._pip_command(python, target)
        raise BundlingError(
            f"{sys.executable} has no pip, no `uv` is on PATH and no other python3 on PATH "
            "has pip; install one of them to build the layer"
        )

    def _pip_command(self, python: str, target: Path) -> list[str]:
        platforms = [arg for platform in WHEEL_PLATFORMS for arg in ("--platform", platform)]
        return [
            python,
            "-m",
            "pip",
            "install",
            "-r",
            str(self.requirements_file),
            "--target",
            str(target),
            *platforms,
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--no-compile",
            "--disable-pip-version-check",
            "-q",
        ]

    def _uv_command(self, uv: str, target: Path) -> list[str]:
        return [
            uv,
            "pip",
            "install",
            "-r",
            str(self.requirements_file),
            "--target",
            str(target),
            "--python",
            sys.executable,
            "--python-platform",
            _UV_PLATFORM,
            "--python-version",
            PYTHON_VERSION,
            "--only-binary",
            ":all:",
            "-q",
        ]


def _python_with_pip() -> str | None:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "python3"
        if not candidate.is_file() or candidate.resolve() == Path(sys.executable).resolve():
            continue
        probe = subprocess.run(  # noqa: S603
            [str(candidate), "-m", "pip", "--version"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return str(candidate)
    return None


class PythonDependenciesLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PythonLayerProps) -> None:
        super().__init__(scope, construct_id)
        requirements = props.requirements_file
        if not requirements.is_file():
            raise FileNotFoundError(f"no requirements file at {requirements}")
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description=props.description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(requirements.parent),
                # Only the requirements file is the source: the hash ignores the code.
                exclude=["*", f"!{requirements.name}"],
                asset_hash_type=cdk.AssetHashType.SOURCE,
                bundling=cdk.BundlingOptions(
                    image=RUNTIME.bundling_image,
                    local=PipLocalBundler(requirements),
                    command=["false"],  # never reached: local bundling raises instead
                ),
            ),
        )
