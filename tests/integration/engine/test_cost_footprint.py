"""The engine's cost footprint rests on `make bench`'s measured AWS calls, as payouts' does:
rerun the bench's operations and fail when the code's calls drift from what is priced."""

from __future__ import annotations

import pytest

from config.cost import ENGINE
from engine.metrics import METRICS
from stacks.engine.access import service_functions


def test_each_measured_step_lists_the_calls_the_bench_scenario_makes() -> None:
    try:
        from scripts.bench_engine import operations
    except ImportError as missing:
        pytest.skip(f"the engine's bench operations are not there yet ({missing})")
    found, _ = operations()
    measured = {step.measured_as: step.measured_calls for step in ENGINE.steps if step.measured_as}
    assert set(measured) == set(found)
    for operation, calls in measured.items():
        if "not_measured" in found[operation]:
            pytest.skip(f"{operation}: {found[operation]['not_measured']}")
        assert calls == found[operation]["aws_calls_detail"], (
            f"{operation}: the code now makes {found[operation]['aws_calls_detail']}; update "
            "config/cost.py (its request units too) to match"
        )


def test_the_footprint_prices_every_metric_a_deployed_function_emits() -> None:
    deployed = {spec.name for spec in service_functions()}
    emitted = {m.name for m in METRICS if set(m.producers) & deployed}
    assert set(ENGINE.emitted_metrics) == emitted
