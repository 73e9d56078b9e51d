"""The dependencies layer is built once, kept outside cdk.out, and reused with no network.

Every build here installs a tiny wheel made on the spot, named by a file URL, so even the
first build needs no package index; the second synth then runs with the network blocked
and the wheel deleted, so it can only pass by reusing the cached layer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cdk_constructs import layer_build
from cdk_constructs.layer_build import LayerBuildError, LayerSpec, build_command, failure_reason
from tests.infra.synth import ROOT, cdk_json_context
from tests.offline import offline_env, run_offline

TOOLS = ROOT / ".tools" / "bin"


def _wheel(directory: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel (py3-none-any), installable for any platform."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }

    def digest(text: str) -> str:
        raw = hashlib.sha256(text.encode()).digest()
        return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    record = "".join(
        f"{path},{digest(text)},{len(text.encode())}\n" for path, text in files.items()
    )
    files[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _child_env(**extra: str) -> dict[str, str]:
    """What `make synth` gives the app: the pinned uv on PATH, no AWS, no validation."""
    path = os.pathsep.join([str(TOOLS), os.environ.get("PATH", "")])
    return offline_env(PATH=path, CDK_VALIDATION="false", **extra)


def _layer_asset(outdir: Path) -> Path:
    """The staged directory of the one layer in the assembly (assets sit in the root)."""
    keys = {
        resource["Properties"]["Content"]["S3Key"]
        for template in outdir.rglob("*.template.json")
        for resource in json.loads(template.read_text())["Resources"].values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    (key,) = keys
    return outdir / f"asset.{key.removesuffix('.zip')}"


def _synth_layer_app(
    requirements: Path, cache: Path, outdir: Path
) -> subprocess.CompletedProcess[str]:
    app = [sys.executable, "-m", "tests.infra.common.layer_app"]
    command = [*app, str(requirements), str(cache), str(outdir)]
    return run_offline(command, cwd=ROOT, env=_child_env())


@pytest.mark.skipif(not (TOOLS / "uv").exists(), reason="needs the pinned uv (make venv)")
def test_second_synth_reuses_the_cached_layer_with_the_network_blocked(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinydep @ {wheel.as_uri()}\n")
    cache = tmp_path / "cache"

    first = _synth_layer_app(requirements, cache, tmp_path / "out1")
    assert first.returncode == 0, first.stderr
    assert "building layer LayerOnly/Dependencies" in first.stderr
    (entry,) = cache.iterdir()
    assert entry.name == LayerSpec(requirements).key
    built = entry / "python" / "tinydep" / "__init__.py"
    assert built.is_file()
    assert not (entry / "python" / ".lock").exists()
    stamp = built.stat().st_mtime_ns

    wheel.unlink()  # a rebuild now has nothing to install from, with or without a network
    second = _synth_layer_app(requirements, cache, tmp_path / "out2")
    assert second.returncode == 0, second.stderr
    assert "building layer" not in second.stderr
    assert built.stat().st_mtime_ns == stamp
    asset = _layer_asset(tmp_path / "out2")
    assert (asset / "python" / "tinydep" / "__init__.py").read_text() == "VALUE = 1\n"
    # The asset hash is the build key in both synths: the template does not depend on the cache.
    assert asset.name == _layer_asset(tmp_path / "out1").name


def test_a_changed_requirements_file_is_a_new_cache_entry(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-lambda-powertools==3.37.0\n")
    before = LayerSpec(requirements).key
    assert LayerSpec(requirements, python_version="3.13").key != before
    assert LayerSpec(requirements, platforms=("manylinux2014_aarch64",)).key != before
    requirements.write_text("aws-lambda-powertools==3.38.0\n")
    assert LayerSpec(requirements).key != before


def _app_synth(tmp_path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """The real app, payouts dev only, with bundling on: what `make synth ENV=dev` runs."""
    context = cdk_json_context() | {"env": "dev", "system": "payouts"}
    env = _child_env(
        CDK_OUTDIR=str(tmp_path / "cdk.out"),
        CDK_CONTEXT_JSON=json.dumps(context),
        LAYER_CACHE_DIR=str(cache),
    )
    return run_offline([sys.executable, "app.py"], cwd=ROOT, env=env)


def test_app_synth_uses_the_cached_layer_offline(tmp_path: Path) -> None:
    spec = LayerSpec(ROOT / "lambda_src" / "requirements.txt")
    seeded = tmp_path / "cache" / spec.key / "python" / "seeded.py"
    seeded.parent.mkdir(parents=True)
    seeded.write_text("# put here by the test, not by a build\n")
    result = _app_synth(tmp_path, tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "building layer" not in result.stderr
    asset = _layer_asset(tmp_path / "cdk.out")
    assert (asset / "python" / "seeded.py").is_file()


def test_a_failed_layer_build_is_one_line_naming_the_layer_and_the_retry(tmp_path: Path) -> None:
    result = _app_synth(tmp_path, tmp_path / "empty-cache")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "jsii" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("synth:")]
    assert "layer dev/Service/Dependencies was not built" in line
    assert "lambda_src/requirements.txt" in line
    assert "make synth" in line
    assert "\x1b[" not in result.stderr
    assert not any((tmp_path / "empty-cache").iterdir()), "a failed build leaves nothing behind"


# --------------------------------------------------------------------------- build command


def test_layer_build_targets_lambda_arm64_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = LayerSpec(ROOT / "lambda_src" / "requirements.txt")
    monkeypatch.setattr(layer_build.importlib.util, "find_spec", lambda name: object())
    pip = build_command(spec, tmp_path / "python")
    assert pip[:4] == [sys.executable, "-m", "pip", "install"]
    for expected in ("manylinux_2_28_aarch64", "manylinux2014_aarch64", "--only-binary=:all:"):
        assert expected in pip
    assert pip[pip.index("--python-version") + 1] == "3.14"
    assert pip[pip.index("--target") + 1] == str(tmp_path / "python")


def test_layer_build_falls_back_to_uv_without_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = LayerSpec(ROOT / "lambda_src" / "requirements.txt")
    monkeypatch.setattr(layer_build.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/uv")
    uv = build_command(spec, tmp_path / "python")
    assert uv[:3] == ["/opt/uv", "pip", "install"]
    assert uv[uv.index("--python-platform") + 1] == "aarch64-manylinux_2_28"
    assert uv[uv.index("--python-version") + 1] == "3.14"


def test_uv_trusts_the_platform_certificate_store_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV_SYSTEM_CERTS", raising=False)
    assert layer_build.build_environment()["UV_SYSTEM_CERTS"] == "1"
    monkeypatch.setenv("UV_SYSTEM_CERTS", "0")
    assert layer_build.build_environment()["UV_SYSTEM_CERTS"] == "0"


def test_a_failing_installer_raises_one_line_and_leaves_no_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("anything==1\n")
    script = "import sys; sys.stderr.write('error: boom\\n  cause: deep\\n'); sys.exit(3)"
    failing = [sys.executable, "-c", script]
    monkeypatch.setattr(layer_build, "build_command", lambda spec, target: failing)
    with pytest.raises(LayerBuildError) as raised:
        layer_build.cached_layer(LayerSpec(requirements), "Stage/Layer", tmp_path / "cache")
    message = str(raised.value)
    assert "\n" not in message
    assert "layer Stage/Layer was not built" in message
    assert "boom (deep)" in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_failure_reason_strips_colour_and_keeps_the_innermost_cause() -> None:
    output = (
        "\x1b[1m\x1b[31merror\x1b[39m\x1b[0m: Request failed after 3 retries\n"
        "  \x1b[1m\x1b[31mcause\x1b[0m: Failed to fetch: https://example.invalid/simple/x/\n"
        "  Caused by: dns error\n"
    )
    assert failure_reason(output) == "Request failed after 3 retries (dns error)"
    assert failure_reason("") == "no output"
