"""`make bench`: ratios measured in one run, printed as a table and written to bench-results.json.

- handler_import_ratio: each handler's cold import time / `import boto3` time, both in fresh
  interpreters, interleaved, medians of several runs (so machine speed cancels out).
- aws_calls: AWS API calls per business operation on a warm container, counted with a
  botocore `before-call` hook against moto and the Monoova simulator; aws_calls_cold adds
  the once-per-container reads (secret, KMS data key).
- synth_ratio: synth of every stack of every environment / synth of one minimal stack,
  same settings (cdk-nag packs on, bundling off, CDK_VALIDATION=false), fresh processes.
- create_worst_case_seconds: POST /payouts timed in-process (moto + the Monoova simulator)
  while Monoova never answers (simulator modes `timeout`: the payment is taken and the
  answer lost, and `hang`), with the dev config's Monoova timeout and create budget; the
  slowest of the runs. Seconds, not a ratio: the bound is API Gateway's 29 s.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

TARGETS = {
    "handler_import_ratio": 1.5,
    # BatchGetItem, the create transaction, the outcome, the breaker counter: the outcome and
    # the shared counter are written apart (issue 10) so a conflict on one cannot lose the other.
    "aws_calls.create_payout": 4,
    "aws_calls.webhook": 2,
    # Issue 4: every stack of both systems (9 payouts + 62 engine) against one minimal stack.
    "synth_ratio": 15.0,
    # Issue 10: the create answers fast even when Monoova hangs (API Gateway gives up at 29 s).
    "create_worst_case_seconds": 8.0,
}
LATENCY_RUNS = 2
LATENCY_MODES = ("timeout", "hang")
IMPORT_RUNS = 7
# Handler log records at these levels (and metric documents) are the operations' normal output.
QUIET_LEVELS = ("DEBUG", "INFO")
SYNTH_RUNS = 3
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def _python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def handler_import_ratios() -> dict[str, float]:
    from payouts.declarations import FUNCTIONS

    env = {"PYTHONPATH": str(ROOT / "lambda_src")}
    modules = {f.name: f.handler.rsplit(".", 1)[0] for f in FUNCTIONS}
    for module in modules.values():  # compile .pyc first: Lambda ships them warm on disk
        _python(f"import {module}", env)
    baseline: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(IMPORT_RUNS):
        baseline.append(float(_python(_TIMED_IMPORT.format(module="boto3"), env)))
        for name, module in modules.items():
            samples[name].append(float(_python(_TIMED_IMPORT.format(module=module), env)))
    base = statistics.median(baseline)
    return {name: round(statistics.median(s) / base, 3) for name, s in samples.items()}


@contextmanager
def _counting() -> Iterator[Counter[str]]:
    import boto3

    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}:{model.name}"] += 1

    boto3.setup_default_session(region_name="ap-southeast-2")
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", count)
    try:
        yield calls
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call", count)


@contextmanager
def _handler_output() -> Iterator[list[str]]:
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


def aws_calls() -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]], list[str]]:
    """(warm counts, cold counts, the calls made on the warm path, handler output) per operation."""
    from tests.bench_scenarios import payouts_scenario

    # moto resets boto3's default session when it starts: count on a session made after it.
    with _handler_output() as output, payouts_scenario() as scenario, _counting() as calls:
        cold, warm, detail = {}, {}, {}
        for name, operation in scenario.operations():
            for label, store in (("cold", cold), ("warm", warm)):
                calls.clear()
                operation()
                store[name] = sum(calls.values())
                if label == "warm":
                    detail[name] = dict(calls)
    return warm, cold, detail, news(output)


def create_latency() -> dict[str, float]:
    """Seconds per Monoova failure mode (slowest run of each) and the worst of them."""
    from tests.bench_scenarios import create_latency_scenario

    with create_latency_scenario() as scenario:
        scenario.timed_create("ok")  # warm: imports, the secret, the data keys
        by_mode = {
            mode: round(max(scenario.timed_create(mode) for _ in range(LATENCY_RUNS)), 2)
            for mode in LATENCY_MODES
        }
    return {**by_mode, "worst": max(by_mode.values())}


_SYNTH_ALL = "import app; app.main()"
# Same program, same settings, one tiny stack: the project's stack modules are loaded (the
# libraries they import are a fixed cost of any synth), the packs are registered, and the
# ratio then shows how synth grows with the infrastructure itself.
_SYNTH_MINIMAL = """
import aws_cdk as cdk
import stacks
from cdk_constructs import nag
app = cdk.App()
nag.register_packs(app)
stage = cdk.Stage(app, "bench")
env = cdk.Environment(account="111111111111", region="ap-southeast-2")
stack = cdk.Stack(stage, "minimal", env=env)
cdk.CfnResource(stack, "Handle", type="AWS::CloudFormation::WaitConditionHandle")
app.synth()
"""


def _timed(code: str, env: dict[str, str]) -> float:
    wrapped = f"import time; t = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as outdir:
        return float(_python(wrapped, {**env, "CDK_OUTDIR": outdir}))


def synth_ratio() -> tuple[float, float, float]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:bundling-stacks"] = []
    env = {
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_VALIDATION": "false",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'lambda_src'}",
    }
    everything, minimal = [], []
    for _ in range(SYNTH_RUNS):
        minimal.append(_timed(_SYNTH_MINIMAL, env))
        everything.append(_timed(_SYNTH_ALL, env))
    all_s, min_s = statistics.median(everything), statistics.median(minimal)
    return round(all_s / min_s, 3), round(all_s, 2), round(min_s, 2)


def _row(name: str, value: float, target: float | None = None) -> str:
    if target is None:
        return f"  {name:<44} {value:>8}"
    verdict = "ok" if value <= target else "OVER"
    return f"  {name:<44} {value:>8}   <= {target:<6} {verdict}"


def table(
    imports: dict[str, float],
    warm: dict[str, int],
    cold: dict[str, int],
    synth: tuple[float, float, float],
    latency: dict[str, float],
) -> list[str]:
    ratio, all_s, min_s = synth
    lines = [f"  {'benchmark':<44} {'value':>8}   target"]
    lines += [
        _row(f"import ratio {n}", v, TARGETS["handler_import_ratio"]) for n, v in imports.items()
    ]
    lines += [_row(f"aws calls {n} (warm)", v, TARGETS[f"aws_calls.{n}"]) for n, v in warm.items()]
    lines += [_row(f"aws calls {n} (cold container)", v) for n, v in cold.items()]
    lines.append(_row(f"synth ratio ({all_s}s / {min_s}s)", ratio, TARGETS["synth_ratio"]))
    worst = TARGETS["create_worst_case_seconds"]
    lines.append(_row("create worst case, s (Monoova not answering)", latency["worst"], worst))
    return lines


def main() -> int:
    imports = handler_import_ratios()
    warm, cold, detail, handler_news = aws_calls()
    ratio, all_s, min_s = synth_ratio()
    latency = create_latency()
    results: dict[str, Any] = {
        "handler_import_ratio": imports,
        "aws_calls": warm,
        "aws_calls_cold": cold,
        "aws_calls_detail": detail,
        "synth_ratio": ratio,
        "synth_seconds": {"everything": all_s, "minimal": min_s},
        "create_worst_case_seconds": latency["worst"],
        "create_seconds_by_monoova_mode": {m: latency[m] for m in LATENCY_MODES},
        "targets": TARGETS,
    }
    (ROOT / "bench-results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(table(imports, warm, cold, (ratio, all_s, min_s), latency)))
    if handler_news:
        print("handler output during the counted operations (warnings and errors):")
        print("\n".join(f"  {line}" for line in handler_news))
    print("written: bench-results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
