"""Cost by service per environment at the configured volume, as a stacked bar chart (SVG)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # after use(): the backend is chosen first

from cost_model.report import EnvironmentCost, by_service
from cost_model.usage import DAYS_PER_MONTH

# The chart shows the largest services; the rest are summed into one band.
SERVICES_SHOWN = 9


def monthly_by_service(cost: EnvironmentCost) -> dict[str, Decimal]:
    operations = Decimal(cost.operations_per_day) * DAYS_PER_MONTH
    totals: dict[str, Decimal] = defaultdict(Decimal, by_service(cost.floor))
    for service, usd in by_service(cost.per_operation).items():
        totals[service] += usd * operations
    return dict(totals)


def write_chart(costs: list[EnvironmentCost], path: Path) -> None:
    matplotlib.rcParams["svg.hashsalt"] = "cost-report"  # stable ids: the file diffs cleanly
    per_env = [monthly_by_service(c) for c in costs]
    overall: dict[str, Decimal] = defaultdict(Decimal)
    for services in per_env:
        for service, usd in services.items():
            overall[service] += usd
    shown = sorted(overall, key=lambda s: -overall[s])[:SERVICES_SHOWN]
    labels = [f"{c.system}/{c.environment}" for c in costs]
    figure, axes = plt.subplots(figsize=(11, 0.55 * len(costs) + 2.5))
    left = [0.0] * len(costs)
    for service in [*shown, "other"]:
        widths = [
            float(sum(v for k, v in s.items() if k not in shown))
            if service == "other"
            else float(s.get(service, 0))
            for s in per_env
        ]
        axes.barh(labels, widths, left=left, label=service)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for index, cost in enumerate(costs):
        axes.plot(float(cost.budget_usd), index, marker="|", markersize=18, color="black")
    axes.invert_yaxis()
    axes.set_xlabel("USD per month at the configured volume (| marks the budget)")
    axes.set_title("Monthly cost by service, per system and environment")
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
