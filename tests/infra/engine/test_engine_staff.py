"""The staff engine's deployment (issue 15), read off every environment's synthesized templates.

The staff pool's post-authentication trigger is StaffSignIn, wired where the pool is defined
and invocable by that pool alone; the functions that name the pool are built beside it. The
audit anchor bucket has Object Lock in COMPLIANCE mode for config's retention, in both
Regions where DR is on, and replicates with its locks. Each new function's role allows
exactly what its code calls (evaluated as IAM would, tests/infra/policy_eval.py), HrmsSync
runs nightly only in the active Region and its failures alarm there, and `make deploy`
refuses an HRMS placeholder as it refuses the LMS's.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import aws_cdk as cdk
import pytest

from config import ConfigError
from config import engine as engine_config
from config.engine import DR_REGION, REGION
from engine import declarations as fn
from engine.tables import ALL_TABLES, AUDIT, COUNTERS, TRANSACTION_QUEUE, TRANSACTIONS
from stacks.engine import access
from stacks.engine.dr import standby_rules
from stacks.engine.functions import function_name
from stacks.engine.regional import rule_name
from stacks.engine.secrets import HRMS_CLIENT, SECRETS
from stacks.engine.storage import AUDIT_ANCHORS, bucket_name
from tests.infra.engine.test_engine_lms_admin_loan_sync import POWERTOOLS, _internal_methods
from tests.infra.engine.test_engine_service import (
    TABLE_ACTIONS,
    Deployed,
    deployed,
    secret_of,
    table_arn,
)
from tests.infra.engine_synth import EngineSynth
from tests.infra.policy_eval import Ref, Request, TemplateSet, allows, template_set

API_ROLES = {"api": REGION, "dr-api": DR_REGION}
STORAGE_ROLES = {"storage": REGION, "dr-storage": DR_REGION}
AUDIT_APPEND = {"GetItem", "PutItem", "UpdateItem"}
# Each function's DynamoDB access as its code makes it (table -> IAM actions), the indexes
# it may query, its anchor bucket actions, its staff pool actions: the brief each
# declaration is held to.
TABLES: dict[str, dict[str, set[str]]] = {
    fn.INTERNAL_COLLECTIONS.name: {
        TRANSACTIONS.logical_name: {"PutItem", "UpdateItem"},
        TRANSACTION_QUEUE.logical_name: {"PutItem"},
        COUNTERS.logical_name: {"GetItem", "UpdateItem"},
        AUDIT.logical_name: AUDIT_APPEND,
    },
    fn.INTERNAL_DCR.name: {AUDIT.logical_name: AUDIT_APPEND},
    fn.INTERNAL_AUDIT.name: {AUDIT.logical_name: {"Query"}},
    fn.INTERNAL_USERS.name: {AUDIT.logical_name: AUDIT_APPEND},
    fn.STAFF_SIGN_IN.name: {AUDIT.logical_name: AUDIT_APPEND},
    fn.HRMS_SYNC.name: {AUDIT.logical_name: AUDIT_APPEND},
    fn.TRANSACTIONS_REPAIR.name: {
        TRANSACTIONS.logical_name: {"BatchGetItem", "PutItem", "UpdateItem"},
        TRANSACTION_QUEUE.logical_name: {"PutItem"},
        COUNTERS.logical_name: {"UpdateItem"},
        AUDIT.logical_name: AUDIT_APPEND,
    },
}
INDEXES = {
    fn.INTERNAL_AUDIT.name: {"Audit/ActorIndex", "Audit/ChainIndex"},
    fn.TRANSACTIONS_REPAIR.name: {"Transactions/StatusIndex"},
}
READ_ANCHORS = {"s3:ListBucketVersions", "s3:GetObjectVersion"}
ANCHORS = {name: {"s3:PutObject"} for name in TABLES} | {fn.INTERNAL_AUDIT.name: READ_ANCHORS}
POOL = {
    fn.INTERNAL_USERS.name: {
        "cognito-idp:AdminListGroupsForUser",
        "cognito-idp:AdminAddUserToGroup",
        "cognito-idp:AdminRemoveUserFromGroup",
    },
    fn.HRMS_SYNC.name: {"cognito-idp:AdminDisableUser", "cognito-idp:AdminCreateUser"},
}
S3_ACTIONS = (
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucketVersions",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketObjectLockConfiguration",
)
COGNITO_ACTIONS = (
    *sorted({a for actions in POOL.values() for a in actions}),
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminInitiateAuth",
    "cognito-idp:UpdateUserPool",
)
# The variables each new function is given beyond its tables' and PostgreSQL's.
EXTRA_ENV = {
    fn.INTERNAL_COLLECTIONS.name: {
        "AUDIT_ANCHOR_BUCKET",
        "CASH_LIMIT_PER_PAYER_PER_DAY",
        "COLLECTION_MAX_AGE_DAYS",
    },
    fn.INTERNAL_DCR.name: {"AUDIT_ANCHOR_BUCKET"},
    fn.INTERNAL_AUDIT.name: {"AUDIT_ANCHOR_BUCKET"},
    fn.INTERNAL_USERS.name: {"AUDIT_ANCHOR_BUCKET", "STAFF_USER_POOL_ID"},
    fn.STAFF_SIGN_IN.name: {"AUDIT_ANCHOR_BUCKET"},
    fn.HRMS_SYNC.name: {
        "AUDIT_ANCHOR_BUCKET",
        "STAFF_USER_POOL_ID",
        "HRMS_SECRET_ARN",
        "HRMS_BASE_URL",
        "HRMS_TIMEOUT_SECONDS",
    },
}
NEW = tuple(EXTRA_ENV)
SPECS = {spec.name: spec for spec in fn.FUNCTIONS}


def _of(synth: EngineSynth, name: str) -> list[Deployed]:
    found = [d for d in deployed(synth) if d.spec.name == name]
    regions = (REGION, DR_REGION) if synth.cfg.dr_enabled else (REGION,)
    assert sorted(d.region for d in found) == sorted(regions), name
    return found


def _pool(templates: Mapping[str, dict[str, Any]], role: str) -> tuple[str, dict[str, Any]]:
    """The staff pool of an API template: its logical id and properties."""
    resources = templates[role]["Resources"]
    ((pool_id, pool),) = [
        (k, r["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::Cognito::UserPool"
    ]
    return pool_id, pool


def _function_id(synth: EngineSynth, role: str, name: str) -> str:
    (found,) = [
        k
        for k, r in synth.templates[role]["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("FunctionName") == function_name(synth.cfg, SPECS[name])
    ]
    return found


def _api_roles(synth: EngineSynth) -> dict[str, str]:
    return {role: region for role, region in API_ROLES.items() if role in synth.templates}


def _anchor_bucket(synth: EngineSynth, region: str) -> str:
    return f"arn:aws:s3:::{bucket_name(synth.cfg, AUDIT_ANCHORS, region)}"


# --------------------------------------------------------------------------- the trigger


def test_staff_sign_in_is_the_pools_post_authentication_trigger_and_only_it_may_invoke_it(
    engine_synth: EngineSynth,
) -> None:
    for role in _api_roles(engine_synth):
        resources = engine_synth.templates[role]["Resources"]
        pool_id, pool = _pool(engine_synth.templates, role)
        sign_in = _function_id(engine_synth, role, fn.STAFF_SIGN_IN.name)
        assert pool["LambdaConfig"] == {"PostAuthentication": {"Fn::GetAtt": [sign_in, "Arn"]}}
        permissions = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and json.dumps(r["Properties"]["FunctionName"]).count(sign_in)
        ]
        assert permissions == [
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [sign_in, "Arn"]},
                "Principal": "cognito-idp.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [pool_id, "Arn"]},
            }
        ], role
        # Cognito invokes nothing else of the engine.
        cognito = [
            r["Properties"]
            for t in engine_synth.templates.values()
            for r in t["Resources"].values()
            if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
        ]
        assert len(cognito) == len(_api_roles(engine_synth))


def test_the_functions_that_name_the_pool_are_built_beside_it_and_given_its_id(
    engine_synth: EngineSynth,
) -> None:
    beside = {name for name in access.ACCESS if access.beside_the_pool(name)}
    assert beside == {fn.INTERNAL_USERS.name, fn.HRMS_SYNC.name, fn.STAFF_SIGN_IN.name}
    for name in beside:
        for d in _of(engine_synth, name):
            assert d.role in API_ROLES, (name, d.role)
            env = d.props["Environment"]["Variables"]
            pool_id, _ = _pool(engine_synth.templates, d.role)
            if access.ACCESS[name].staff_pool:
                assert env[access.STAFF_POOL_ENV] == {"Ref": pool_id}
            else:
                assert access.STAFF_POOL_ENV not in env
    # Nothing else may be built there, and the service stacks hold none of these.
    for role in ("service", "dr-service"):
        names = {
            r["Properties"].get("FunctionName")
            for r in engine_synth.templates.get(role, {"Resources": {}})["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
        }
        assert not names & {function_name(engine_synth.cfg, SPECS[n]) for n in beside}


# --------------------------------------------------------------------------- the anchors


def _buckets(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["BucketName"]: r
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and isinstance(r["Properties"].get("BucketName"), str)
    }


def test_the_anchor_bucket_locks_every_version_for_configs_retention_in_each_region(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    days = 8 * 365 if cfg.env_name in ("staging", "prod") else 1
    assert cfg.audit_anchor_retention_days == days
    for role, region in STORAGE_ROLES.items():
        if role not in engine_synth.templates:
            continue
        bucket = _buckets(engine_synth, role)[bucket_name(cfg, AUDIT_ANCHORS, region)]
        props = bucket["Properties"]
        assert props["ObjectLockEnabled"] is True
        assert props["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}},
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "LoggingConfiguration" in props
        # Kept where data is kept, gone with dev's stack; a rolled-back first create deletes
        # it (empty then: Object Lock holds versions, not the bucket). A replacement keeps
        # the old one (CloudFormation's UpdateReplacePolicy has no RetainExceptOnCreate).
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == (
            ("RetainExceptOnCreate", "Retain") if cfg.retain_data else ("Delete", "Delete")
        )
        (rule,) = props["LifecycleConfiguration"]["Rules"]
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": days}
        assert "ExpirationInDays" not in rule


def test_the_anchors_replicate_with_their_locks_where_dr_is_on(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    source = _buckets(engine_synth, "storage")[bucket_name(cfg, AUDIT_ANCHORS, cfg.region)]
    if not cfg.dr_enabled:
        assert "ReplicationConfiguration" not in source["Properties"]
        return
    (rule,) = source["Properties"]["ReplicationConfiguration"]["Rules"]
    replica = bucket_name(cfg, AUDIT_ANCHORS, cfg.dr_region)
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{replica}"
    assert replica in _buckets(engine_synth, "dr-storage")
    # S3 reads each source version's lock to give its replica the same.
    ts = template_set(engine_synth)
    role_ref = ts.resolve("storage", source["Properties"]["ReplicationConfiguration"]["Role"])
    assert isinstance(role_ref, Ref)
    statements = ts.identity_statements(role_ref)
    obj = f"{_anchor_bucket(engine_synth, cfg.region)}/audit-anchors/2026-12-04/HO.json"
    for action in ("s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:ReplicateObject"):
        target = obj if action != "s3:ReplicateObject" else obj.replace(cfg.region, cfg.dr_region)
        assert allows(ts, statements, Request(action, target), "storage"), action
    assert not allows(ts, statements, Request("s3:PutObjectRetention", obj), "storage")


# --------------------------------------------------------------------------- least privilege


def _table_access(ts: TemplateSet, synth: EngineSynth, d: Deployed) -> dict[str, set[str]]:
    found = {}
    for table in ALL_TABLES:
        resource = table_arn(synth, d.region, table.logical_name)
        allowed = {a for a in TABLE_ACTIONS if d.can(ts, f"dynamodb:{a}", resource)}
        if allowed:
            found[table.logical_name] = allowed
    return found


def _indexes(ts: TemplateSet, synth: EngineSynth, d: Deployed) -> set[str]:
    return {
        f"{table.logical_name}/{index.name}"
        for table in ALL_TABLES
        for index in table.indexes
        if d.can(
            ts,
            "dynamodb:Query",
            f"{table_arn(synth, d.region, table.logical_name)}/index/{index.name}",
        )
    }


def _anchor_access(ts: TemplateSet, synth: EngineSynth, d: Deployed) -> set[str]:
    """What the role may do to a day's anchor (or list, for the anchors' prefix)."""
    bucket = _anchor_bucket(synth, d.region)
    found = set()
    for action in S3_ACTIONS:
        if action.startswith("s3:List"):
            allowed = d.can(ts, action, bucket, **{"s3:prefix": "audit-anchors/2026-12-04/"})
        else:
            allowed = d.can(ts, action, f"{bucket}/audit-anchors/2026-12-04/CH001.json")
        if allowed:
            found.add(action)
    return found


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_staff_engine_function_may_do_exactly_what_its_code_calls(
    engine_synth: EngineSynth, name: str
) -> None:
    ts = template_set(engine_synth)
    for d in _of(engine_synth, name):
        assert _table_access(ts, engine_synth, d) == TABLES[name], d.region
        assert _indexes(ts, engine_synth, d) == INDEXES.get(name, set()), d.region
        assert _anchor_access(ts, engine_synth, d) == ANCHORS[name], d.region
        # Only the anchors' prefix, only this Region's bucket; no other bucket's objects.
        other = f"{_anchor_bucket(engine_synth, d.region)}/receipts/x.pdf"
        assert not d.can(ts, "s3:PutObject", other) and not d.can(ts, "s3:GetObject", other)
        elsewhere = DR_REGION if d.region == REGION else REGION
        away = f"{_anchor_bucket(engine_synth, elsewhere)}/audit-anchors/2026-12-04/HO.json"
        assert not d.can(ts, "s3:PutObject", away)
        if READ_ANCHORS & ANCHORS[name]:
            bucket = _anchor_bucket(engine_synth, d.region)
            assert not d.can(ts, "s3:ListBucketVersions", bucket, **{"s3:prefix": "x/"})
        # The staff pool's calls, on this Region's pool only.
        pool = {a for a in COGNITO_ACTIONS if d.role in API_ROLES and _pool_allows(ts, d, a)}
        assert pool == POOL.get(name, set()), d.region
        # Every one logs in to PostgreSQL as engine_app.
        (connect,) = [s for s in d.statements if s["Action"] == "rds-db:connect"]
        assert json.dumps(connect["Resource"]).endswith('/engine_app"]]}'), connect


def _pool_allows(ts: TemplateSet, d: Deployed, action: str) -> bool:
    pool_id, _ = _pool(ts.templates, d.role)
    return d.can(ts, action, Ref(d.role, pool_id))


def test_no_service_function_may_call_the_staff_pool(engine_synth: EngineSynth) -> None:
    for d in deployed(engine_synth):
        actions = json.dumps([s["Action"] for s in d.statements])
        if d.spec.name not in POOL:
            assert "cognito-idp:" not in actions, d.spec.name


def test_only_hrms_sync_reads_the_hrms_secret(engine_synth: EngineSynth) -> None:
    ts = template_set(engine_synth)
    for d in deployed(engine_synth):
        readable = {
            spec.name
            for spec in SECRETS
            if d.can(ts, "secretsmanager:GetSecretValue", secret_of(engine_synth, spec, d.region))
        }
        assert (HRMS_CLIENT.name in readable) is (d.spec.name == fn.HRMS_SYNC.name), d.spec.name
        if d.spec.name == fn.HRMS_SYNC.name:
            assert readable == {HRMS_CLIENT.name}


@pytest.mark.parametrize("name", NEW)
def test_each_new_function_is_given_exactly_the_settings_it_reads(
    engine_synth: EngineSynth, name: str
) -> None:
    cfg = engine_synth.cfg
    tables = {spec.env_var for spec in ALL_TABLES if spec.logical_name in TABLES[name]}
    for d in _of(engine_synth, name):
        env = d.props["Environment"]["Variables"]
        assert set(env) - POWERTOOLS == tables | set(access.DATABASE_ENV) | EXTRA_ENV[name]
        assert env["AUDIT_ANCHOR_BUCKET"] == bucket_name(cfg, AUDIT_ANCHORS, d.region)
        assert d.props["ReservedConcurrentExecutions"] == cfg.reserved_concurrency[name]
        if name == fn.INTERNAL_COLLECTIONS.name:
            assert env["CASH_LIMIT_PER_PAYER_PER_DAY"] == "200000.00"
            assert env["COLLECTION_MAX_AGE_DAYS"] == "7"
        if name == fn.HRMS_SYNC.name:
            assert env["HRMS_BASE_URL"] == cfg.hrms_base_url
            assert env["HRMS_TIMEOUT_SECONDS"] == str(cfg.hrms_timeout_seconds)


def test_the_staff_engine_reserves_what_config_says(engine_synth: EngineSynth) -> None:
    wanted = {
        "InternalCollections": 10,
        "InternalDcr": 2,
        "InternalAudit": 2,
        "InternalUsers": 2,
        "StaffSignIn": 5,
        "HrmsSync": 1,
    }
    small = engine_synth.cfg.env_name in ("dev", "qa")
    for name, count in wanted.items():
        expected = min(count, 2) if small else count
        assert engine_synth.cfg.reserved_concurrency[name] == expected, name


# --------------------------------------------------------------------------- the routes


def test_every_staff_route_is_cognito_authorized_and_served_by_its_declared_function(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    staff = [r for r in fn.INTERNAL_ROUTES if r.function in NEW]
    assert {r.function for r in staff} == {
        fn.INTERNAL_COLLECTIONS.name,
        fn.INTERNAL_DCR.name,
        fn.INTERNAL_AUDIT.name,
        fn.INTERNAL_USERS.name,
    }
    for role, region in _api_roles(engine_synth).items():
        methods = _internal_methods(engine_synth, role)
        resources = engine_synth.templates[role]["Resources"]
        for route in staff:
            method = methods[f"{route.method} {route.path}"]
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route.path
            uri = json.dumps(method["Integration"]["Uri"])
            target = function_name(cfg, SPECS[route.function])
            if access.beside_the_pool(route.function):
                # Built in this stack: the integration names the function itself.
                assert _function_id(engine_synth, role, route.function) in uri, route.path
            else:
                assert f":{region}:{cfg.account}:function:{target}/invocations" in uri
        users = _function_id(engine_synth, role, fn.INTERNAL_USERS.name)
        invokers = {
            r["Properties"]["Principal"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and json.dumps(r["Properties"]["FunctionName"]).count(users)
        }
        assert invokers == {"apigateway.amazonaws.com"}


# --------------------------------------------------------------------------- HrmsSync


def _rules(synth: EngineSynth, role: str) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    }


def _assert_hrms_sync_runs_only_in(synth: EngineSynth, active: str) -> None:
    cfg = synth.cfg
    (schedule,) = [s for s in fn.SCHEDULES if s.function == fn.HRMS_SYNC.name]
    for role, region in API_ROLES.items():
        if role not in synth.templates:
            continue
        rule = _rules(synth, role)[rule_name(cfg, schedule)]
        assert rule["ScheduleExpression"] == "cron(0 21 * * ? *)"  # 02:30 IST
        assert rule["State"] == ("ENABLED" if region == active else "DISABLED"), role
        (target,) = rule["Targets"]
        function = _function_id(synth, role, fn.HRMS_SYNC.name)
        assert target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
        dlq = f"arn:aws:sqs:{region}:{cfg.account}:{cfg.resource_name('scheduled-jobs-dlq')}"
        assert target["DeadLetterConfig"] == {"Arn": dlq}


def test_hrms_sync_runs_nightly_only_in_the_active_region(engine_synth: EngineSynth) -> None:
    _assert_hrms_sync_runs_only_in(engine_synth, engine_synth.cfg.active_region)
    for d in _of(engine_synth, fn.HRMS_SYNC.name):
        assert (d.props["MemorySize"], d.props["Timeout"]) == (512, 600)
        assert d.props["DeadLetterConfig"]["TargetArn"].endswith("-scheduled-jobs-dlq")


def test_after_a_failover_hrms_sync_runs_in_singapore_and_the_runbook_turns_it_on(
    engine_prod_failed_over: EngineSynth, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    _assert_hrms_sync_runs_only_in(engine_prod_failed_over, DR_REGION)
    cfg = engine_synth_of("prod").cfg
    (schedule,) = [s for s in fn.SCHEDULES if s.function == fn.HRMS_SYNC.name]
    assert rule_name(cfg, schedule) in standby_rules(cfg)


def _alarms(synth: EngineSynth, role: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in synth.templates[role]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_hrms_sync_failing_alarms_where_it_runs_as_loan_sync_does(
    env_name: str, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    """The same error-rate alarm on Lambda's Errors of each nightly job, in the active Region
    only (the standby's is unarmed until the runbook makes it active)."""
    synth = engine_synth_of(env_name)

    def on(role: str, job: str) -> list[str]:
        name = function_name(synth.cfg, SPECS[job])
        return sorted(
            str(a["AlarmName"]).split(name.removeprefix(f"engine-{env_name}-"))[-1]
            for a in _alarms(synth, role)
            if f"-{name.removeprefix(f'engine-{env_name}-')}-" in str(a["AlarmName"])
        )

    hrms, loans = on("monitoring", fn.HRMS_SYNC.name), on("monitoring", fn.LOAN_SYNC.name)
    assert hrms and hrms == loans
    assert on("dr-monitoring", fn.HRMS_SYNC.name) == on("dr-monitoring", fn.LOAN_SYNC.name) == []


# --------------------------------------------------------------------------- deploying


REAL_LMS = "https://lms-uat.lender.example.in"
REAL_HRMS = "https://fivestar-uat.darwinbox.example.in/api/engine/v1"


def test_the_deploy_path_refuses_an_hrms_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import load_engine

    for env_name, cfg in engine_config.ENVIRONMENTS.items():
        # The LMS named: the HRMS placeholder alone still refuses the deploy.
        named = dataclasses.replace(cfg, lms_base_url=REAL_LMS)
        monkeypatch.setitem(engine_config.ENVIRONMENTS, env_name, named)
        with pytest.raises(ConfigError) as raised:
            load_engine(env_name, strict=True)
        message = str(raised.value)
        assert message.startswith(f"refusing to deploy engine/{env_name}:")
        assert engine_config.hrms_placeholder_url(env_name) in message
        assert "lms_base_url" not in message
        assert f"set hrms_base_url of {env_name} in config/engine.py" in message
        monkeypatch.setitem(
            engine_config.ENVIRONMENTS,
            env_name,
            dataclasses.replace(named, hrms_base_url=REAL_HRMS),
        )
        assert load_engine(env_name, strict=True).hrms_base_url == REAL_HRMS


def test_the_app_refuses_an_hrms_placeholder_when_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks import build

    named = dataclasses.replace(engine_config.DEV, lms_base_url=REAL_LMS)
    monkeypatch.setitem(engine_config.ENVIRONMENTS, "dev", named)
    with pytest.raises(ConfigError, match="hrms_base_url is still the placeholder"):
        build(cdk.App(context={"env": "dev", "system": "engine", "strict": "true"}))


def test_hrms_settings_and_staff_limits_are_checked_at_synth() -> None:
    bad = dataclasses.replace(
        engine_config.QA,
        hrms_base_url="http://hrms.example/api",
        hrms_timeout_seconds=0,
        cash_limit_per_payer_per_day=Decimal("0.001"),
        audit_anchor_retention_days=0,
    )
    problems = "\n".join(bad.problems())
    for expected in (
        "hrms_base_url",
        "hrms_timeout_seconds must be at least 1",
        "audit_anchor_retention_days must be at least 1",
        "cash_limit_per_payer_per_day",
    ):
        assert expected in problems, expected
    urls = [cfg.hrms_base_url for cfg in engine_config.ENVIRONMENTS.values()]
    assert len(set(urls)) == len(urls)
    assert {cfg.cash_limit_per_payer_per_day for cfg in engine_config.ENVIRONMENTS.values()} == {
        Decimal("200000.00")
    }
