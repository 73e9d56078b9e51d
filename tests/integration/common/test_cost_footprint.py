"""The payouts cost footprint rests on `make bench`'s measured AWS calls: rerun the bench
scenario and fail when the code's calls drift from what the footprint prices."""

from __future__ import annotations

from config.cost import PAYOUTS
from scripts.bench import aws_calls


def test_each_measured_step_lists_the_calls_the_bench_scenario_makes() -> None:
    _, _, detail, _ = aws_calls()
    measured = {step.measured_as: step.measured_calls for step in PAYOUTS.steps if step.measured_as}
    assert set(measured) == set(detail)
    for operation, calls in measured.items():
        assert calls == detail[operation], (
            f"{operation}: the code now makes {detail[operation]}; update config/cost.py "
            "(its request units too) to match"
        )
