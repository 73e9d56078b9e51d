"""The engine's monitoring stacks: the three specified alarms as specified, the platform alarms
per resource, severity routing, dev's disabled actions, nag and cfn-lint clean."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

from cdk_constructs import nag
from cdk_constructs.monitoring import MonitoringHub, MonitoringHubProps
from config.engine import DEV, DR_REGION, ENVIRONMENTS, PROD, REGION
from engine.metrics import METRICS
from stacks.engine.monitoring import (
    ENGINE_METRIC_NAMESPACE,
    LOG_RETENTION_POLICY,
    EngineMonitoringStack,
    MonitoringTargets,
    log_retention,
    max_connections,
)
from tests.infra.cfn_lint import TOLERATED_WARNINGS, WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.synth import cdk_json_context

ACCOUNT = PROD.account
CRITICAL_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:engine-prod-critical"
WARNING_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:engine-prod-warning"
TABLES = ("engine-prod-payments", "engine-prod-mandates")
REPLICAS = ("engine-prod-db-reporting", "engine-prod-db-analytics")
DR_REPLICA = "engine-prod-db-dr"
APIS = ("engine-prod-portal-api", "engine-prod-internal-api")
DLQS = ("engine-prod-razorpay-webhook-dlq", "engine-prod-notifications-dlq")
FUNCTIONS = ("engine-prod-post-to-lms", "engine-prod-take-payment")

# These standalone stacks declare the platform's metrics as published by two functions of
# their own (a payment API and the LMS heartbeat job the business logic will bring).
PRODUCERS = {
    "payment_success_rate": ("TakePayment",),
    "api_response_time": ("TakePayment",),
    "lms_connectivity_status": ("LmsHeartbeat",),
}
DECLARED = tuple(
    dataclasses.replace(spec, producers=PRODUCERS.get(spec.name, ())) for spec in METRICS
)

PROD_TARGETS = MonitoringTargets(
    metric_namespace=ENGINE_METRIC_NAMESPACE,
    table_names=TABLES,
    replica_regions=(DR_REGION,),
    db_instance_identifiers=("engine-prod-db",),
    replica_instance_identifiers=REPLICAS,
    rest_api_names=APIS,
    stage_name="v1",
    web_acl_names=APIS,
    queue_names=("engine-prod-razorpay-webhook-replay", "engine-prod-notifications"),
    dlq_names=DLQS,
    function_names=FUNCTIONS,
    metrics=DECLARED,
    running_functions=("TakePayment", "LmsHeartbeat"),
    critical_topic_arn=CRITICAL_ARN,
    warning_topic_arn=WARNING_ARN,
)
# The standby: the payment API runs there too, the heartbeat job only in the active Region.
DR_TARGETS = dataclasses.replace(
    PROD_TARGETS,
    replica_regions=(REGION,),
    db_instance_identifiers=(DR_REPLICA,),
    replica_instance_identifiers=(DR_REPLICA,),
    running_functions=("TakePayment",),
    critical_topic_arn=None,
    warning_topic_arn=None,
)
DEV_TARGETS = MonitoringTargets(
    table_names=("engine-dev-payments",),
    db_instance_identifiers=("engine-dev-db",),
    rest_api_names=("engine-dev-portal-api",),
    web_acl_names=("engine-dev-portal-api",),
    dlq_names=("engine-dev-razorpay-webhook-dlq",),
    function_names=("engine-dev-post-to-lms",),
)

# The three specified alarms, copied here rather than imported so a change to the stack's
# table fails.
SEED = {
    "PaymentFailureRate": {
        "MetricName": "payment_success_rate",
        "Threshold": 95,
        "ComparisonOperator": "LessThanThreshold",
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Period": 300,
        "Statistic": "Average",
        "TreatMissingData": "notBreaching",
    },
    "HighAPILatency": {
        "MetricName": "api_response_time",
        "Threshold": 2000,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Period": 300,
        "Statistic": "Average",
        "TreatMissingData": "notBreaching",
    },
    "LMSConnectivityFailure": {
        "MetricName": "lms_connectivity_status",
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Period": 60,
        "Statistic": "Minimum",
        "TreatMissingData": "breaching",
    },
}
SEED_CRITICAL = {"PaymentFailureRate", "LMSConnectivityFailure"}


@dataclass
class Synthesized:
    outdir: Path
    stacks: dict[str, EngineMonitoringStack]
    templates: dict[str, dict[str, Any]]

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def alarms(self, name: str) -> dict[str, dict[str, Any]]:
        """AlarmName -> Properties."""
        return {
            r["Properties"]["AlarmName"]: r["Properties"]
            for r in self.templates[name]["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }

    def logical_id(self, name: str, resource_type: str, topic_name: str) -> str:
        (found,) = [
            logical_id
            for logical_id, r in self.templates[name]["Resources"].items()
            if r["Type"] == resource_type and r["Properties"].get("TopicName") == topic_name
        ]
        return found


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("engine-monitoring")
    context = cdk_json_context() | {"aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    nag.register_packs(app)
    stacks = {
        "prod": EngineMonitoringStack(
            app,
            "ProdMonitoring",
            cfg=PROD,
            region_role="monitoring",
            env=PROD.cdk_environment,
            targets=PROD_TARGETS,
        ),
        "prod-dr": EngineMonitoringStack(
            app,
            "ProdDrMonitoring",
            cfg=PROD,
            region_role="dr-monitoring",
            env=PROD.dr_cdk_environment,
            targets=DR_TARGETS,
        ),
        "dev": EngineMonitoringStack(
            app,
            "DevMonitoring",
            cfg=DEV,
            region_role="monitoring",
            env=DEV.cdk_environment,
            targets=DEV_TARGETS,
        ),
    }
    app.synth()
    templates = {
        name: json.loads((outdir / stack.template_file).read_text())
        for name, stack in stacks.items()
    }
    yield Synthesized(outdir=outdir, stacks=stacks, templates=templates)


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads (MetricName/Namespace/Dimensions), plain or math form."""
    if "MetricName" in alarm:
        return [alarm]
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


def _dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in _metrics(alarm)[0].get("Dimensions", [])}


def _on(alarms: dict[str, dict[str, Any]], metric_name: str) -> list[dict[str, Any]]:
    return [a for a in alarms.values() if metric_name in {m["MetricName"] for m in _metrics(a)}]


# --- the three specified alarms ---------------------------------------------------------


@pytest.mark.parametrize("seed_name", sorted(SEED))
def test_seed_alarm_is_exactly_the_seed(synthesized: Synthesized, seed_name: str) -> None:
    alarm = synthesized.alarms("prod")[f"engine-prod-{seed_name}"]
    expected = SEED[seed_name]
    assert {key: alarm.get(key) for key in expected} == expected
    assert alarm["Namespace"] == ENGINE_METRIC_NAMESPACE == "FivestarPaymentsEngine"
    # The undimensioned aggregate the engine publishes besides its dimensioned series.
    assert "Dimensions" not in alarm
    assert "Unit" not in alarm
    topic = CRITICAL_ARN if seed_name in SEED_CRITICAL else WARNING_ARN
    assert alarm["AlarmActions"] == [topic]
    assert alarm["ActionsEnabled"] is True


def test_dr_seed_alarms_use_the_dr_regions_own_topics(synthesized: Synthesized) -> None:
    alarms = synthesized.alarms("prod-dr")
    critical = synthesized.logical_id("prod-dr", "AWS::SNS::Topic", "engine-prod-dr-critical")
    warning = synthesized.logical_id("prod-dr", "AWS::SNS::Topic", "engine-prod-dr-warning")
    # The heartbeat job runs only in the active Region: the standby has no LMS alarm.
    assert "engine-prod-dr-LMSConnectivityFailure" not in alarms
    for seed_name, expected in SEED.items():
        if seed_name == "LMSConnectivityFailure":
            continue
        alarm = alarms[f"engine-prod-dr-{seed_name}"]
        for key in ("MetricName", "Threshold", "ComparisonOperator", "Period", "Statistic"):
            assert alarm[key] == expected[key]
        topic = critical if seed_name in SEED_CRITICAL else warning
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_no_business_alarm_without_a_running_producer(synthesized: Synthesized) -> None:
    """dev's targets run no function that emits the platform's metrics: no alarm on them, but
    the dashboard still graphs every declared metric."""
    alarms = synthesized.alarms("dev")
    business = [a for a in alarms.values() if a.get("Namespace") == ENGINE_METRIC_NAMESPACE]
    assert business == []
    [dashboard] = [
        r["Properties"]
        for r in synthesized.templates["dev"]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.dumps(dashboard["DashboardBody"])
    for metric in METRICS:
        assert metric.name in body


# --- per-resource alarms --------------------------------------------------------------


def test_replica_lag_alarm_per_replica(synthesized: Synthesized) -> None:
    prod = _on(synthesized.alarms("prod"), "ReplicaLag")
    assert sorted(_dimensions(a)["DBInstanceIdentifier"] for a in prod) == sorted(REPLICAS)
    for alarm in prod:
        assert alarm["Threshold"] == 300
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == [WARNING_ARN]  # reporting replicas: no RPO
    (dr,) = _on(synthesized.alarms("prod-dr"), "ReplicaLag")
    assert _dimensions(dr) == {"DBInstanceIdentifier": DR_REPLICA}
    critical = synthesized.logical_id("prod-dr", "AWS::SNS::Topic", "engine-prod-dr-critical")
    assert dr["AlarmActions"] == [{"Ref": critical}]  # the DR copy the RPO rests on


def test_database_alarms_on_the_primary(synthesized: Synthesized) -> None:
    alarms = [
        a
        for a in synthesized.alarms("prod").values()
        if _dimensions(a) == {"DBInstanceIdentifier": "engine-prod-db"}
    ]
    by_metric = {(a["MetricName"], a["Statistic"]): a for a in alarms}
    assert by_metric["CPUUtilization", "Average"]["Threshold"] == 80
    storage = by_metric["FreeStorageSpace", "Minimum"]
    assert storage["ComparisonOperator"] == "LessThanThreshold"
    assert storage["Threshold"] == PROD.database.allocated_storage_gb * 1024**3 // 10
    assert by_metric["DatabaseConnections", "Maximum"]["Threshold"] == int(
        max_connections(PROD.database.instance_type) * 0.8
    )
    assert {"ReadLatency", "WriteLatency"} <= {name for name, _ in by_metric}
    down = by_metric["CPUUtilization", "SampleCount"]
    assert down["TreatMissingData"] == "breaching"
    assert down["AlarmActions"] == [CRITICAL_ARN]


def test_replication_latency_per_table_per_receiving_region(synthesized: Synthesized) -> None:
    for name, region in (("prod", DR_REGION), ("prod-dr", REGION)):
        alarms = _on(synthesized.alarms(name), "ReplicationLatency")
        found = sorted(
            (_dimensions(a)["TableName"], _dimensions(a)["ReceivingRegion"]) for a in alarms
        )
        assert found == sorted((table, region) for table in TABLES)
        assert {a["Threshold"] for a in alarms} == {60_000}


def test_dynamodb_throttle_and_system_error_alarms_per_table(synthesized: Synthesized) -> None:
    alarms = synthesized.alarms("prod")
    for table in TABLES:
        short = table.removeprefix("engine-prod-")
        names = {n for n in alarms if n.startswith(f"engine-prod-{short}-")}
        assert {
            f"engine-prod-{short}-{kind}-Warning"
            for kind in ("Read-Throttled-Events", "Write-Throttled-Events", "SystemError-Count")
        } <= names


def test_dlq_depth_alarm_per_dlq_pages(synthesized: Synthesized) -> None:
    alarms = _on(synthesized.alarms("prod"), "ApproximateNumberOfMessagesVisible")
    depth = {_dimensions(a)["QueueName"]: a for a in alarms}
    assert set(depth) == set(DLQS)
    for alarm in depth.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] == 1
        assert alarm["Metrics"][0]["MetricStat"]["Stat"] == "Maximum"
        assert alarm["AlarmActions"] == [CRITICAL_ARN]


def test_work_queue_age_alarm(synthesized: Synthesized) -> None:
    ages = {
        _dimensions(a)["QueueName"]: a
        for a in _on(synthesized.alarms("prod"), "ApproximateAgeOfOldestMessage")
    }
    work = ages["engine-prod-razorpay-webhook-replay"]
    assert work["Threshold"] == 2 * 180 * 5
    assert work["AlarmActions"] == [WARNING_ARN]
    assert ages["engine-prod-razorpay-webhook-dlq"]["AlarmActions"] == [CRITICAL_ARN]


def test_api_5xx_and_latency_alarms_per_api(synthesized: Synthesized) -> None:
    alarms = synthesized.alarms("prod")
    for api in APIS:
        mine = [a for a in alarms.values() if _dimensions(a) == {"ApiName": api, "Stage": "v1"}]
        faults = {a["Statistic"]: a for a in mine if a.get("MetricName") == "5XXError"}
        assert faults["Sum"]["Threshold"] == 10
        assert faults["Average"]["Threshold"] == 0.05
        (latency,) = [a for a in mine if a.get("MetricName") == "Latency"]
        assert latency["ExtendedStatistic"] == "p99"
        assert latency["Threshold"] == 2000
        assert all(a["AlarmActions"] == [WARNING_ARN] for a in mine)


def test_waf_blocked_requests_alarm_per_acl(synthesized: Synthesized) -> None:
    for name, region in (("prod", REGION), ("prod-dr", DR_REGION)):
        alarms = _on(synthesized.alarms(name), "BlockedRequests")
        assert sorted(_dimensions(a)["WebACL"] for a in alarms) == sorted(APIS)
        for alarm in alarms:
            assert _dimensions(alarm)["Rule"] == "ALL"
            assert _dimensions(alarm)["Region"] == region
            assert alarm["Namespace"] == "AWS/WAFV2"


def test_lambda_error_and_throttle_alarms_per_function(synthesized: Synthesized) -> None:
    alarms = synthesized.alarms("prod")
    for metric_name in ("Errors", "Throttles"):
        found = sorted(_dimensions(a)["FunctionName"] for a in _on(alarms, metric_name))
        assert found == sorted(FUNCTIONS)


def test_only_payment_lms_dlq_and_database_down_alarms_page(synthesized: Synthesized) -> None:
    critical = {
        name
        for name, a in synthesized.alarms("prod").items()
        if a["AlarmActions"] == [CRITICAL_ARN]
    }
    assert critical == {
        "engine-prod-PaymentFailureRate",
        "engine-prod-LMSConnectivityFailure",
        "engine-prod-db-Available-Critical",
        *(
            f"engine-prod-{d.removeprefix('engine-prod-')}-Queue-Message-Count-Max-Critical"
            for d in DLQS
        ),
        *(
            f"engine-prod-{d.removeprefix('engine-prod-')}-Queue-Message-Age-Max-Critical"
            for d in DLQS
        ),
    }
    others = [a for a in synthesized.alarms("prod").values() if a["AlarmActions"] != [CRITICAL_ARN]]
    assert all(a["AlarmActions"] == [WARNING_ARN] for a in others)


# --- environments -----------------------------------------------------------------------


def test_dev_alarms_evaluate_but_page_nobody(synthesized: Synthesized) -> None:
    alarms = synthesized.alarms("dev")
    assert alarms
    assert {a["ActionsEnabled"] for a in alarms.values()} == {False}
    assert all(a["AlarmActions"] for a in alarms.values())  # kept, just disabled
    for name in ("prod", "prod-dr"):
        assert {a["ActionsEnabled"] for a in synthesized.alarms(name).values()} == {True}


def test_one_dashboard_per_region(synthesized: Synthesized) -> None:
    expected = {
        "prod": "engine-prod-dashboard",
        "prod-dr": "engine-prod-dashboard-dr",
        "dev": "engine-dev-dashboard",
    }
    for name, dashboard in expected.items():
        found = [
            r["Properties"]["DashboardName"]
            for r in synthesized.templates[name]["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Dashboard"
        ]
        assert found == [dashboard]


def test_given_topics_are_used_and_missing_ones_created(synthesized: Synthesized) -> None:
    prod_types = {r["Type"] for r in synthesized.templates["prod"]["Resources"].values()}
    assert prod_types == {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"}
    dr_types = {r["Type"] for r in synthesized.templates["prod-dr"]["Resources"].values()}
    assert {"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::SNS::TopicPolicy"} <= dr_types


def test_no_cross_stack_references(synthesized: Synthesized) -> None:
    for template in synthesized.templates.values():
        text = json.dumps(template)
        assert "Fn::ImportValue" not in text
        assert "Parameters" not in template or all(
            p.get("Type", "").startswith("AWS::SSM") for p in template["Parameters"].values()
        )


# --- nag and cfn-lint -------------------------------------------------------------------


def test_no_unacknowledged_nag_findings(synthesized: Synthesized) -> None:
    report = synthesized.report
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], [v["ruleName"] for v in plugin["violations"]]
    suppressed = {
        (s["ruleName"], c["constructPath"].split("/")[0])
        for plugin in report["pluginReports"]
        for s in plugin.get("suppressedViolations") or []
        for c in s["violatingConstructs"]
    }
    # Only dev's disabled alarm actions are acknowledged, and only in dev.
    assert suppressed == {("NIST.800.53.R5-CloudWatchAlarmAction", "DevMonitoring")}


def test_cfn_lint_clean(synthesized: Synthesized) -> None:
    templates = [str(synthesized.outdir / s.template_file) for s in synthesized.stacks.values()]
    result = subprocess.run(
        [cfn_lint(), "--format", "json", "--regions", REGION, DR_REGION, "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & ~WARNING_OR_INFO_BITS == 0, result.stderr or result.stdout
    matches = json.loads(result.stdout or "[]")
    unexpected = [m for m in matches if m["Rule"]["Id"] not in TOLERATED_WARNINGS | {"W3010"}]
    assert unexpected == [], json.dumps(unexpected)[:4000]


# --- input validation -------------------------------------------------------------------


def _build(**changes: Any) -> None:
    arguments: dict[str, Any] = {
        "cfg": PROD,
        "region_role": "monitoring",
        "env": PROD.cdk_environment,
        "targets": PROD_TARGETS,
    } | changes
    EngineMonitoringStack(cdk.App(), "M", **arguments)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"region_role": "secondary"}, "region_role must be one of"),
        ({"region_role": "dr-monitoring"}, "dr-monitoring belongs in ap-southeast-1"),
        ({"cfg": DEV, "region_role": "dr-monitoring"}, "dev has no DR"),
        ({"env": cdk.Environment(account="111111111111", region=REGION)}, "env.account"),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, replica_regions=(REGION,))},
            "this stack's own Region",
        ),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, table_names=("a", "a"))},
            "table_names lists",
        ),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, dlq_names=("",))},
            "dlq_names has an empty name",
        ),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, function_names="engine-prod-fn")},
            "not the string",
        ),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, metric_namespace="AWS/Lambda")},
            "AWS/ is reserved",
        ),
        (
            {"targets": dataclasses.replace(PROD_TARGETS, queue_names=DLQS)},
            "both a work queue and a DLQ",
        ),
    ],
)
def test_bad_input_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**changes)


def test_a_topic_in_another_region_is_refused() -> None:
    dr_topic = f"arn:aws:sns:{DR_REGION}:{ACCOUNT}:engine-prod-critical"
    with pytest.raises(ValueError, match="can only publish to a topic in their own Region"):
        _build(targets=dataclasses.replace(PROD_TARGETS, critical_topic_arn=dr_topic))


def test_hub_keeps_its_default_pair_of_dashboards() -> None:
    """Backwards compatible: without the new props the hub builds what payouts expects."""
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region=REGION))
    hub = MonitoringHub(
        stack,
        "Hub",
        MonitoringHubProps(
            name_prefix="x-dev",
            alarm_actions_enabled=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        ),
    )
    assert hub.key is not None
    assert hub.business is not hub.operations


# --- log retention and sizing -----------------------------------------------------------


_DAYS = {"TWO_WEEKS": 14, "ONE_MONTH": 30, "THREE_MONTHS": 90}


@pytest.mark.parametrize("env_name", sorted(ENVIRONMENTS))
def test_log_retention_policy_matches_the_seed(env_name: str) -> None:
    cfg = ENVIRONMENTS[env_name]
    for kind, rule in LOG_RETENTION_POLICY.items():
        retention = log_retention(cfg, kind)
        assert isinstance(retention, logs.RetentionDays)
        assert retention != logs.RetentionDays.INFINITE
        if rule.seed_days is not None:
            assert _DAYS[retention.value] == rule.seed_days, kind
    assert set(LOG_RETENTION_POLICY) >= {"portal", "internal", "scheduler", "api_access"}
    with pytest.raises(ValueError, match="unknown log group kind"):
        log_retention(cfg, "audit")


def test_max_connections_follows_rds_postgres_default() -> None:
    assert max_connections("t4g.medium") == 450
    assert max_connections("r6g.large") == 1802
    assert max_connections("r6g.xlarge") == 3604
    assert max_connections("r6g.16xlarge") == 5000
    with pytest.raises(ValueError, match="cannot size max_connections"):
        max_connections("c6g.large")


# --- the active Region ------------------------------------------------------------------


def _stage_alarm_names(outdir: Path, cfg: Any) -> dict[str, set[str]]:
    from stacks.engine import EngineStage

    app = cdk.App(
        context=cdk_json_context() | {"aws:cdk:bundling-stacks": []},
        outdir=str(outdir),
        analytics_reporting=False,
    )
    stage = EngineStage(app, cfg)
    app.synth()
    names = {}
    for role in ("monitoring", "dr-monitoring"):
        stack = stage.roles[role]
        template = json.loads(
            (outdir / f"assembly-{stage.stage_name}" / stack.template_file).read_text()
        )
        names[role] = {
            r["Properties"]["AlarmName"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }
    return names


def test_a_jobs_alarm_exists_only_in_the_active_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A job that runs only in the active Region (here PortalHealth stands in for the LMS
    heartbeat job the business logic will bring) gets its metric's alarm there only; after a
    failover config names Singapore active, and the alarm moves with the job."""
    import stacks.engine.api as api_stack
    from engine import metrics as engine_metrics

    job = dataclasses.replace(api_stack.PORTAL_HEALTH, active_region_only=True)
    monkeypatch.setattr(api_stack, "PORTAL_HEALTH", job)
    declared = tuple(
        dataclasses.replace(spec, producers=(job.name,))
        if spec.name == "lms_connectivity_status"
        else spec
        for spec in engine_metrics.METRICS
    )
    monkeypatch.setattr(engine_metrics, "METRICS", declared)
    lms = "LMSConnectivityFailure"
    for active, armed in ((REGION, "monitoring"), (DR_REGION, "dr-monitoring")):
        cfg = dataclasses.replace(PROD, active_region=active)
        names = _stage_alarm_names(tmp_path / active, cfg)
        with_lms = {role for role, alarms in names.items() if any(lms in a for a in alarms)}
        assert with_lms == {armed}, active
        # The portal functions that settle payments run in both Regions: both alarm on them.
        failures = {
            r for r, alarms in names.items() if any("PaymentFailureRate" in a for a in alarms)
        }
        assert failures == {"monitoring", "dr-monitoring"}


def test_the_active_region_must_be_one_the_environment_runs_in() -> None:
    from config import ConfigError, validate

    with pytest.raises(ConfigError, match="active_region"):
        validate(dataclasses.replace(DEV, active_region=DR_REGION))
    assert validate(dataclasses.replace(PROD, active_region=DR_REGION)).active_region == DR_REGION
