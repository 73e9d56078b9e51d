"""What `make bench`'s payouts and engine parts measure the same way.

- `import_ratios`: a module's cold import time / `import boto3`, both in fresh interpreters,
  interleaved, medians of several runs (so machine speed cancels out). A module that does not
  import at all is reported as missing rather than failing the bench.
- `counting`: AWS API calls, counted with a botocore `before-call` hook on the default
  session (made after moto starts: moto resets boto3's default session when it does).
- `handler_output` / `news`: the handlers' structured logs kept off the bench's table, with
  only warnings, errors and unstructured lines shown afterwards.
- `row`: one aligned line of the printed table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMPORT_RUNS = 7
# Handler log records at these levels (and metric documents) are the operations' normal output.
QUIET_LEVELS = ("DEBUG", "INFO")
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def python(code: str, env: dict[str, str] | None = None) -> str:
    """The last line `code` prints in a fresh interpreter (raises if it fails).

    Bytecode is written whatever the caller's environment says (the Makefile unexports
    PYTHONDONTWRITEBYTECODE for the same reason): without .pyc files, every timed import of
    a module changed since it was last compiled would time its compilation too, which a
    deployed function never does.
    """
    run_env = {**os.environ, **(env or {})}
    run_env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def import_failure(module: str, env: dict[str, str]) -> str | None:
    """None if `module` imports in a fresh interpreter, else the error's last line."""
    try:
        python(f"import {module}", env)
    except subprocess.CalledProcessError as failed:
        lines = (failed.stderr or "").strip().splitlines()
        return lines[-1] if lines else f"exit {failed.returncode}"
    return None


def import_ratios(
    modules: Mapping[str, str], env: dict[str, str], runs: int = IMPORT_RUNS
) -> dict[str, float | str]:
    """name -> median import time of its module / median `import boto3`, or "missing: ..."."""
    missing: dict[str, str] = {}
    for module in set(modules.values()):  # also compiles .pyc first: Lambda ships them warm
        failure = import_failure(module, env)
        if failure is not None:
            missing[module] = f"missing: {failure}"
    timed = sorted({m for m in modules.values() if m not in missing})
    baseline: list[float] = []
    samples: dict[str, list[float]] = {module: [] for module in timed}
    for _ in range(runs):
        baseline.append(float(python(_TIMED_IMPORT.format(module="boto3"), env)))
        for module in timed:
            samples[module].append(float(python(_TIMED_IMPORT.format(module=module), env)))
    base = statistics.median(baseline)
    ratios: dict[str, float | str] = {}
    for name, module in modules.items():
        ratios[name] = missing.get(module) or round(statistics.median(samples[module]) / base, 3)
    return ratios


@contextmanager
def counting(region: str) -> Iterator[Counter[str]]:
    """Counts of `service:Operation` for every AWS call made on the default session."""
    import boto3

    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    boto3.setup_default_session(region_name=region)
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", count)
    try:
        yield calls
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call", count)


@contextmanager
def handler_output() -> Iterator[list[str]]:
    """Collect what the handlers print (structured logs and metrics) instead of showing it.

    Powertools writes to the stdout it found at import, so file descriptor 1 itself is
    pointed at a file for the duration; the lines are handed back when it is restored.
    """
    lines: list[str] = []
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield lines
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().splitlines())


def news(lines: list[str]) -> list[str]:
    """The handler lines worth showing: warnings, errors and anything not a structured log."""
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            found.append(line)
            continue
        if isinstance(record, dict) and ("_aws" in record or record.get("level") in QUIET_LEVELS):
            continue
        found.append(line)
    return found


def row(name: str, value: Any, target: float | None = None, *, at_least: bool = False) -> str:
    """One table line; with a target, `<=` (or `>=` when `at_least`) and the verdict."""
    if target is None or not isinstance(value, int | float):
        return f"  {name:<44} {value!s:>8}"
    met = value >= target if at_least else value <= target
    sign = ">=" if at_least else "<="
    verdict = "ok" if met else ("UNDER" if at_least else "OVER")
    return f"  {name:<44} {value!s:>8}   {sign} {target:<6} {verdict}"
