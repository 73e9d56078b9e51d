"""The cost model over the real synthesized templates of every environment: nothing escapes
it, what the footprints name exists, the report adds up, and the budget gate bites."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

import config.payouts
from config import engine_environments, environments
from config.cost import ENGINE, PAYOUTS
from cost_model import assembly, prices
from cost_model.__main__ import main
from cost_model.fixed import FIXED, FREE, USAGE
from cost_model.report import build, configs, money, offenders
from cost_model.report import environments as cost_environments
from cost_model.usage import DAYS_PER_MONTH, Resolver
from tests.infra.engine_synth import EngineSynth
from tests.infra.synth import Synth

PAYOUTS_PROD = ("--env", "prod", "--system", "payouts")

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GLOBAL_KEYS = ("cloudfront.", "route53.")


@pytest.fixture(scope="module")
def stacks(
    synth_of: Callable[[str], Synth], engine_synth_of: Callable[[str], EngineSynth]
) -> list[assembly.Stack]:
    outdirs = [synth_of(e).outdir for e in environments()]
    outdirs += [engine_synth_of(e).outdir for e in engine_environments()]
    return [stack for outdir in outdirs for stack in assembly.read(outdir)]


def test_every_price_line_names_its_source_page_and_date() -> None:
    for region in prices.REGIONS:
        table = prices.table(region)
        assert table.region == region and table.version
        for line in table.prices.values():
            assert line.usd >= 0 and line.per >= 1 and line.unit, line.key
            assert line.source.startswith("https://aws.amazon.com/"), line.key
            assert ISO_DATE.match(line.date), line.key


def test_the_regional_tables_price_the_same_things_and_global_services_live_in_us_east_1() -> None:
    def regional(region: str) -> set[str]:
        keys = prices.table(region).prices
        return {k for k in keys if not k.startswith(("rds.instance_hour.", *GLOBAL_KEYS))}

    assert len({frozenset(regional(r)) for r in prices.REGIONS}) == 1
    for region in prices.REGIONS:
        global_keys = [k for k in prices.table(region).prices if k.startswith(GLOBAL_KEYS)]
        assert bool(global_keys) == (region == prices.GLOBAL_REGION), region


def test_the_catalogue_puts_each_type_in_one_place_only() -> None:
    assert not FIXED.keys() & FREE.keys()
    assert not FIXED.keys() & USAGE.keys()
    assert not USAGE.keys() & FREE.keys()
    assert all(reason.strip() for reason in [*FREE.values(), *USAGE.values()])


def test_every_resource_type_in_the_templates_is_priced_or_free_with_a_reason(
    stacks: list[assembly.Stack],
) -> None:
    found = {r.type for s in stacks for r in s.resources}
    assert found <= FIXED.keys() | USAGE.keys() | FREE.keys(), sorted(
        found - FIXED.keys() - USAGE.keys() - FREE.keys()
    )
    # The catalogue lists no type the project does not deploy (except the domain's and
    # the alternatives the pricers handle), so it stays a true map of the templates.
    unused_free = FREE.keys() - found
    assert unused_free <= {
        "AWS::CDK::Metadata",  # `make synth` has it; the tests synthesize without analytics
        "AWS::IAM::Policy",
        "AWS::ApiGateway::DomainName",
        "AWS::ApiGateway::BasePathMapping",
        "AWS::CertificateManager::Certificate",
        "AWS::Route53::RecordSet",
    }, sorted(unused_free)


def test_a_new_resource_type_stops_the_report(stacks: list[assembly.Stack]) -> None:
    first = stacks[0]
    extra = assembly.Resource("Gpu", "AWS::EC2::Instance", {"InstanceType": "p5.48xlarge"})
    changed = dataclasses.replace(first, resources=(*first.resources, extra))
    with pytest.raises(Exception, match="AWS::EC2::Instance"):
        build([changed, *stacks[1:]])


def test_every_environment_is_reported_and_adds_up(stacks: list[assembly.Stack]) -> None:
    costs = build(stacks)
    reported = {(c.system, c.environment) for c in costs}
    assert reported == {("payouts", e) for e in environments()} | {
        ("engine", e) for e in engine_environments()
    }
    for cost in costs:
        document = cost.as_json()
        floor = sum(Decimal(v) for v in document["floor_by_service"].values())
        assert abs(floor - Decimal(document["floor_usd"])) <= Decimal("0.05")
        per_op = sum(line.usd for line in cost.per_operation)
        operations = Decimal(cost.operations_per_day) * DAYS_PER_MONTH
        assert cost.total_usd == cost.floor_usd + per_op * operations
        assert cost.monthly_usd(cost.operations_per_day * 10) > cost.total_usd
        assert cost.floor_usd > 0 and per_op > 0


def test_no_environment_is_over_its_budget(stacks: list[assembly.Stack]) -> None:
    """CI's budget gate: a change that pushes an environment over its budget fails here."""
    assert offenders(build(stacks)) == []


def test_the_engine_floor_is_dominated_by_what_runs_every_hour(
    stacks: list[assembly.Stack],
) -> None:
    prod = next(c for c in build(stacks) if (c.system, c.environment) == ("engine", "prod"))
    services = prod.as_json()["floor_by_service"]
    assert list(services)[:2] == ["RDS", "VPC"]
    # Prod: Multi-AZ primary (2 x 730 h), two replicas, the Singapore replica.
    instance_hours = [line for line in prod.floor if line.item == "db.r6g.xlarge instance hours"]
    assert len(instance_hours) == 4
    assert {line.region for line in instance_hours} == {"ap-south-1", "ap-southeast-1"}


def test_what_the_footprints_name_exists_in_every_environment(
    stacks: list[assembly.Stack],
) -> None:
    for env in cost_environments(stacks, configs()):
        footprint = PAYOUTS if env.system == "payouts" else ENGINE
        find = Resolver(env)
        usages = [step.usage for step in footprint.steps]
        usages += list(footprint.per_scheduled_run.values())
        for usage in usages:
            for call in usage.invocations:
                exists = find.function(call.function) is not None
                # A planned function must drop its planned memory once a stack deploys it.
                assert exists != (call.planned_memory_mb is not None), (env.name, call.function)
            for use in usage.tables:
                find.table(use.table)


def test_the_payouts_footprint_lists_every_metric_the_runtime_emits() -> None:
    from payouts.logic import metrics

    names = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
    assert set(PAYOUTS.emitted_metrics) == names


def test_make_cost_passes_within_budget_and_writes_the_report_and_chart(
    synth_of: Callable[[str], Synth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, chart = tmp_path / "cost.json", tmp_path / "cost.svg"
    argv = [
        str(synth_of("prod").outdir),
        *PAYOUTS_PROD,
        "--json",
        str(report),
        "--chart",
        str(chart),
    ]
    assert main(argv) == 0
    document = json.loads(report.read_text())
    assert document["offenders"] == []
    (prod,) = document["environments"]
    assert (prod["system"], prod["environment"], prod["over_budget"]) == ("payouts", "prod", False)
    assert set(prod["totals"]) == {"configured", "ten_x"}
    svg = chart.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "payouts/prod" in svg
    assert "payouts/prod" in capsys.readouterr().out


def test_make_cost_fails_naming_the_environment_over_its_budget(
    synth_of: Callable[[str], Synth],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prod = config.payouts.ENVIRONMENTS["prod"]
    tight = dataclasses.replace(prod.cost, monthly_budget_usd=Decimal(10))
    monkeypatch.setitem(config.payouts.ENVIRONMENTS, "prod", dataclasses.replace(prod, cost=tight))
    argv = [str(synth_of("prod").outdir), *PAYOUTS_PROD, "--json", str(tmp_path / "c.json")]
    assert main([*argv, "--chart", str(tmp_path / "c.svg")]) == 1
    assert "OVER BUDGET payouts/prod" in capsys.readouterr().err
    offenders = json.loads((tmp_path / "c.json").read_text())["offenders"]
    assert len(offenders) == 1 and offenders[0].startswith("payouts/prod:")


def test_make_cost_refuses_a_missing_assembly(tmp_path: Path) -> None:
    assert main([str(tmp_path / "nothing")]) == 2


def test_make_cost_names_the_environments_cdk_out_lacks_and_writes_nothing(
    synth_of: Callable[[str], Synth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """cdk.out after `make synth ENV=prod` (payouts only here): pricing it all must not pass."""
    report = tmp_path / "cost.json"
    report.write_text("the previous report\n")
    outdir = str(synth_of("prod").outdir)
    assert main([outdir, "--json", str(report), "--chart", str(tmp_path / "c.svg")]) == 2
    err = capsys.readouterr().err
    assert "has no templates for payouts/dev, payouts/staging, engine/dev, engine/qa" in err
    assert "payouts/prod" not in err
    assert report.read_text() == "the previous report\n"
    assert not (tmp_path / "c.svg").exists()
    assert main([outdir, "--check"]) == 2
    assert main([outdir, "--check", *PAYOUTS_PROD]) == 0
    assert main([outdir, "--check", "--env", "prod"]) == 2  # engine/prod is missing
    assert "engine/prod" in capsys.readouterr().err


def test_make_cost_refuses_an_unknown_environment_naming_the_valid_ones(
    synth_of: Callable[[str], Synth], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(synth_of("prod").outdir), "--env", "uat", "--system", "payouts"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        line == "cost: unknown environment 'uat'; valid environments: payouts: dev, staging, prod"
    )


def test_the_verdict_names_its_volume_and_the_10x_figure_says_when_it_is_over(
    synth_of: Callable[[str], Synth],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prod = config.payouts.ENVIRONMENTS["prod"]
    (cost,) = build(assembly.read(synth_of("prod").outdir), {("payouts", "prod"): prod})
    at_ten_x = cost.monthly_usd(cost.operations_per_day * 10)
    between = dataclasses.replace(prod.cost, monthly_budget_usd=(cost.total_usd + at_ten_x) / 2)
    monkeypatch.setitem(
        config.payouts.ENVIRONMENTS, "prod", dataclasses.replace(prod, cost=between)
    )
    argv = [str(synth_of("prod").outdir), *PAYOUTS_PROD, "--json", str(tmp_path / "c.json")]
    assert main([*argv, "--chart", str(tmp_path / "c.svg")]) == 0
    row = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("payouts/prod")
    )
    assert f"ok at {prod.cost.operations_per_day}/day" in row
    assert row.endswith(f"{money(at_ten_x)} (over budget)")
