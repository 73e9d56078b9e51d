"""With a domain in config, prod gets regional custom domains in both regions, Route 53
failover records with health checks on each region's GET /health, and a runbook that moves
the names to Singapore by throwing a switch it owns. No environment sets a domain yet, so
this builds its own."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_constructs import nag
from config import load_engine
from config.engine import DR_REGION, REGION, DomainConfig
from stacks.engine import EngineStage
from tests.infra.policy_eval import TemplateSet
from tests.infra.synth import cdk_json_context, props

DOMAIN = DomainConfig(hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="pay.fivestar.example")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[EngineStage, Path]:
    outdir = tmp_path_factory.mktemp("engine-dns")
    app = cdk.App(
        context=cdk_json_context() | {"aws:cdk:bundling-stacks": []},
        outdir=str(outdir),
        analytics_reporting=False,
    )
    nag.register_packs(app)
    stage = EngineStage(app, dataclasses.replace(load_engine("prod"), domain=DOMAIN))
    app.synth()
    return stage, outdir


def _template(built: tuple[EngineStage, Path], role: str) -> dict[str, Any]:
    stage, outdir = built
    stack = stage.roles[role]
    path = outdir / f"assembly-{stage.stage_name}" / stack.template_file
    return json.loads(path.read_text())


def test_both_apis_fail_over_between_the_regions(built: tuple[EngineStage, Path]) -> None:
    template = _template(built, "dns")
    records = props(template, "AWS::Route53::RecordSet")
    by_name: dict[str, set[str]] = {}
    for record in records:
        by_name.setdefault(record["Name"], set()).add(record["Failover"])
    assert by_name == {
        "api.pay.fivestar.example": {"PRIMARY", "SECONDARY"},
        "engine.pay.fivestar.example": {"PRIMARY", "SECONDARY"},
    }
    checks = [c["HealthCheckConfig"] for c in props(template, "AWS::Route53::HealthCheck")]
    endpoints = [c for c in checks if c["Type"] == "HTTPS"]
    assert len(endpoints) == 4  # two names, two regions
    for config in endpoints:
        assert config["ResourcePath"] == "/v1/health" and config["FailureThreshold"] == 3
    # Per name, the primary's calculated check; one switch for the environment.
    assert sorted(c["Type"] for c in checks if c["Type"] != "HTTPS") == [
        "CALCULATED",
        "CALCULATED",
        "CLOUDWATCH_METRIC",
    ]


# --------------------------------------------------------------------------- the decision


def _templates(built: tuple[EngineStage, Path]) -> TemplateSet:
    stage, _ = built
    return TemplateSet(
        templates={role: _template(built, role) for role in stage.roles},
        regions={role: stack.region for role, stack in stage.roles.items()},
        account=stage.cfg.account,
    )


class Route53:
    """Route 53's answer for the failover names, read off the templates: the endpoint
    checks report what the test says, and the runbook, when run, does what its document's
    steps do (invert health checks, publish metrics that alarms watch)."""

    def __init__(self, templates: TemplateSet, *, mumbai_healthy: bool, runbook_run: bool):
        self.templates = templates
        self.mumbai_healthy = mumbai_healthy
        self.inverted: set[Any] = set()
        self.published: dict[tuple[str, str, str], float] = {}
        if runbook_run:
            self._run_the_runbook()

    def _run_the_runbook(self) -> None:
        region = self.templates.regions["dr-runbook"]
        [document] = props(self.templates.templates["dr-runbook"], "AWS::SSM::Document")
        for step in document["Content"]["mainSteps"]:
            inputs = step.get("inputs", {})
            call = (inputs.get("Service"), inputs.get("Api"))
            if call == ("route53", "UpdateHealthCheck") and inputs.get("Inverted"):
                self.inverted.add(self.templates.resolve("dr-runbook", inputs["HealthCheckId"]))
            if call == ("cloudwatch", "PutMetricData"):
                for datum in inputs["MetricData"]:
                    key = (region, inputs["Namespace"], datum["MetricName"])
                    self.published[key] = datum["Value"]

    def _alarm_state(self, name: str, region: str) -> str:
        for role, _, alarm in self.templates.resources("AWS::CloudWatch::Alarm"):
            p = alarm["Properties"]
            if p["AlarmName"] != name or self.templates.regions[role] != region:
                continue
            value = self.published.get((region, p["Namespace"], p["MetricName"]))
            if value is None:
                return "INSUFFICIENT_DATA"  # never published (missing data keeps it so)
            assert p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            return "ALARM" if value >= p["Threshold"] else "OK"
        raise AssertionError(f"no alarm {name} in {region}: the health check names nothing")

    def healthy(self, check: Any) -> bool:
        config = self.templates.resource(check)["Properties"]["HealthCheckConfig"]
        kind = config["Type"]
        if kind == "HTTPS":
            fqdn = json.dumps(config["FullyQualifiedDomainName"])
            base = self.mumbai_healthy if f".{REGION}." in fqdn else True
        elif kind == "CALCULATED":
            children = [self.templates.resolve("dns", c) for c in config["ChildHealthChecks"]]
            base = sum(self.healthy(c) for c in children) >= config["HealthThreshold"]
        elif kind == "CLOUDWATCH_METRIC":
            alarm = config["AlarmIdentifier"]
            state = self._alarm_state(alarm["Name"], alarm["Region"])
            if state == "INSUFFICIENT_DATA":
                base = config["InsufficientDataHealthStatus"] == "Healthy"
            else:
                base = state == "OK"
        else:
            raise AssertionError(f"unexpected health check type {kind}")
        inverted = bool(config.get("Inverted")) or check in self.inverted
        return base != inverted

    def answers(self) -> dict[str, str]:
        """Name -> the Region Route 53 answers with (primary when both are unhealthy)."""
        records: dict[str, dict[str, Any]] = {}
        for _, _, record in self.templates.resources("AWS::Route53::RecordSet"):
            p = record["Properties"]
            if "Failover" in p:
                records.setdefault(p["Name"], {})[p["Failover"]] = p
        found = {}
        for name, by_role in records.items():
            primary, secondary = by_role["PRIMARY"], by_role["SECONDARY"]
            if self.healthy(self.templates.resolve("dns", primary["HealthCheckId"])):
                found[name] = REGION
            elif self.healthy(self.templates.resolve("dns", secondary["HealthCheckId"])):
                found[name] = DR_REGION
            else:
                found[name] = REGION
        return found


@pytest.mark.parametrize(
    ("mumbai_healthy", "runbook_run", "answer"),
    [
        (True, False, REGION),  # normal operation
        (False, False, DR_REGION),  # Mumbai fails: ordinary DNS failover
        (True, True, DR_REGION),  # the runbook moves traffic even while Mumbai half-answers
        (False, True, DR_REGION),  # a real outage, then the runbook: never back to Mumbai
    ],
)
def test_the_failover_decision_table(
    built: tuple[EngineStage, Path], mumbai_healthy: bool, runbook_run: bool, answer: str
) -> None:
    route53 = Route53(_templates(built), mumbai_healthy=mumbai_healthy, runbook_run=runbook_run)
    assert route53.answers() == {
        "api.pay.fivestar.example": answer,
        "engine.pay.fivestar.example": answer,
    }


def test_the_runbook_moves_traffic_without_mumbai_or_route53(
    built: tuple[EngineStage, Path],
) -> None:
    """The switch is an alarm in Singapore, which the runbook sets with one PutMetricData
    there: no call to Mumbai, and no Route 53 control-plane call in the failover path."""
    templates = _templates(built)
    [document] = props(templates.templates["dr-runbook"], "AWS::SSM::Document")
    services = {s["inputs"].get("Service") for s in document["Content"]["mainSteps"]}
    assert "route53" not in services
    [alarm] = props(templates.templates["dr-runbook"], "AWS::CloudWatch::Alarm")
    assert alarm["TreatMissingData"] == "ignore"  # a thrown switch stays thrown
    assert alarm["ActionsEnabled"] is False
    stage, _ = built
    assert stage.roles["dr-runbook"].region == DR_REGION
    dns_deps = {d.stack_name for d in stage.roles["dns"].dependencies}
    assert "engine-prod-dr-runbook" in dns_deps  # the alarm exists before the health check
    runbook_deps = {d.stack_name for d in stage.roles["dr-runbook"].dependencies}
    assert not [
        d for d in runbook_deps if stage.roles[d.removeprefix("engine-prod-")].region == REGION
    ]


def test_each_region_serves_the_names_on_a_regional_domain(
    built: tuple[EngineStage, Path],
) -> None:
    for role in ("api", "dr-api"):
        domains = props(_template(built, role), "AWS::ApiGateway::DomainName")
        names = {d["DomainName"] for d in domains}
        assert names == {"api.pay.fivestar.example", "engine.pay.fivestar.example"}, role
        for domain in domains:
            assert domain["EndpointConfiguration"]["Types"] == ["REGIONAL"]
            assert domain["SecurityPolicy"] == "TLS_1_2"


def test_the_site_is_served_on_its_name_with_a_us_east_1_certificate(
    built: tuple[EngineStage, Path],
) -> None:
    [certificate] = props(_template(built, "edge-waf"), "AWS::CertificateManager::Certificate")
    assert certificate["DomainName"] == "portal.pay.fivestar.example"
    edge = _template(built, "edge")
    [distribution] = props(edge, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    assert config["Aliases"] == ["portal.pay.fivestar.example"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    [record] = props(edge, "AWS::Route53::RecordSet")
    assert record["Name"] == "portal.pay.fivestar.example." and record["Type"] == "A"


def test_the_runbook_may_publish_only_to_the_switch(built: tuple[EngineStage, Path]) -> None:
    stage, _ = built
    assert stage.dns is not None and stage.dr_runbook is not None
    policies = props(_template(built, "dr-runbook"), "AWS::IAM::ManagedPolicy")
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert "route53" not in json.dumps(statements)
    [put] = [s for s in statements if s["Action"] == "cloudwatch:PutMetricData"]
    assert put["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "FivestarPaymentsEngine/Failover/prod"}
    }


def test_no_unacknowledged_findings_with_a_domain(built: tuple[EngineStage, Path]) -> None:
    _, outdir = built
    report = json.loads((outdir / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]


def test_a_domain_without_dr_is_refused() -> None:
    from config import ConfigError, validate

    with pytest.raises(ConfigError, match="domain needs dr_enabled"):
        validate(dataclasses.replace(load_engine("qa"), domain=DOMAIN))


def test_the_cost_model_prices_the_domain_and_the_health_check_traffic(
    built: tuple[EngineStage, Path],
) -> None:
    from cost_model import assembly
    from cost_model.report import build

    _, outdir = built
    (prod,) = build(assembly.read(outdir))
    checks = [line for line in prod.floor if line.item == "health checks"]
    # Both APIs in both regions; HTTPS is an optional feature: 0.75 + 2.00 each. The two
    # calculated checks and the switch's alarm check are basic AWS-endpoint checks.
    assert sorted(line.usd for line in checks) == [Decimal("0.50")] * 3 + [Decimal("2.75")] * 4
    traffic = [line for line in prod.floor if line.item == "health check traffic"]
    assert {line.service for line in traffic} >= {"API Gateway", "Lambda", "WAF"}
