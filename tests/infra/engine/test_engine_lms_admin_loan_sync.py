"""The staff's LMS-posting routes (InternalLms) and the nightly loan sync (LoanSync), read off
every environment's synthesized templates.

InternalLms serves the internal API's three LMS routes in both Regions, each behind the staff
pool's Cognito authorizer (the internal API refuses any other auth="none" route than
/health), with the request models the handler parses; its role reaches exactly the items its
code touches (TransactionQueue by StatusIndex and UpdateItem, the Transactions UpdateItem of
a resolve, the audit chain's append and anchor, its caller's users row as engine_app) and
nothing else. LoanSync runs nightly only in the
active Region, logs in to PostgreSQL as engine_app, reads the LMS secret and touches no table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.engine import DR_REGION, REGION
from engine.declarations import INTERNAL_LMS, INTERNAL_ROUTES, LOAN_SYNC, SCHEDULES
from engine.models.lms_admin import RESOLVE_POSTING, RETRY_POSTING
from engine.tables import ALL_TABLES, AUDIT, TRANSACTION_QUEUE, TRANSACTIONS
from shared.declarations import Route
from stacks.engine import access
from stacks.engine.dr import standby_rules
from stacks.engine.functions import function_name
from stacks.engine.regional import rule_name, table_name
from stacks.engine.secrets import LMS_CLIENT, SECRETS
from tests.infra.engine.test_engine_service import (
    TABLE_ACTIONS,
    Deployed,
    deployed,
    secret_of,
    table_arn,
)
from tests.infra.engine_synth import EngineSynth
from tests.infra.policy_eval import template_set

API_ROLES = {"api": REGION, "dr-api": DR_REGION}
LMS_ROUTES = {
    "GET /api/v1/lms/postings": None,
    "POST /api/v1/lms/postings/{transaction_id}/retry": RETRY_POSTING,
    "POST /api/v1/lms/postings/{transaction_id}/resolve": RESOLVE_POSTING,
}
# engine.dal.ddb.intervention, as IAM names it: the brief the declaration is held to. The
# audit append reads its chain's head and writes the head and the record (engine.dal.ddb.audit).
INTERNAL_LMS_TABLES = {
    TRANSACTION_QUEUE.logical_name: {"UpdateItem"},
    AUDIT.logical_name: {"GetItem", "PutItem", "UpdateItem"},
    TRANSACTIONS.logical_name: {"UpdateItem"},
}
INTERNAL_LMS_INDEXES = {f"{TRANSACTION_QUEUE.logical_name}/StatusIndex"}
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}


def _one(synth: EngineSynth, name: str) -> Iterator[Deployed]:
    found = [d for d in deployed(synth) if d.spec.name == name]
    regions = (REGION, DR_REGION) if synth.cfg.dr_enabled else (REGION,)
    assert sorted(d.region for d in found) == sorted(regions), name
    return iter(found)


def _actions(d: Deployed) -> set[str]:
    return {
        action
        for statement in d.statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }


# --------------------------------------------------------------------------- the routes


def _internal_methods(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    """The internal API's methods of an api template, by "METHOD /path"."""
    resources = synth.templates[role]["Resources"]
    name = synth.cfg.resource_name("internal-api")
    (api_id,) = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::ApiGateway::RestApi" and r["Properties"]["Name"] == name
    ]
    methods = {}
    for resource in resources.values():
        props = resource["Properties"]
        if resource["Type"] != "AWS::ApiGateway::Method" or props["RestApiId"] != {"Ref": api_id}:
            continue
        parts: list[str] = []
        parent = props["ResourceId"]
        while "Ref" in parent:
            path_resource = resources[parent["Ref"]]["Properties"]
            parts.insert(0, path_resource["PathPart"])
            parent = path_resource["ParentId"]
        methods[f"{props['HttpMethod']} /{'/'.join(parts)}"] = props
    return methods


def _api_roles(synth: EngineSynth) -> dict[str, str]:
    return {role: region for role, region in API_ROLES.items() if role in synth.templates}


def test_the_lms_routes_are_declared_for_staff_only() -> None:
    declared = {f"{r.method} {r.path}": r for r in INTERNAL_ROUTES}
    assert set(LMS_ROUTES) <= set(declared)
    for key, shape in LMS_ROUTES.items():
        route = declared[key]
        assert (route.function, route.auth) == (INTERNAL_LMS.name, "cognito"), key
        assert route.request_model == (shape.gateway_model() if shape else None), key
        assert 401 in route.responses and 400 in route.responses, key
    assert [k for k, r in declared.items() if r.auth == "none"] == ["GET /health"]


def test_the_lms_routes_are_cognito_authorized_and_served_by_internal_lms(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    target = function_name(cfg, INTERNAL_LMS)
    for role, region in _api_roles(engine_synth).items():
        resources = engine_synth.templates[role]["Resources"]
        methods = _internal_methods(engine_synth, role)
        (pool_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::Cognito::UserPool"]
        for key, shape in LMS_ROUTES.items():
            method = methods[key]
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", (role, key)
            authorizer = resources[method["AuthorizerId"]["Ref"]]["Properties"]
            assert authorizer["Type"] == "COGNITO_USER_POOLS"
            assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
            assert "ApiKeyRequired" not in method
            integration = method["Integration"]
            assert (integration["Type"], integration["IntegrationHttpMethod"]) == (
                "AWS_PROXY",
                "POST",
            )
            assert f":{region}:{cfg.account}:function:{target}/invocations" in json.dumps(
                integration["Uri"]
            ), (role, key)
            if shape is None:
                assert "RequestModels" not in method, key
            else:
                model = resources[method["RequestModels"]["application/json"]["Ref"]]
                assert model["Properties"]["Name"] == shape.title
                assert model["Properties"]["Schema"] == shape.gateway_model()
                assert "RequestValidatorId" in method
        # Nothing on the internal API but /health skips the staff authorizer.
        public = sorted(
            k for k, m in methods.items() if m["AuthorizationType"] != "COGNITO_USER_POOLS"
        )
        assert public == ["GET /health"], role


def test_only_the_internal_api_may_invoke_internal_lms_on_its_own_routes(
    engine_synth: EngineSynth,
) -> None:
    target = function_name(engine_synth.cfg, INTERNAL_LMS)
    for role in _api_roles(engine_synth):
        resources = engine_synth.templates[role]["Resources"]
        permissions = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and str(r["Properties"]["FunctionName"]).endswith(f":function:{target}")
        ]
        routes = sorted(json.dumps(p["SourceArn"]).split("/", 2)[-1] for p in permissions)
        assert routes == sorted(
            [
                'GET/api/v1/lms/postings"]]}',
                'POST/api/v1/lms/postings/*/resolve"]]}',
                'POST/api/v1/lms/postings/*/retry"]]}',
            ]
        ), role
        for permission in permissions:
            assert permission["Principal"] == "apigateway.amazonaws.com"
            assert permission["Action"] == "lambda:InvokeFunction"


def test_the_internal_api_refuses_an_unauthenticated_lms_route(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from config import load_engine
    from stacks.engine import api as api_module
    from tests.infra.engine.test_engine_api import _app, _build

    exposed = tuple(
        Route(r.method, r.path, r.function, auth="none", summary=r.summary)
        if r.function == INTERNAL_LMS.name
        else r
        for r in INTERNAL_ROUTES
    )
    outdir = tmp_path_factory.mktemp("internal-api-refused")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_module, "INTERNAL_ROUTES", exposed)
        with pytest.raises(ValueError, match="only GET /health may skip the staff authorizer"):
            _build(_app(outdir), outdir, load_engine("dev"), "api")


# --------------------------------------------------------------------------- InternalLms


def test_internal_lms_is_granted_exactly_what_the_intervention_store_calls(
    engine_synth: EngineSynth,
) -> None:
    ts = template_set(engine_synth)
    for d in _one(engine_synth, INTERNAL_LMS.name):
        for table in ALL_TABLES:
            resource = table_arn(engine_synth, d.region, table.logical_name)
            allowed = {a for a in TABLE_ACTIONS if d.can(ts, f"dynamodb:{a}", resource)}
            assert allowed == INTERNAL_LMS_TABLES.get(table.logical_name, set()), (
                d.region,
                table.logical_name,
            )
            for index in table.indexes:
                queryable = d.can(ts, "dynamodb:Query", f"{resource}/index/{index.name}")
                wanted = f"{table.logical_name}/{index.name}" in INTERNAL_LMS_INDEXES
                assert queryable == wanted, (d.region, table.logical_name, index.name)
        # No secret, queue, bus, documents or SMS: DynamoDB, the anchors' PutObject (and the
        # data key through either), the caller's lookup in PostgreSQL, its logs.
        for spec in SECRETS:
            secret = secret_of(engine_synth, spec, d.region)
            assert not d.can(ts, "secretsmanager:GetSecretValue", secret), spec.name
        services = {a.split(":")[0] for a in _actions(d)}
        assert services <= {"dynamodb", "kms", "logs", "ec2", "xray", "s3", "rds-db"}, services
        assert {a for a in _actions(d) if a.startswith("s3:")} == {"s3:PutObject"}
        assert "rds-db:connect" in _actions(d)


def test_internal_lms_is_an_api_function_with_the_tables_it_names(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    for d in _one(engine_synth, INTERNAL_LMS.name):
        env = d.props["Environment"]["Variables"]
        assert set(env) - POWERTOOLS == {
            "TRANSACTION_QUEUE_TABLE",
            "AUDIT_TABLE",
            "TRANSACTIONS_TABLE",
            "AUDIT_ANCHOR_BUCKET",
            *access.DATABASE_ENV,
        }
        for spec in (TRANSACTION_QUEUE, AUDIT, TRANSACTIONS):
            assert env[spec.env_var] == table_name(cfg, spec.logical_name)
        # Synchronous only (API Gateway): no DLQ, no schedule, no event source.
        assert "DeadLetterConfig" not in d.props
        assert (d.props["MemorySize"], d.props["Timeout"]) == (512, 10)
        assert d.props["ReservedConcurrentExecutions"] == cfg.reserved_concurrency["InternalLms"]
        # The internal engine's log retention (the platform's 90 days, every environment).
        log_group_id = d.props["LoggingConfig"]["LogGroup"]["Ref"]
        log_group = engine_synth.templates[d.role]["Resources"][log_group_id]["Properties"]
        assert cfg.internal_log_retention.value == "THREE_MONTHS"
        assert log_group["RetentionInDays"] == 90
    assert access.ACCESS[INTERNAL_LMS.name].invoked_by == "api"


# --------------------------------------------------------------------------- LoanSync


def _rules(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    }


def _assert_loan_sync_runs_only_in(synth: EngineSynth, active: str) -> None:
    cfg = synth.cfg
    (schedule,) = [s for s in SCHEDULES if s.function == LOAN_SYNC.name]
    name = rule_name(cfg, schedule)
    for role, region in (("service", REGION), ("dr-service", DR_REGION)):
        if role not in synth.templates:
            continue
        rule = _rules(synth, role)[name]
        assert rule["ScheduleExpression"] == "cron(30 20 * * ? *)"  # 02:00 IST
        assert rule["State"] == ("ENABLED" if region == active else "DISABLED"), role
        (target,) = rule["Targets"]
        resources = synth.templates[role]["Resources"]
        function = resources[target["Arn"]["Fn::GetAtt"][0]]["Properties"]
        assert function["FunctionName"] == function_name(cfg, LOAN_SYNC)
        dlq = f"arn:aws:sqs:{region}:{cfg.account}:{cfg.resource_name('scheduled-jobs-dlq')}"
        assert target["DeadLetterConfig"] == {"Arn": dlq}


def test_loan_sync_runs_nightly_only_in_the_active_region(engine_synth: EngineSynth) -> None:
    _assert_loan_sync_runs_only_in(engine_synth, engine_synth.cfg.active_region)


def test_after_a_failover_the_loan_sync_runs_in_singapore(
    engine_prod_failed_over: EngineSynth, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    _assert_loan_sync_runs_only_in(engine_prod_failed_over, DR_REGION)
    # The runbook switches it on with the other jobs.
    cfg = engine_synth_of("prod").cfg
    (schedule,) = [s for s in SCHEDULES if s.function == LOAN_SYNC.name]
    assert rule_name(cfg, schedule) in standby_rules(cfg)


def test_loan_sync_logs_in_as_engine_app_reads_the_lms_secret_and_no_table(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    ts = template_set(engine_synth)
    for d in _one(engine_synth, LOAN_SYNC.name):
        env = d.props["Environment"]["Variables"]
        assert set(env) - POWERTOOLS == {
            "LMS_SECRET_ARN",
            "LMS_BASE_URL",
            "LMS_TIMEOUT_SECONDS",
            *access.DATABASE_ENV,
        }
        assert env["DB_USER"] == "engine_app"
        assert env["LMS_BASE_URL"] == cfg.lms_base_url
        assert env["LMS_TIMEOUT_SECONDS"] == str(cfg.lms_timeout_seconds)
        (connect,) = [s for s in d.statements if s["Action"] == "rds-db:connect"]
        assert json.dumps(connect["Resource"]).endswith('/engine_app"]]}'), connect
        # The LMS client's credentials, and no other secret.
        for spec in SECRETS:
            secret = secret_of(engine_synth, spec, d.region)
            readable = d.can(ts, "secretsmanager:GetSecretValue", secret)
            assert readable is (spec is LMS_CLIENT), (d.region, spec.name)
        # No DynamoDB at all: no table, index or stream action of any kind.
        assert not any(a.startswith("dynamodb:") for a in _actions(d)), _actions(d)
        for table in ALL_TABLES:
            resource = table_arn(engine_synth, d.region, table.logical_name)
            for action in TABLE_ACTIONS:
                assert not d.can(ts, f"dynamodb:{action}", resource), (table.logical_name, action)
        services = {a.split(":")[0] for a in _actions(d)}
        assert services <= {"rds-db", "secretsmanager", "kms", "sqs", "logs", "ec2", "xray"}


def test_loan_sync_is_a_job_of_the_convention(engine_synth: EngineSynth) -> None:
    """512 MB, 15 minutes (it stops between pages before its time is up), one run at a time,
    and the scheduled jobs' DLQ for an invocation that still fails."""
    for d in _one(engine_synth, LOAN_SYNC.name):
        assert (d.props["MemorySize"], d.props["Timeout"]) == (512, 900)
        assert d.props["ReservedConcurrentExecutions"] == 1
        assert d.props["DeadLetterConfig"]["TargetArn"].endswith("-scheduled-jobs-dlq")
    assert LOAN_SYNC.active_region_only
