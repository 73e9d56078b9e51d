"""With a domain in config, prod gets regional custom domains in both regions, Route 53
failover records with health checks on each region's GET /health, and a runbook that can
invert the primary's checks. No environment sets a domain yet, so this builds its own."""

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
from config.engine import DomainConfig
from stacks.engine import EngineStage
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
    checks = props(template, "AWS::Route53::HealthCheck")
    assert len(checks) == 4
    for check in checks:
        config = check["HealthCheckConfig"]
        assert config["Type"] == "HTTPS" and config["ResourcePath"] == "/v1/health"
        assert config["FailureThreshold"] == 3


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


def test_the_runbook_may_invert_the_primary_checks_only(built: tuple[EngineStage, Path]) -> None:
    stage, _ = built
    assert stage.dns is not None and stage.dr_runbook is not None
    policies = props(_template(built, "dr-runbook"), "AWS::IAM::ManagedPolicy")
    text = json.dumps(policies)
    assert "route53:UpdateHealthCheck" in text
    statements = [
        s
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "route53:UpdateHealthCheck"
    ]
    [statement] = statements
    assert len(statement["Resource"]) == 2  # the two primary checks, not the secondaries


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
    # Both APIs in both regions; HTTPS is an optional feature: 0.75 + 2.00 each.
    assert len(checks) == 4
    assert {line.usd for line in checks} == {Decimal("2.75")}
    traffic = [line for line in prod.floor if line.item == "health check traffic"]
    assert {line.service for line in traffic} >= {"API Gateway", "Lambda", "WAF"}
