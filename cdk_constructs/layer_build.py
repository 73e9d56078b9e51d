"""Build a Lambda dependencies layer once per requirements, platform and Python, and keep it.

Building reaches the package index, so doing it on every synth made synth need the network.
A build goes to `<cache>/<key>/python/`, outside `cdk.out/` (which every synth deletes), where
the key hashes the requirements file's bytes, the wheel platforms and the runtime's Python
version: it changes exactly when one of them does. The cache is `.build/layers/` in the
repository unless `LAYER_CACHE_DIR` names another. A build is written to a temporary sibling
and renamed into place, so a failed or interrupted build never leaves a half layer behind.

The wheels are chosen for the Lambda platform, not the build host: arm64 manylinux binaries
for the runtime's Python version, binary-only so nothing is compiled for the wrong CPU.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cdk_constructs.runtime import PYTHON_VERSION, WHEEL_PLATFORMS

CACHE_ENV = "LAYER_CACHE_DIR"
DEFAULT_CACHE = Path(__file__).resolve().parents[1] / ".build" / "layers"
# Part of the key: bump it when the build command changes what lands in a layer.
RECIPE = "target-python-binary-only-1"
# uv spells the platform as a target triple.
UV_PLATFORM = "aarch64-manylinux_2_28"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class LayerBuildError(RuntimeError):
    """A layer could not be built; the message is one line: which layer, why, how to retry."""


@dataclass(frozen=True)
class LayerSpec:
    requirements_file: Path
    python_version: str = PYTHON_VERSION
    platforms: tuple[str, ...] = WHEEL_PLATFORMS

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        for part in (RECIPE, self.python_version, *self.platforms):
            digest.update(part.encode() + b"\0")
        digest.update(self.requirements_file.read_bytes())
        return digest.hexdigest()


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


def cached_layer(spec: LayerSpec, name: str, root: Path | None = None) -> Path:
    """The layer's directory (holding `python/`), built first if the cache has no such key."""
    root = root or cache_root()
    target = root / spec.key
    if target.is_dir():
        return target
    print(f"building layer {name} once into {target} (later synths reuse it)", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{spec.key[:12]}-", suffix=".partial", dir=root))
    try:
        _install(spec, staging / "python", name)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not another synth finishing the same build first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _install(spec: LayerSpec, target: Path, name: str) -> None:
    command = build_command(spec, target)
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env=build_environment(), check=False
    )
    if result.returncode != 0:
        raise LayerBuildError(
            f"layer {name} was not built: {Path(command[0]).name} could not install "
            f"{spec.requirements_file} for Python {spec.python_version} on "
            f"{spec.platforms[0]}: {failure_reason(result.stderr or result.stdout)}. "
            "Check access to the package index (behind a TLS-inspecting proxy set "
            "SSL_CERT_FILE; a mirror: UV_INDEX_URL or PIP_INDEX_URL), then run `make synth` again"
        )
    # uv leaves its lock file in --target; it has no place in the layer.
    (target / ".lock").unlink(missing_ok=True)


def build_environment() -> dict[str, str]:
    """uv trusts the platform's certificate store (a TLS-inspecting proxy's CA lives there)."""
    return {
        **os.environ,
        "UV_SYSTEM_CERTS": os.environ.get("UV_SYSTEM_CERTS", "1"),
        "NO_COLOR": "1",
    }


def failure_reason(output: str) -> str:
    """The installer's first error line and, if different, its innermost cause, on one line."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith("warning:")]
    if not lines:
        return "no output"
    first = lines[0].removeprefix("error:").strip()
    last = re.sub(r"^(caused by|cause):\s*", "", lines[-1], flags=re.IGNORECASE)
    return first if last == first else f"{first} ({last})"


def build_command(spec: LayerSpec, target: Path) -> list[str]:
    """pip of this interpreter, else uv, else pip of another Python on PATH.

    uv-made virtualenvs have no pip. Which Python runs pip does not matter: the wheels are
    chosen by --platform/--python-version, not by the interpreter.
    """
    if importlib.util.find_spec("pip") is not None:
        return _pip_command(sys.executable, spec, target)
    uv = shutil.which("uv")
    if uv:
        return _uv_command(uv, spec, target)
    python = _python_with_pip()
    if python:
        return _pip_command(python, spec, target)
    raise LayerBuildError(
        f"{sys.executable} has no pip, no `uv` is on PATH and no other python3 on PATH has "
        "pip: run `make venv` (it installs uv into .tools/bin) or put uv on PATH"
    )


def _pip_command(python: str, spec: LayerSpec, target: Path) -> list[str]:
    platforms = [arg for platform in spec.platforms for arg in ("--platform", platform)]
    return [
        python,
        "-m",
        "pip",
        "install",
        "-r",
        str(spec.requirements_file),
        "--target",
        str(target),
        *platforms,
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        spec.python_version,
        "--no-compile",
        "--disable-pip-version-check",
        "-q",
    ]


def _uv_command(uv: str, spec: LayerSpec, target: Path) -> list[str]:
    return [
        uv,
        "pip",
        "install",
        "-r",
        str(spec.requirements_file),
        "--target",
        str(target),
        "--python",
        sys.executable,
        "--python-platform",
        UV_PLATFORM,
        "--python-version",
        spec.python_version,
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
