"""The engine's service stacks, read off every environment's synthesized templates.

Each function is deployed from its declaration (engine.declarations) with the access
stacks/engine/access.py declares, in both Regions where DR is on (by the service stacks, or
by the API stacks for the few bound to the staff pool, access.beside_the_pool); its role's
policies are evaluated as IAM would (tests/infra/policy_eval.py) against every table, index,
secret and action, so a grant beyond the declaration fails as surely as a missing one. The
jobs and consumers that run only in the active Region are deployed switched off in the other.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config import engine as engine_config
from config.engine import DR_REGION, REGION
from engine import declarations
from engine.queues import QUEUES, RAZORPAY_WEBHOOK_REPLAY, TRANSACTIONS_SYNC_DLQ
from engine.tables import ALL_TABLES
from shared.declarations import FunctionSpec
from stacks.engine import access
from stacks.engine.functions import function_name
from stacks.engine.regional import SCHEDULED_JOBS_DLQ, queue_name, rule_name, table_name
from stacks.engine.secrets import SECRETS, SecretSpec, secret_name
from tests.infra.engine_synth import EngineSynth
from tests.infra.policy_eval import Ref, Request, TemplateSet, allows, template_set

SERVICE_ROLES = {"service": REGION, "dr-service": DR_REGION}
# The API stack of each service stack's Region, where the pool-bound functions are built.
API_OF = {"service": "api", "dr-service": "dr-api"}
FUNCTION_ROLES = {**SERVICE_ROLES, "api": REGION, "dr-api": DR_REGION}
TABLE_ACTIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "PutItem",
    "UpdateItem",
    "ConditionCheckItem",
    "DeleteItem",
    "BatchWriteItem",
    "DeleteTable",
)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
SPECS = {spec.name: spec for spec in access.service_functions()}


@dataclasses.dataclass(frozen=True)
class Deployed:
    """One service function in one Region, with what IAM allows its role."""

    spec: FunctionSpec
    role: str  # stack role
    region: str
    props: dict[str, Any]
    statements: list[dict[str, Any]]

    def can(self, ts: TemplateSet, action: str, resource: Any, **context: str) -> bool:
        return allows(ts, self.statements, Request(action, resource, context=context), self.role)


def deployed(synth: EngineSynth) -> Iterator[Deployed]:
    ts = template_set(synth)
    names = {function_name(synth.cfg, spec): spec for spec in SPECS.values()}
    for role, region in FUNCTION_ROLES.items():
        if role not in synth.templates:
            continue
        for logical_id, resource in synth.templates[role]["Resources"].items():
            name = resource.get("Properties", {}).get("FunctionName")
            if resource["Type"] != "AWS::Lambda::Function" or name not in names:
                continue
            role_ref = ts.role_of_function(Ref(role, logical_id))
            assert role_ref is not None, logical_id
            yield Deployed(
                names[name], role, region, resource["Properties"], ts.identity_statements(role_ref)
            )


def arn(synth: EngineSynth, region: str, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{synth.cfg.account}:{resource}"


def table_arn(synth: EngineSynth, region: str, logical_name: str) -> str:
    return arn(synth, region, "dynamodb", f"table/{table_name(synth.cfg, logical_name)}")


def secret_of(synth: EngineSynth, spec: SecretSpec, region: str) -> Any:
    """The secret as a policy names it: the Mumbai secret itself, or Singapore's replica."""
    if region == DR_REGION:
        return arn(synth, region, "secretsmanager", f"secret:{secret_name(synth.cfg, spec)}-AbCdEf")
    for logical_id, resource in synth.templates["data"]["Resources"].items():
        if resource["Properties"].get("Name") == secret_name(synth.cfg, spec):
            return Ref("data", logical_id)
    raise AssertionError(f"no secret {secret_name(synth.cfg, spec)}")


# --------------------------------------------------------------------------- deployment


def test_every_service_function_is_deployed_from_its_declaration_in_each_region(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    found = list(deployed(engine_synth))
    regions = (REGION, DR_REGION) if cfg.dr_enabled else (REGION,)
    assert {(d.spec.name, d.region) for d in found} == {(n, r) for n in SPECS for r in regions}
    for d in found:
        assert (d.role in API_OF.values()) == access.beside_the_pool(d.spec.name), d.spec.name
        p, spec, declared = d.props, d.spec, access.ACCESS[d.spec.name]
        assert (p["Handler"], p["MemorySize"], p["Timeout"]) == (
            spec.handler,
            spec.memory_mb,
            spec.timeout_seconds,
        )
        assert p["ReservedConcurrentExecutions"] == cfg.reserved_concurrency[spec.name]
        assert "KmsKeyArn" in p, f"{spec.name}: environment not under a customer-managed key"
        assert p["VpcConfig"]["SubnetIds"], spec.name
        variables = set(p["Environment"]["Variables"])
        powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
        cors = {access.CORS_ENV} if cfg.portal_origin and declared.browser else set()
        assert variables == powertools | set(access.env_names(declared)) | cors, spec.name
        scheduled = declared.invoked_by == "schedule"
        dlq = p.get("DeadLetterConfig", {}).get("TargetArn")
        expected = arn(engine_synth, d.region, "sqs", queue_name(cfg, SCHEDULED_JOBS_DLQ))
        assert dlq == (expected if scheduled else None), spec.name


def test_the_environment_names_each_regions_own_resources(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    for d in deployed(engine_synth):
        env = d.props["Environment"]["Variables"]
        for table in ALL_TABLES:
            if table.env_var in env:
                assert env[table.env_var] == table_name(cfg, table.logical_name)
        if "RAZORPAY_WEBHOOK_DLQ_URL" in env:
            assert f"https://sqs.{d.region}.amazonaws.com/" in env["RAZORPAY_WEBHOOK_DLQ_URL"]
        if "DB_USER" in env:
            assert env["DB_USER"] == access.DATABASE_USER == "engine_app"
        if "DOCUMENTS_BUCKET" in env:
            assert env["DOCUMENTS_BUCKET"].endswith(f"-{d.region}")
        if d.region == DR_REGION:
            for spec in SECRETS:
                if spec.env_var in env:
                    assert env[spec.env_var] == secret_name(cfg, spec)  # the replica's name


# --------------------------------------------------------------------------- least privilege


def test_dynamodb_access_is_exactly_the_declared_one(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        grants = {g.table.logical_name: g for g in access.ACCESS[d.spec.name].tables}
        for table in ALL_TABLES:
            grant = grants.get(table.logical_name)
            resource = table_arn(engine_synth, d.region, table.logical_name)
            for action in TABLE_ACTIONS:
                expected = grant is not None and f"dynamodb:{action}" in grant.actions
                allowed = d.can(ts, f"dynamodb:{action}", resource)
                assert allowed == expected, (d.region, d.spec.name, table.logical_name, action)
            for index in table.indexes:
                expected = grant is not None and index.name in grant.query_indexes
                allowed = d.can(ts, "dynamodb:Query", f"{resource}/index/{index.name}")
                assert allowed == expected, (d.spec.name, index.name)


def test_the_webhook_cannot_read_sessions(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        if d.spec.name in ("RazorpayWebhook", "RazorpayWebhookReplayer"):
            sessions = table_arn(engine_synth, d.region, "Sessions")
            for action in ("GetItem", "Query", "Scan", "BatchGetItem"):
                assert not d.can(ts, f"dynamodb:{action}", sessions), (d.spec.name, action)


def test_transactions_sync_writes_nothing_to_dynamodb(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        if d.spec.name == "TransactionsSync":
            for table in ALL_TABLES:
                resource = table_arn(engine_synth, d.region, table.logical_name)
                for action in (*WRITES, "ConditionCheckItem", "GetItem", "Query"):
                    assert not d.can(ts, f"dynamodb:{action}", resource), (table, action)


def test_no_function_may_delete_a_record_a_document_or_a_queue(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        for table in ALL_TABLES:
            resource = table_arn(engine_synth, d.region, table.logical_name)
            for action in ("DeleteItem", "BatchWriteItem", "DeleteTable"):
                assert not d.can(ts, f"dynamodb:{action}", resource), (d.spec.name, table)
        bucket = f"arn:aws:s3:::engine-{engine_synth.env_name}-documents-"
        assert not d.can(ts, "s3:DeleteObject", f"{bucket}{engine_synth.cfg.account}-x/receipts/a")
        for queue in (TRANSACTIONS_SYNC_DLQ, RAZORPAY_WEBHOOK_REPLAY):
            name = queue_name(engine_synth.cfg, queue.name)
            assert not d.can(ts, "sqs:DeleteQueue", arn(engine_synth, d.region, "sqs", name))
        for statement in d.statements:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any(a.endswith(":*") or a == "*" for a in actions), statement


def test_each_secret_is_readable_only_by_the_functions_that_declare_it(
    engine_synth: EngineSynth,
) -> None:
    ts = template_set(engine_synth)
    found = list(deployed(engine_synth))
    for region in {d.region for d in found}:
        for spec in SECRETS:
            secret = secret_of(engine_synth, spec, region)
            readers = {
                d.spec.name
                for d in found
                if d.region == region and d.can(ts, "secretsmanager:GetSecretValue", secret)
            }
            declared = {n for n, a in access.ACCESS.items() if spec in a.secrets}
            assert readers == declared, (region, spec.name)


def test_only_portal_sessions_sends_sms(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    senders = {d.spec.name for d in deployed(engine_synth) if d.can(ts, "sns:Publish", "*")}
    assert senders == {"PortalSessions"}


def test_every_key_grant_is_usable_only_through_a_service(engine_synth: EngineSynth) -> None:
    for d in deployed(engine_synth):
        for statement in d.statements:
            actions = json.dumps(statement["Action"])
            if '"kms:' in actions:
                via = statement.get("Condition", {}).get("StringEquals", {})
                assert via.get("kms:ViaService", "").endswith(f".{d.region}.amazonaws.com"), (
                    d.spec.name,
                    statement,
                )


def test_the_database_login_is_engine_app_for_the_functions_that_declare_it(
    engine_synth: EngineSynth,
) -> None:
    for d in deployed(engine_synth):
        connects = [s for s in d.statements if s["Action"] == "rds-db:connect"]
        if access.ACCESS[d.spec.name].database:
            (statement,) = connects
            assert json.dumps(statement["Resource"]).endswith('/engine_app"]]}'), statement
        else:
            assert connects == [], d.spec.name


# --------------------------------------------------------------------------- events


def _rules_and_mappings(synth: EngineSynth, role: str) -> tuple[dict[str, str], dict[str, bool]]:
    resources = synth.templates[role]["Resources"].values()
    rules = {
        r["Properties"]["Name"]: r["Properties"]["State"]
        for r in resources
        if r["Type"] == "AWS::Events::Rule"
    }
    mappings = {
        json.dumps(r["Properties"]["FunctionName"]): r["Properties"]["Enabled"]
        for r in resources
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    return rules, mappings


def _expected_states(synth: EngineSynth, active: bool) -> tuple[dict[str, str], dict[str, bool]]:
    only = {spec.name for spec in declarations.FUNCTIONS if spec.active_region_only}
    rules = {
        rule_name(synth.cfg, s): "ENABLED" if active or s.function not in only else "DISABLED"
        for s in declarations.SCHEDULES
    }
    mappings = {s.function: active or s.function not in only for s in declarations.EVENT_SOURCES}
    return rules, mappings


# Each stream consumer's on-failure destination, as declared.
STREAM_DLQS = {
    s.function: s.on_failure
    for s in declarations.EVENT_SOURCES
    if s.kind == "dynamodb-stream" and s.on_failure
}


def mappings_by_function(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    """The event source mappings of a service template, by the declared function they feed."""
    resources = synth.templates[role]["Resources"]
    names = {function_name(synth.cfg, spec): spec.name for spec in SPECS.values()}
    found = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        target = resources[resource["Properties"]["FunctionName"]["Ref"]]
        found[names[target["Properties"]["FunctionName"]]] = resource
    return found


def _in_region(synth: EngineSynth, role: str) -> tuple[dict[str, str], dict[str, bool]]:
    """A service stack's rules with its Region's API stack's (the pool-bound job's), and its
    mappings by the function they feed."""
    rules, mappings = _rules_and_mappings(synth, role)
    rules |= _rules_and_mappings(synth, API_OF[role])[0]
    return rules, _by_function(synth, role, mappings)


def _by_function(synth: EngineSynth, role: str, mappings: dict[str, bool]) -> dict[str, bool]:
    """Mapping states by the function (a Ref to it in the same template) they feed."""
    template = synth.templates[role]["Resources"]
    names = {
        json.dumps({"Ref": logical_id}): next(
            n
            for n, s in SPECS.items()
            if function_name(synth.cfg, s) == r["Properties"]["FunctionName"]
        )
        for logical_id, r in template.items()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("FunctionName")
        in {function_name(synth.cfg, s) for s in SPECS.values()}
    }
    return {names[ref]: enabled for ref, enabled in mappings.items()}


def test_jobs_and_consumers_run_only_in_the_active_region(engine_synth: EngineSynth) -> None:
    for role, region in SERVICE_ROLES.items():
        if role not in engine_synth.templates:
            continue
        rules, mappings = _in_region(engine_synth, role)
        expected_rules, expected_mappings = _expected_states(
            engine_synth, region == engine_synth.cfg.active_region
        )
        assert rules == expected_rules, role
        assert mappings == expected_mappings, role


@pytest.fixture
def failed_over(engine_prod_failed_over: EngineSynth) -> EngineSynth:
    """Prod after a failover: config names Singapore the active Region."""
    return engine_prod_failed_over


def test_after_a_failover_the_jobs_run_in_singapore_and_mumbai_stops_them(
    failed_over: EngineSynth,
) -> None:
    assert failed_over.cfg.active_region == DR_REGION
    for role, region in SERVICE_ROLES.items():
        rules, mappings = _in_region(failed_over, role)
        expected_rules, expected_mappings = _expected_states(failed_over, region == DR_REGION)
        assert rules == expected_rules, role
        assert mappings == expected_mappings, role
    assert "DISABLED" in _rules_and_mappings(failed_over, "service")[0].values()


def _alarm_names(synth: EngineSynth, role: str) -> list[str]:
    return [
        str(r["Properties"].get("AlarmName", ""))
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_the_standby_alarms_on_no_job_it_does_not_run(
    env_name: str, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    synth = engine_synth_of(env_name)
    jobs = [
        function_name(synth.cfg, s).removeprefix(f"engine-{env_name}-")
        for s in SPECS.values()
        if s.active_region_only
    ]
    # A queue's alarms (its DLQ's depth) stay armed everywhere: a message there is real.
    primary, standby = (
        [n for n in _alarm_names(synth, role) if "-dlq-" not in n]
        for role in ("monitoring", "dr-monitoring")
    )
    for job in jobs:
        assert any(job in name for name in primary), job
        assert not any(job in name for name in standby), job
    assert any("transactions-sync" in n and "Iterator" in n for n in primary), primary
    # The API functions run in both Regions, and alarm in both.
    assert any("razorpay-webhook" in n for n in standby)


def test_asynchronous_sources_fail_into_dlqs(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    for role, region in SERVICE_ROLES.items():
        if role not in engine_synth.templates:
            continue
        resources = [
            *engine_synth.templates[role]["Resources"].values(),
            *engine_synth.templates[API_OF[role]]["Resources"].values(),
        ]
        jobs_dlq = arn(engine_synth, region, "sqs", queue_name(cfg, SCHEDULED_JOBS_DLQ))
        for rule in (r["Properties"] for r in resources if r["Type"] == "AWS::Events::Rule"):
            (target,) = rule["Targets"]
            assert target["DeadLetterConfig"] == {"Arn": jobs_dlq}
            assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        streams = {
            function: r["Properties"]
            for function, r in mappings_by_function(engine_synth, role).items()
            if "StartingPosition" in r["Properties"]
        }
        assert set(streams) == set(STREAM_DLQS), role
        for function, stream in streams.items():
            dlq = arn(engine_synth, region, "sqs", queue_name(cfg, STREAM_DLQS[function]))
            assert stream["DestinationConfig"] == {"OnFailure": {"Destination": dlq}}, function
            assert stream["BisectBatchOnFunctionError"] is True
            assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert stream["StartingPosition"] == "TRIM_HORIZON"
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        queue = STREAM_DLQS.get(d.spec.name)
        if access.ACCESS[d.spec.name].invoked_by == "schedule":
            queue = SCHEDULED_JOBS_DLQ
        if queue is not None:
            queue_arn = arn(engine_synth, d.region, "sqs", queue_name(cfg, queue))
            assert d.can(ts, "sqs:SendMessage", queue_arn), d.spec.name


# AWS's guidance for a queue that feeds a Lambda event source: a visibility timeout of at
# least six times the function's timeout, so a batch whose invocation is retried after a
# throttle or an error is not delivered to a second invocation meanwhile.
VISIBILITY_PER_TIMEOUT = 6


def test_every_sqs_event_source_is_declared_with_six_times_its_functions_timeout() -> None:
    queues = {q.name: q for q in QUEUES}
    specs = {spec.name: spec for spec in declarations.FUNCTIONS}
    sqs_sources = [s for s in declarations.EVENT_SOURCES if s.kind == "sqs"]
    assert sqs_sources, "no SQS event source declared"
    for source in sqs_sources:
        visibility = queues[source.source].visibility_timeout_seconds
        timeout = specs[source.function].timeout_seconds
        assert visibility >= VISIBILITY_PER_TIMEOUT * timeout, (source.source, visibility, timeout)


def test_every_deployed_sqs_mapping_has_six_times_its_functions_timeout(
    engine_synth: EngineSynth,
) -> None:
    visibility = {
        r["Properties"]["QueueName"]: r["Properties"].get("VisibilityTimeout", 30)
        for template in engine_synth.templates.values()
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue" and isinstance(r["Properties"].get("QueueName"), str)
    }
    checked = 0
    for role in SERVICE_ROLES:
        resources = engine_synth.templates.get(role, {}).get("Resources", {})
        for mapping in resources.values():
            props = mapping["Properties"] if mapping["Type"].endswith("EventSourceMapping") else {}
            source = props.get("EventSourceArn")
            if not (isinstance(source, str) and source.startswith("arn:aws:sqs:")):
                continue
            function = resources[props["FunctionName"]["Ref"]]["Properties"]
            queue = source.rsplit(":", 1)[1]
            assert visibility[queue] >= VISIBILITY_PER_TIMEOUT * function["Timeout"], (role, queue)
            checked += 1
    assert checked == len([s for s in declarations.EVENT_SOURCES if s.kind == "sqs"]) * len(
        [r for r in SERVICE_ROLES if r in engine_synth.templates]
    )


def test_reserved_concurrency_is_configured_for_every_service_function() -> None:
    for cfg in engine_config.ENVIRONMENTS.values():
        assert set(cfg.reserved_concurrency) == set(SPECS), cfg.env_name


def test_the_standby_reads_the_replicas_stream_found_at_deploy_time(
    engine_synth_of: Callable[[str], EngineSynth],
) -> None:
    synth = engine_synth_of("prod")
    resources = synth.templates["dr-service"]["Resources"]
    (lookup_id,) = [k for k, r in resources.items() if r["Type"] == "Custom::LatestStreamArn"]
    assert resources[lookup_id]["Properties"]["TableName"] == "engine-prod-transactions"
    stream = mappings_by_function(synth, "dr-service")["TransactionsSync"]["Properties"]
    assert stream["EventSourceArn"] == {"Fn::GetAtt": [lookup_id, "StreamArn"]}
    primary = mappings_by_function(synth, "service")["TransactionsSync"]["Properties"]
    assert "Fn::ImportValue" in primary["EventSourceArn"]  # the data stack's own stream


def test_the_stream_lookup_handler_answers_cloudformation(tmp_path: Path) -> None:
    """The inline handler against moto: the stream's ARN on Create, success on Delete, and a
    FAILED answer (never silence) for a table without a stream."""
    import boto3
    from moto import mock_aws

    from cdk_constructs.handlers import latest_stream_arn
    from engine.tables import SESSIONS, TRANSACTIONS

    answers: list[dict[str, Any]] = []

    class Context:
        log_stream_name = "stream"

    def event(request: str, table: str) -> dict[str, Any]:
        return {
            "RequestType": request,
            "ResourceProperties": {"TableName": table},
            "ResponseURL": "https://example.invalid/response",
            "StackId": "stack",
            "RequestId": "request",
            "LogicalResourceId": "Lookup",
        }

    with (
        mock_aws(),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setattr(latest_stream_arn, "answer", lambda _event, outcome: answers.append(outcome))
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**TRANSACTIONS.create_table_kwargs("with-stream"))
        client.create_table(**SESSIONS.create_table_kwargs("without-stream"))
        latest_stream_arn.handler(event("Create", "with-stream"), Context())
        latest_stream_arn.handler(event("Create", "without-stream"), Context())
        latest_stream_arn.handler(
            event("Delete", "with-stream") | {"PhysicalResourceId": "x"}, Context()
        )
    created, refused, deleted = answers
    assert created["Status"] == "SUCCESS"
    assert created["Data"]["StreamArn"].startswith("arn:aws:dynamodb:")
    assert created["PhysicalResourceId"] == created["Data"]["StreamArn"]
    assert refused["Status"] == "FAILED" and "has no stream" in refused["Reason"]
    assert deleted == {
        "Status": "SUCCESS",
        "Reason": "see log stream stream",
        "PhysicalResourceId": "x",
        "Data": {},
    }


def test_browser_answers_name_the_portal_origin_only_where_one_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared import api

    monkeypatch.delenv(access.CORS_ENV, raising=False)
    assert "Access-Control-Allow-Origin" not in api.response(200, {})["headers"]
    monkeypatch.setenv(access.CORS_ENV, "https://portal.example.in")
    for answer in (api.response(200, {}), api.binary_response(200, b"%PDF", None)):
        assert answer["headers"]["Access-Control-Allow-Origin"] == "https://portal.example.in"
        assert answer["headers"]["Vary"] == "Origin"
    browser = {name for name, a in access.ACCESS.items() if a.browser}
    assert browser == {"PortalSessions", "PortalLoans", "PortalPayments", "PortalReceipts"}
