"""The LMS posting's deployment, read off every environment's synthesized templates.

The poster consumes its own Region's TransactionQueue stream (Mumbai's table from the data
stack, Singapore's from dr-data: the table is regional, never replicated), filtered to the
receipts it would take, failing into LmsPosterDLQ, switched on only in the active Region.
The poster, the sweep and the heartbeat are granted exactly what their code calls (no
DeleteItem, no GetItem, Query on RetryIndex only and only for the sweep), the LMS
credentials live in a secret replicated where DR is on, and the LMS alarms are armed where
their producers run and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from config import ConfigError, validate
from config import engine as engine_config
from config.engine import DR_REGION, PROD, REGION
from engine.declarations import EVENT_SOURCES, LMS_HEARTBEAT, LMS_POSTER, LMS_SWEEPER, LOAN_SYNC
from engine.metrics import METRICS
from engine.models.status import PostingStatus
from engine.queues import LMS_POSTER_DLQ
from engine.tables import ALL_TABLES, TRANSACTION_QUEUE, TRANSACTIONS
from stacks.engine import access
from stacks.engine.dr import standby_rules, standby_stream_consumers
from stacks.engine.functions import function_name
from stacks.engine.monitoring import EngineMonitoringStack, MonitoringTargets
from stacks.engine.regional import queue_name, rule_name, table_name
from stacks.engine.secrets import LMS_CLIENT, SECRETS, secret_name
from tests.infra.engine.test_engine_service import (
    SERVICE_ROLES,
    TABLE_ACTIONS,
    Deployed,
    arn,
    deployed,
    mappings_by_function,
    secret_of,
    table_arn,
)
from tests.infra.engine_synth import EngineSynth
from tests.infra.policy_eval import Ref, TemplateSet, template_set
from tests.infra.synth import cdk_json_context

LMS_FUNCTIONS = (LMS_POSTER.name, LMS_SWEEPER.name, LMS_HEARTBEAT.name)
# What each function's code calls (engine.dal.ddb.posting, shared.breaker_store), as IAM
# names it: the brief the declarations are held to.
EXPECTED_TABLES: dict[str, dict[str, set[str]]] = {
    LMS_POSTER.name: {
        "TransactionQueue": {"UpdateItem"},
        "Transactions": {"UpdateItem"},
        "Counters": {"BatchGetItem", "UpdateItem", "PutItem"},
    },
    LMS_SWEEPER.name: {
        "TransactionQueue": {"UpdateItem"},
        "Transactions": {"UpdateItem"},
        "Counters": {"BatchGetItem", "UpdateItem", "PutItem"},
    },
    LMS_HEARTBEAT.name: {},
}
EXPECTED_INDEXES = {LMS_SWEEPER.name: {"TransactionQueue/RetryIndex"}}
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
LMS_ALARMS = ("LMSConnectivityFailure", "LMSReceiptsDelayed", "LMSPostingExceptions")


def _lms(synth: EngineSynth) -> Iterator[Deployed]:
    return (d for d in deployed(synth) if d.spec.name in LMS_FUNCTIONS)


def _poster_mapping(synth: EngineSynth, role: str) -> dict[str, Any]:
    resources = synth.templates[role]["Resources"]
    poster = function_name(synth.cfg, LMS_POSTER)
    (mapping,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and resources[r["Properties"]["FunctionName"]["Ref"]]["Properties"]["FunctionName"]
        == poster
    ]
    return mapping


def _queue_table(synth: EngineSynth, data_role: str) -> Ref:
    """The TransactionQueue table of a data stack (a TableV2: AWS::DynamoDB::GlobalTable)."""
    name = table_name(synth.cfg, TRANSACTION_QUEUE.logical_name)
    (logical_id,) = [
        k
        for k, r in synth.templates[data_role]["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::GlobalTable" and r["Properties"].get("TableName") == name
    ]
    return Ref(data_role, logical_id)


def _transactions_stream(ts: TemplateSet, synth: EngineSynth, role: str) -> Any:
    """The Transactions stream as the service template of `role` names it (its mapping's)."""
    mapping = mappings_by_function(synth, role)["TransactionsSync"]["Properties"]
    return ts.resolve(role, mapping["EventSourceArn"])


# --------------------------------------------------------------------------- the stream


def test_the_transaction_queue_streams_new_images_in_every_region(
    engine_synth: EngineSynth,
) -> None:
    ts = template_set(engine_synth)
    data_roles = ("data", "dr-data") if engine_synth.cfg.dr_enabled else ("data",)
    for data_role in data_roles:
        table = ts.resource(_queue_table(engine_synth, data_role))["Properties"]
        assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}, data_role
        # Regional: one copy, never replicated.
        assert [r["Region"] for r in table["Replicas"]] == [ts.regions[data_role]]


def test_the_poster_reads_its_own_regions_transaction_queue_stream(
    engine_synth: EngineSynth,
) -> None:
    """Mumbai's mapping names the data stack's table, Singapore's the dr-data stack's (an
    export in its own Region): no cross-Region reference, no lookup at synth or deploy."""
    ts = template_set(engine_synth)
    for role, data_role in (("service", "data"), ("dr-service", "dr-data")):
        if role not in engine_synth.templates:
            continue
        mapping = _poster_mapping(engine_synth, role)
        source = ts.resolve(role, mapping["EventSourceArn"])
        assert source == _queue_table(engine_synth, data_role), role
        assert ts.regions[data_role] == ts.regions[role] == SERVICE_ROLES[role]
        assert "Fn::ImportValue" in mapping["EventSourceArn"]
        resources = engine_synth.templates[role]["Resources"].values()
        assert not any(r["Type"] == "Custom::CrossRegionExportReader" for r in resources)


def test_the_poster_mapping_is_filtered_bisected_and_fails_into_its_dlq(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    for role, region in SERVICE_ROLES.items():
        if role not in engine_synth.templates:
            continue
        mapping = _poster_mapping(engine_synth, role)
        dlq = arn(engine_synth, region, "sqs", queue_name(cfg, LMS_POSTER_DLQ.name))
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": dlq}}
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        (only,) = mapping["FilterCriteria"]["Filters"]
        # Receipts and their reversals (a cancelled collection's), PENDING only.
        assert json.loads(only["Pattern"]) == {
            "dynamodb": {
                "NewImage": {
                    "queue_type": {"S": ["LMS_RECEIPT", "LMS_CANCEL"]},
                    "status": {"S": ["PENDING"]},
                }
            }
        }
        assert mapping["Enabled"] is (region == cfg.active_region), role


def _matches(pattern: Any, event: Any) -> bool:
    """Lambda's event filtering for the exact-value patterns used here (lists of values)."""
    if isinstance(pattern, list):
        return event in pattern
    if not isinstance(event, dict):
        return False
    return all(key in event and _matches(value, event[key]) for key, value in pattern.items())


def _record(event_name: str, **image: Any) -> dict[str, Any]:
    from shared import ddb

    dynamodb: dict[str, Any] = {"Keys": {"queue_id": {"S": "lms#pay_1"}}}
    if image:
        dynamodb["NewImage"] = ddb.to_item(image)
    return {"eventName": event_name, "dynamodb": dynamodb}


def test_the_filter_lets_through_only_receipts_waiting_to_be_posted() -> None:
    pattern = next(s for s in EVENT_SOURCES if s.function == LMS_POSTER.name).filter_pattern
    queued = {"queue_id": "lms#pay_1", "queue_type": "LMS_RECEIPT", "retry_timestamp": 1}
    taken = [
        _record("INSERT", **queued, status=PostingStatus.PENDING.value),  # a capture
        _record("MODIFY", **queued, status=PostingStatus.PENDING.value),  # a retry, a reschedule
    ]
    dropped = [
        _record("MODIFY", **queued, status=s.value) for s in PostingStatus if s.value != "PENDING"
    ]
    dropped += [
        _record("REMOVE"),  # TTL: no new image
        _record("INSERT", **(queued | {"queue_type": "OTHER"}), status="PENDING"),
    ]
    assert all(_matches(pattern, r) for r in taken)
    assert not any(_matches(pattern, r) for r in dropped)


# --------------------------------------------------------------------------- least privilege


def test_each_lms_function_is_granted_exactly_what_its_code_calls(
    engine_synth: EngineSynth,
) -> None:
    ts = template_set(engine_synth)
    found = list(_lms(engine_synth))
    assert {d.spec.name for d in found} == set(LMS_FUNCTIONS)
    for d in found:
        expected = EXPECTED_TABLES[d.spec.name]
        for table in ALL_TABLES:
            resource = table_arn(engine_synth, d.region, table.logical_name)
            allowed = {a for a in TABLE_ACTIONS if d.can(ts, f"dynamodb:{a}", resource)}
            assert allowed == expected.get(table.logical_name, set()), (
                d.region,
                d.spec.name,
                table.logical_name,
            )
            for index in table.indexes:
                queryable = d.can(ts, "dynamodb:Query", f"{resource}/index/{index.name}")
                wanted = f"{table.logical_name}/{index.name}" in EXPECTED_INDEXES.get(
                    d.spec.name, set()
                )
                assert queryable == wanted, (d.spec.name, index.name)
        # Never a delete, a scan, a table-wide query or a plain read.
        for action in ("DeleteItem", "BatchWriteItem", "Scan", "GetItem"):
            for table in ALL_TABLES:
                resource = table_arn(engine_synth, d.region, table.logical_name)
                assert not d.can(ts, f"dynamodb:{action}", resource), (d.spec.name, action)
        # None of them touches PostgreSQL, the bus, the documents or SMS.
        actions = {a for s in d.statements for a in json.dumps(s["Action"]).split('"')}
        assert not actions & {"rds-db:connect", "events:PutEvents", "sns:Publish"}, d.spec.name
        assert not any(a.startswith("s3:") for a in actions), d.spec.name


def test_the_lms_secret_is_read_only_by_the_lms_functions_and_the_loan_sync(
    engine_synth: EngineSynth,
) -> None:
    ts = template_set(engine_synth)
    everyone = list(deployed(engine_synth))
    for region in {d.region for d in everyone}:
        secret = secret_of(engine_synth, LMS_CLIENT, region)
        readers = {
            d.spec.name
            for d in everyone
            if d.region == region and d.can(ts, "secretsmanager:GetSecretValue", secret)
        }
        assert readers == {*LMS_FUNCTIONS, LOAN_SYNC.name}, region
    for d in _lms(engine_synth):
        for other in SECRETS:
            if other is not LMS_CLIENT:
                secret = secret_of(engine_synth, other, d.region)
                assert not d.can(ts, "secretsmanager:GetSecretValue", secret), d.spec.name


def test_only_the_poster_reads_the_transaction_queue_stream(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for role, data_role in (("service", "data"), ("dr-service", "dr-data")):
        if role not in engine_synth.templates:
            continue
        queue_stream = _queue_table(engine_synth, data_role)
        transactions_stream = _transactions_stream(ts, engine_synth, role)
        for d in deployed(engine_synth):
            if d.role != role:
                continue
            reads = {a for a in STREAM_ACTIONS if d.can(ts, a, queue_stream)}
            expected = set(STREAM_ACTIONS) if d.spec.name == LMS_POSTER.name else set()
            assert reads == expected, (role, d.spec.name)
            if d.spec.name in LMS_FUNCTIONS:
                for action in STREAM_ACTIONS:
                    assert not d.can(ts, action, transactions_stream), (role, d.spec.name)


def test_the_lms_functions_get_their_settings_and_each_regions_resources(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    ts = template_set(engine_synth)
    for d in _lms(engine_synth):
        env = d.props["Environment"]["Variables"]
        assert env["LMS_BASE_URL"] == cfg.lms_base_url
        assert env["LMS_TIMEOUT_SECONDS"] == str(cfg.lms_timeout_seconds)
        # The secret itself in Mumbai; the replica, by its name, in Singapore.
        named = ts.resolve(d.role, env["LMS_SECRET_ARN"])
        if d.region == DR_REGION:
            assert named == secret_name(cfg, LMS_CLIENT)
        else:
            assert named == secret_of(engine_synth, LMS_CLIENT, REGION)
        if d.spec.name == LMS_HEARTBEAT.name:
            assert set(env) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} == {
                "LMS_SECRET_ARN",
                "LMS_BASE_URL",
                "LMS_TIMEOUT_SECONDS",
            }
        else:
            assert env["TRANSACTION_QUEUE_TABLE"] == table_name(cfg, TRANSACTION_QUEUE.logical_name)
            assert env["TRANSACTIONS_TABLE"] == table_name(cfg, TRANSACTIONS.logical_name)
            assert env["LMS_LEASE_SECONDS"] == str(cfg.lms_lease_seconds)
            assert env["LMS_BREAKER_FAILURE_RATIO"] == str(cfg.lms_breaker_failure_ratio)
            assert "DB_PROXY_ENDPOINT" not in env


def test_the_lms_functions_reserve_what_the_convention_says(engine_synth: EngineSynth) -> None:
    """The poster 2 (a backlog cannot overrun the LMS), each job 1 (one run at a time)."""
    for d in _lms(engine_synth):
        expected = {LMS_POSTER.name: 2, LMS_SWEEPER.name: 1, LMS_HEARTBEAT.name: 1}[d.spec.name]
        assert d.props["ReservedConcurrentExecutions"] == expected, (d.region, d.spec.name)


# --------------------------------------------------------------------------- the secret


def test_the_lms_secret_is_generated_encrypted_and_replicated_where_dr_is_on(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    (secret,) = [
        r["Properties"]
        for r in engine_synth.templates["data"]["Resources"].values()
        if r["Type"] == "AWS::SecretsManager::Secret"
        and r["Properties"]["Name"] == f"engine/{cfg.env_name}/lms"
    ]
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "client_secret"
    assert json.loads(generated["SecretStringTemplate"]) == {"client_id": "set-the-lms-client-id"}
    assert "Data" in json.dumps(secret["KmsKeyId"])
    replicas = secret.get("ReplicaRegions", [])
    assert [r["Region"] for r in replicas] == ([DR_REGION] if cfg.dr_enabled else [])
    for replica in replicas:
        assert f"arn:aws:kms:{DR_REGION}:" in json.dumps(replica["KmsKeyId"])


# --------------------------------------------------------------------------- DR runbook


def test_the_runbook_switches_on_the_lms_jobs_and_the_poster(
    engine_synth_of: Callable[[str], EngineSynth],
) -> None:
    synth = engine_synth_of("prod")
    cfg = synth.cfg
    sweep, heartbeat = (rule_name(cfg, s) for s in _schedules_of(LMS_SWEEPER, LMS_HEARTBEAT))
    poster = function_name(cfg, LMS_POSTER)
    assert {sweep, heartbeat} <= set(standby_rules(cfg))
    assert poster in standby_stream_consumers(cfg)
    (document,) = [
        r["Properties"]
        for r in synth.templates["dr-runbook"]["Resources"].values()
        if r["Type"] == "AWS::SSM::Document"
    ]
    steps = {s["name"]: s for s in json.loads(json.dumps(document["Content"]))["mainSteps"]}
    for rule in (sweep, heartbeat):
        step = steps["Enable" + "".join(p.capitalize() for p in rule.split("-"))]
        assert step["inputs"] == {"Service": "events", "Api": "EnableRule", "Name": rule}
    find = steps["FindEngineProdLmsPosterMapping"]
    assert find["inputs"]["FunctionName"] == poster
    enable = steps["EnableEngineProdLmsPosterMapping"]["inputs"]
    assert enable["UUID"] == "{{ FindEngineProdLmsPosterMapping.Uuid }}"
    assert enable["Enabled"] is True


def _schedules_of(*specs: Any) -> list[Any]:
    from engine.declarations import SCHEDULES

    return [next(s for s in SCHEDULES if s.function == spec.name) for spec in specs]


# --------------------------------------------------------------------------- alarms


def _alarms(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def _monitoring_roles(synth: EngineSynth) -> dict[str, str]:
    roles = {"monitoring": REGION}
    if synth.cfg.dr_enabled:
        roles["dr-monitoring"] = DR_REGION
    return roles


def _prefix(synth: EngineSynth, role: str) -> str:
    return f"engine-{synth.env_name}" + ("-dr" if role == "dr-monitoring" else "")


def _assert_lms_alarms_armed_only_in(synth: EngineSynth, active: str) -> None:
    for role, region in _monitoring_roles(synth).items():
        alarms, prefix = _alarms(synth, role), _prefix(synth, role)
        armed = {name for name in LMS_ALARMS if f"{prefix}-{name}" in alarms}
        assert armed == (set(LMS_ALARMS) if region == active else set()), role
        iterator = f"{prefix}-lms-poster-Iterator-Age-Max-Critical"
        assert (iterator in alarms) is (region == active), role
        # A message in the DLQ is real wherever it is: armed in both Regions.
        assert f"{prefix}-lms-poster-dlq-Queue-Message-Count-Max-Critical" in alarms, role


def test_the_lms_alarms_are_armed_only_in_the_active_region(engine_synth: EngineSynth) -> None:
    _assert_lms_alarms_armed_only_in(engine_synth, engine_synth.cfg.active_region)


def test_after_a_failover_the_lms_alarms_and_the_poster_move_to_singapore(
    engine_prod_failed_over: EngineSynth,
) -> None:
    moved = engine_prod_failed_over
    _assert_lms_alarms_armed_only_in(moved, DR_REGION)
    assert _poster_mapping(moved, "dr-service")["Enabled"] is True
    assert _poster_mapping(moved, "service")["Enabled"] is False


def test_the_lms_alarms_are_as_specified(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    alarms = _alarms(engine_synth, "monitoring")
    prefix = _prefix(engine_synth, "monitoring")
    critical = f"arn:aws:sns:{REGION}:{cfg.account}:engine-{cfg.env_name}-critical"
    warning = f"arn:aws:sns:{REGION}:{cfg.account}:engine-{cfg.env_name}-warning"
    delayed = alarms[f"{prefix}-LMSReceiptsDelayed"]
    assert {k: delayed[k] for k in _SHAPE} == {
        "MetricName": "lms_queue_oldest_age",
        "Namespace": "FivestarPaymentsEngine",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 900,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [critical],
    }
    exceptions = alarms[f"{prefix}-LMSPostingExceptions"]
    assert {k: exceptions[k] for k in _SHAPE} == {
        "MetricName": "lms_posting_exceptions",
        "Namespace": "FivestarPaymentsEngine",
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [warning],
    }
    for alarm in (delayed, exceptions):
        assert "Dimensions" not in alarm  # the aggregate series engine.telemetry publishes
        assert alarm["ActionsEnabled"] is cfg.alarm_actions_enabled
    connectivity = alarms[f"{prefix}-LMSConnectivityFailure"]
    assert connectivity["MetricName"] == "lms_connectivity_status"
    assert connectivity["AlarmActions"] == [critical]


_SHAPE = (
    "MetricName",
    "Namespace",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
)


def test_no_lms_alarm_without_its_producer(tmp_path: Path) -> None:
    """Only the heartbeat running: its alarm, and neither of the sweep's or poster's."""
    app = cdk.App(
        context=cdk_json_context() | {"aws:cdk:bundling-stacks": []},
        outdir=str(tmp_path),
        analytics_reporting=False,
    )
    targets = MonitoringTargets(
        metrics=METRICS,
        running_functions=(LMS_HEARTBEAT.name,),
        critical_topic_arn=f"arn:aws:sns:{REGION}:{PROD.account}:engine-prod-critical",
        warning_topic_arn=f"arn:aws:sns:{REGION}:{PROD.account}:engine-prod-warning",
    )
    stack = EngineMonitoringStack(
        app,
        "HeartbeatOnly",
        cfg=PROD,
        region_role="monitoring",
        env=PROD.cdk_environment,
        targets=targets,
    )
    app.synth()
    template = json.loads((tmp_path / stack.template_file).read_text())
    names = {
        r["Properties"]["AlarmName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert "engine-prod-LMSConnectivityFailure" in names
    assert not names & {"engine-prod-LMSReceiptsDelayed", "engine-prod-LMSPostingExceptions"}


def test_the_lms_metrics_name_their_deployed_producers() -> None:
    produced = {m.name: set(m.producers) for m in METRICS}
    assert produced["lms_connectivity_status"] == {LMS_HEARTBEAT.name}
    assert produced["lms_queue_oldest_age"] == {LMS_SWEEPER.name}
    assert produced["lms_posting_exceptions"] == {LMS_POSTER.name, LMS_SWEEPER.name}
    assert set(LMS_FUNCTIONS) <= set(access.ACCESS)


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lms_base_url": "http://lms.fivestar.example"}, "lms_base_url"),
        ({"lms_base_url": "https://lms.fivestar.example/api"}, "lms_base_url"),
        ({"lms_lease_seconds": 5}, "lms_lease_seconds"),
        ({"lms_backoff_cap_seconds": 10}, "lms_backoff_cap_seconds"),
        ({"lms_breaker_failure_ratio": Decimal("1.5")}, "failure_ratio"),
        ({"lms_max_attempts": 0}, "lms_max_attempts"),
    ],
)
def test_bad_lms_settings_are_refused_at_synth(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(dataclasses.replace(PROD, **changes))


def test_every_environment_names_its_own_https_lms() -> None:
    urls = [cfg.lms_base_url for cfg in engine_config.ENVIRONMENTS.values()]
    assert all(url.startswith("https://") for url in urls)
    assert len(set(urls)) == len(urls)


def test_a_lease_too_long_for_the_functions_timeout_stops_synth(tmp_path: Path) -> None:
    from stacks.engine import EngineStage

    app = cdk.App(
        context=cdk_json_context() | {"aws:cdk:bundling-stacks": []},
        outdir=str(tmp_path),
        analytics_reporting=False,
    )
    with pytest.raises(ValueError, match="lms_lease_seconds / 4"):
        EngineStage(app, dataclasses.replace(engine_config.DEV, lms_lease_seconds=600))


# --------------------------------------------------------------------------- deploying


REAL_LMS = "https://lms-uat.lender.example.in"
REAL_HRMS = "https://fivestar-uat.darwinbox.example.in/api/engine/v1"


def test_the_deploy_path_refuses_an_lms_placeholder() -> None:
    from config import load_engine

    for env_name in engine_config.ENVIRONMENTS:
        placeholder = engine_config.lms_placeholder_url(env_name)
        with pytest.raises(ConfigError) as raised:
            load_engine(env_name, strict=True)
        message = str(raised.value)
        assert message.startswith(f"refusing to deploy engine/{env_name}:")
        assert placeholder in message
        assert f"set lms_base_url of {env_name} in config/engine.py" in message


def test_an_environment_naming_its_lms_deploys(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import load_engine

    named = dataclasses.replace(
        engine_config.ENVIRONMENTS["qa"], lms_base_url=REAL_LMS, hrms_base_url=REAL_HRMS
    )
    monkeypatch.setitem(engine_config.ENVIRONMENTS, "qa", named)
    assert named.deploy_problems() == []
    assert load_engine("qa", strict=True).lms_base_url == REAL_LMS


def test_synth_and_tests_only_warn_once_per_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import config
    from config import load_engine

    monkeypatch.setattr(config, "_WARNED", set())
    first, second = load_engine("qa"), load_engine("qa")
    assert first.lms_base_url == second.lms_base_url == engine_config.lms_placeholder_url("qa")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: engine/qa: lms_base_url is still the placeholder ")
    assert "make deploy refuses it" in lines[0]
    # The tools that answer in one line before the CDK CLI stay quiet (the strict synth
    # that follows them refuses).
    from scripts import deploy_check, preflight

    monkeypatch.setattr(config, "_WARNED", set())
    deploy_check.target("engine", "prod")
    preflight._config("engine", "prod")
    assert capsys.readouterr().err == ""


def test_the_app_refuses_an_lms_placeholder_when_strict() -> None:
    from stacks import build

    with pytest.raises(ConfigError, match="refusing to deploy engine/dev"):
        build(cdk.App(context={"env": "dev", "system": "engine", "strict": "true"}))
