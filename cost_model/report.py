"""Per system and environment: the monthly floor by service, the cost per 1,000 operations,
the totals at the configured volume, at year one's and at 10x, and the budget gate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import config
from config.base import EnvironmentConfig
from config.cost import ENGINE, PAYOUTS, Footprint
from cost_model.assembly import Stack
from cost_model.fixed import Environment, Line, floor_lines, unpriced_types
from cost_model.prices import REGIONS, table
from cost_model.usage import DAYS_PER_MONTH, background_lines, operation_lines

FOOTPRINTS: dict[str, Footprint] = {"payouts": PAYOUTS, "engine": ENGINE}
CENT = Decimal("0.01")


def money(value: Decimal, places: Decimal = CENT) -> str:
    return str(value.quantize(places, rounding=ROUND_HALF_UP))


def configs() -> dict[tuple[str, str], EnvironmentConfig]:
    found: dict[tuple[str, str], EnvironmentConfig] = {}
    for name in config.environments():
        found[("payouts", name)] = config.load(name)
    for name in config.engine_environments():
        found[("engine", name)] = config.load_engine(name)
    return found


def by_service(lines: Iterable[Line]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.service] += line.usd
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class EnvironmentCost:
    system: str
    environment: str
    unit: str
    operations_per_day: int
    year_one_operations_per_day: int | None
    budget_usd: Decimal
    floor: list[Line]
    per_operation: list[Line]

    @property
    def floor_usd(self) -> Decimal:
        return sum((line.usd for line in self.floor), Decimal(0))

    @property
    def per_1000_usd(self) -> Decimal:
        return sum((line.usd for line in self.per_operation), Decimal(0)) * 1000

    def monthly_usd(self, operations_per_day: int) -> Decimal:
        operations = Decimal(operations_per_day) * DAYS_PER_MONTH
        return self.floor_usd + self.per_1000_usd * operations / 1000

    @property
    def total_usd(self) -> Decimal:
        return self.monthly_usd(self.operations_per_day)

    @property
    def over_budget(self) -> bool:
        return self.total_usd > self.budget_usd

    def totals(self) -> dict[str, dict[str, Any]]:
        volumes = {"configured": self.operations_per_day, "ten_x": self.operations_per_day * 10}
        if self.year_one_operations_per_day is not None:
            volumes["year_one"] = self.year_one_operations_per_day
        return {
            label: {"operations_per_day": ops, "monthly_usd": money(self.monthly_usd(ops))}
            for label, ops in volumes.items()
        }

    def as_json(self) -> dict[str, Any]:
        per_op = by_service(self.per_operation)
        return {
            "system": self.system,
            "environment": self.environment,
            "unit": self.unit,
            "floor_usd": money(self.floor_usd),
            "floor_by_service": {k: money(v) for k, v in by_service(self.floor).items()},
            "per_1000_usd": money(self.per_1000_usd),
            "per_1000_by_service": {k: money(v * 1000) for k, v in per_op.items()},
            "totals": self.totals(),
            "budget_usd": money(self.budget_usd),
            "over_budget": self.over_budget,
            "floor_lines": [_line_json(line) for line in self.floor],
            "operation_lines": [
                _line_json(line, Decimal("0.0000001")) for line in self.per_operation
            ],
        }


def _line_json(line: Line, places: Decimal = Decimal("0.0001")) -> dict[str, str]:
    return {
        "service": line.service,
        "item": line.item,
        "region": line.region,
        "stack": line.stack,
        "usd": money(line.usd, places),
        "basis": line.basis,
    }


def environment_cost(env: Environment, footprint: Footprint) -> EnvironmentCost:
    return EnvironmentCost(
        system=env.system,
        environment=env.name,
        unit=footprint.unit,
        operations_per_day=env.cost.operations_per_day,
        year_one_operations_per_day=env.cost.year_one_operations_per_day,
        budget_usd=env.cost.monthly_budget_usd,
        floor=floor_lines(env) + background_lines(footprint, env),
        per_operation=operation_lines(footprint, env),
    )


class UnpricedResources(Exception):
    pass


def environments(
    stacks: list[Stack], env_configs: Mapping[tuple[str, str], EnvironmentConfig]
) -> list[Environment]:
    grouped: dict[tuple[str, str], list[Stack]] = defaultdict(list)
    for stack in stacks:
        grouped[(stack.system, stack.environment)].append(stack)
    found = []
    for key, members in grouped.items():
        if key not in env_configs:
            raise LookupError(f"stacks of {key[0]}/{key[1]} have no config")
        cfg = env_configs[key]
        found.append(
            Environment(
                system=key[0],
                name=key[1],
                primary_region=cfg.region,
                cost=cfg.cost,
                stacks=tuple(members),
            )
        )
    return found


def build(
    stacks: list[Stack],
    env_configs: Mapping[tuple[str, str], EnvironmentConfig] | None = None,
) -> list[EnvironmentCost]:
    unpriced = unpriced_types(stacks)
    if unpriced:
        raise UnpricedResources(
            "resource types the cost model neither prices nor lists as free: "
            + ", ".join(sorted(unpriced))
            + " (add them to cost_model/fixed.py)"
        )
    env_configs = env_configs or configs()
    costs = [
        environment_cost(env, FOOTPRINTS[env.system]) for env in environments(stacks, env_configs)
    ]
    order = {name: i for i, name in enumerate(("dev", "qa", "staging", "prod"))}
    return sorted(costs, key=lambda c: (c.system != "payouts", order.get(c.environment, 9)))


def offenders(costs: Iterable[EnvironmentCost]) -> list[str]:
    return [
        f"{c.system}/{c.environment}: ${money(c.total_usd)} a month is over its "
        f"${money(c.budget_usd)} budget"
        for c in costs
        if c.over_budget
    ]


def document(costs: list[EnvironmentCost]) -> dict[str, Any]:
    return {
        "currency": "USD",
        "price_tables": {region: table(region).version for region in REGIONS},
        "days_per_month": str(DAYS_PER_MONTH.quantize(CENT)),
        "environments": [c.as_json() for c in costs],
        "offenders": offenders(costs),
    }


def render(costs: list[EnvironmentCost]) -> str:
    """The table; the verdict names the volume it was judged at, and the 10x column says
    itself when it would be over budget, so an "ok" never sits unqualified beside it."""
    verdicts = [_verdict(c) for c in costs]
    width = max([len("verdict"), *(len(v) for v in verdicts)])
    header = (
        f"{'system/env':<18} {'unit':<10} {'ops/day':>8} {'floor $/mo':>11} "
        f"{'$/1k ops':>9} {'total $/mo':>11} {'budget':>9}  {'verdict':<{width}}  at 10x $/mo"
    )
    rows = [header, "-" * len(header)]
    for c, verdict in zip(costs, verdicts, strict=True):
        ten_x = c.monthly_usd(c.operations_per_day * 10)
        over = " (over budget)" if ten_x > c.budget_usd else ""
        rows.append(
            f"{c.system + '/' + c.environment:<18} {c.unit:<10} {c.operations_per_day:>8} "
            f"{money(c.floor_usd):>11} {money(c.per_1000_usd):>9} {money(c.total_usd):>11} "
            f"{money(c.budget_usd):>9}  {verdict:<{width}}  {money(ten_x):>11}{over}"
        )
    rows.append("")
    for c in costs:
        services = ", ".join(f"{k} {money(v)}" for k, v in list(by_service(c.floor).items())[:6])
        rows.append(f"{c.system}/{c.environment} floor: {services}")
    return "\n".join(rows)


def _verdict(cost: EnvironmentCost) -> str:
    state = "OVER" if cost.over_budget else "ok"
    return f"{state} at {cost.operations_per_day}/day"
