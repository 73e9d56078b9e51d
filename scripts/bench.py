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
- engine: the payments engine's figures (scripts/bench_engine.py).

How imports are timed and AWS calls counted is shared with the engine (scripts/bench_common.py).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

from scripts import bench_engine  # noqa: E402 - the paths above first
from scripts.bench_common import (  # noqa: E402
    counting,
    handler_output,
    import_ratios,
    news,
    python,
    row,
)

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
SYNTH_RUNS = 3


def handler_import_ratios() -> dict[str, float | str]:
    from payouts.declarations import FUNCTIONS

    modules = {f.name: f.handler.rsplit(".", 1)[0] for f in FUNCTIONS}
    return import_ratios(modules, {"PYTHONPATH": str(ROOT / "lambda_src")})


def aws_calls() -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]], list[str]]:
    """(warm counts, cold counts, the calls made on the warm path, handler output) per operation."""
    from tests.bench_scenarios import payouts_scenario

    # moto resets boto3's default session when it starts: count on a session made after it.
    with (
        handler_output() as output,
        payouts_scenario() as scenario,
        counting("ap-southeast-2") as calls,
    ):
        cold: dict[str, int] = {}
        warm: dict[str, int] = {}
        detail: dict[str, dict[str, int]] = {}
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
        return float(python(wrapped, {**env, "CDK_OUTDIR": outdir}))


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


def table(
    imports: dict[str, float | str],
    warm: dict[str, int],
    cold: dict[str, int],
    synth: tuple[float, float, float],
    latency: dict[str, float],
) -> list[str]:
    ratio, all_s, min_s = synth
    lines = [f"  {'benchmark':<44} {'value':>8}   target"]
    lines += [
        row(f"import ratio {n}", v, TARGETS["handler_import_ratio"]) for n, v in imports.items()
    ]
    lines += [row(f"aws calls {n} (warm)", v, TARGETS[f"aws_calls.{n}"]) for n, v in warm.items()]
    lines += [row(f"aws calls {n} (cold container)", v) for n, v in cold.items()]
    lines.append(row(f"synth ratio ({all_s}s / {min_s}s)", ratio, TARGETS["synth_ratio"]))
    worst = TARGETS["create_worst_case_seconds"]
    lines.append(row("create worst case, s (Monoova not answering)", latency["worst"], worst))
    return lines


def main() -> int:
    imports = handler_import_ratios()
    warm, cold, detail, handler_news = aws_calls()
    ratio, all_s, min_s = synth_ratio()
    latency = create_latency()
    engine = bench_engine.run()
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
        "engine": {k: v for k, v in engine.items() if k != "handler_output"},
    }
    (ROOT / "bench-results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(table(imports, warm, cold, (ratio, all_s, min_s), latency)))
    print("\n".join(bench_engine.table(engine)))
    handler_news += engine["handler_output"]
    if handler_news:
        print("handler output during the counted operations (warnings and errors):")
        print("\n".join(f"  {line}" for line in handler_news))
    print("written: bench-results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
