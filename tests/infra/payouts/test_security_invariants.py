"""The security and behaviour invariants, asserted explicitly per environment.

Expectations are written out here on purpose, independently of
`stacks/payouts/access.py`, so a change to a grant is a change to this file too.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_constructs.runtime import RUNTIME
from config import load
from config.payouts import MONOOVA_PRODUCTION_URL, MONOOVA_SANDBOX_URL, PayoutsConfig
from payouts import declarations as fn
from payouts.models.api import CREATE_PAYOUT_REQUEST
from payouts.tables import ALL_TABLES
from stacks import selected_environments
from tests.infra.synth import ROLES, Synth, props, resources

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
CREATE_PAYOUT, QUERY, WEBHOOK = "CreatePayout", "QueryPayouts", "MonoovaWebhook"
REPLAY, RECONCILER, RESTORER = "WebhookReplay", "Reconciler", "BalanceRestorer"
SWEEPER = "RefundSweeper"

TABLE_ACTIONS: dict[str, dict[str, set[str]]] = {
    CREATE_PAYOUT: {
        "Transactions": {"PutItem", "UpdateItem", "GetItem", "ConditionCheckItem"},
        "Customers": {"GetItem", "BatchGetItem", "UpdateItem"},
        "Idempotency": {"GetItem", "BatchGetItem", "PutItem"},
        "CircuitBreaker": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"},
    },
    QUERY: {"Transactions": {"GetItem", "Query"}, "Customers": {"GetItem"}},
    WEBHOOK: {"Transactions": {"UpdateItem", "GetItem"}, "Idempotency": {"PutItem"}},
    REPLAY: {"Transactions": {"UpdateItem", "GetItem"}, "Idempotency": {"PutItem"}},
    # No Customers access: a resubmission sends the payout's own destination snapshot.
    RECONCILER: {
        "Transactions": {"GetItem", "UpdateItem"},
        "CircuitBreaker": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"},
    },
    RESTORER: {"Transactions": {"UpdateItem", "ConditionCheckItem"}, "Customers": {"UpdateItem"}},
    SWEEPER: {"Transactions": {"UpdateItem"}, "Customers": {"UpdateItem"}},
}
INDEX_QUERIES = {
    QUERY: {"customer-created-index"},
    RECONCILER: {"open-status-index", "due-work-index"},
    SWEEPER: {"due-work-index"},
}
SECRETS = {
    CREATE_PAYOUT: {"MonoovaApiSecret"},
    RECONCILER: {"MonoovaApiSecret"},
    WEBHOOK: {"MonoovaWebhookSecret"},
}
SENDS = {
    WEBHOOK: {"WebhookDlq"},
    RECONCILER: {"ReconcilerDlq"},
    SWEEPER: {"ReconcilerDlq"},
    RESTORER: {"BalanceRestoreDlq"},
}
PII_READERS = {CREATE_PAYOUT, RECONCILER}
# Seals each payout's destination snapshot: data keys for the field crypto's context only.
PII_SEALERS = {CREATE_PAYOUT}

COMMON_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "ENVIRONMENT",
}
MONOOVA_ENV = {
    "MONOOVA_BASE_URL",
    "MONOOVA_API_SECRET_ARN",
    "MONOOVA_MACCOUNT_TOKEN",
    "MONOOVA_SOURCE_BSB",
    "MONOOVA_SOURCE_ACCOUNT_NUMBER",
    "MONOOVA_REMITTER_NAME",
    "MONOOVA_TIMEOUT_SECONDS",
    "BREAKER_MIN_VOLUME",
    "BREAKER_FAILURE_RATIO",
    "BREAKER_WINDOW_SECONDS",
    "BREAKER_OPEN_SECONDS",
}
TABLE_ENV = {
    "Transactions": "TRANSACTIONS_TABLE",
    "Customers": "CUSTOMERS_TABLE",
    "Idempotency": "IDEMPOTENCY_TABLE",
    "CircuitBreaker": "BREAKER_TABLE",
}
# Every function that moves a payout files its follow-up work: it needs the schedule.
SCHEDULE_ENV = {"RECONCILE_THRESHOLD_SECONDS", "RETURN_CHECK_SECONDS", "REFUND_GRACE_SECONDS"}
FUNCTION_ENV = {
    CREATE_PAYOUT: MONOOVA_ENV
    | SCHEDULE_ENV
    | {
        "PII_KEY_ARN",
        "TRANSACTION_RETENTION_DAYS",
        "IDEMPOTENCY_TTL_HOURS",
        "MONOOVA_CREATE_BUDGET_SECONDS",
    },
    QUERY: set(),
    WEBHOOK: SCHEDULE_ENV
    | {
        "WEBHOOK_DLQ_URL",
        "MONOOVA_WEBHOOK_SECRET_ARN",
        "MONOOVA_WEBHOOK_PUBLIC_KEYS",
        "TRANSACTION_RETENTION_DAYS",
    },
    REPLAY: SCHEDULE_ENV | {"TRANSACTION_RETENTION_DAYS"},
    RECONCILER: MONOOVA_ENV
    | SCHEDULE_ENV
    | {
        "PII_KEY_ARN",
        "STUCK_UNKNOWN_SECONDS",
        "RECONCILE_BATCH_LIMIT",
        "RETURN_WINDOW_DAYS",
        "RETURN_CHECK_BATCH_LIMIT",
        "TRANSACTION_RETENTION_DAYS",
    },
    RESTORER: set(),
    SWEEPER: SCHEDULE_ENV | {"REFUND_SWEEP_BATCH_LIMIT"},
}


# --------------------------------------------------------------------------- helpers


def cfg_of(synth: Synth) -> PayoutsConfig:
    return load(synth.env_name)


_INTRINSICS = {
    "Fn::ImportValue": lambda arg: f"import:{arg}",
    "Fn::GetAtt": lambda arg: f"getatt:{arg[0]}.{arg[1]}",
    "Ref": lambda arg: f"ref:{arg}",
    "Fn::Join": lambda arg: arg[0].join(label(v) for v in arg[1]),
}


def label(value: Any) -> str:
    """Flatten an intrinsic into a readable string: imports by export name, refs by id."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(label(v) for v in value)
    ((key, arg),) = value.items()
    render = _INTRINSICS.get(key)
    return render(arg) if render else json.dumps(value)


def stateful_name(resource_label: str) -> str | None:
    """`import:payouts-dev-stateful:ExportsOutputFnGetAttTransactionsTableB808F8B3Arn...`."""
    match = re.search(
        r"ExportsOutput(?:FnGetAtt|Ref)([A-Za-z]+?)(?:Table|Queue|Key)?[0-9A-F]{8}", resource_label
    )
    return match.group(1) if match else None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_ids(synth: Synth) -> dict[str, str]:
    """Function name -> logical id of its AWS::Lambda::Function."""
    found = {}
    for logical_id in resources(synth.templates["service"], "AWS::Lambda::Function"):
        name = next(
            spec.name for spec in fn.FUNCTIONS if logical_id.startswith(f"{spec.name}Function")
        )
        found[name] = logical_id
    return found


def role_of(synth: Synth, name: str) -> str:
    function = synth.templates["service"]["Resources"][function_ids(synth)[name]]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def policies_of_role(template: dict[str, Any], role_id: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: policy
        for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
    }


def statements_of(synth: Synth, name: str) -> list[dict[str, Any]]:
    template = synth.templates["service"]
    return [
        statement
        for policy in policies_of_role(template, role_of(synth, name)).values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_by_resource(statements: list[dict[str, Any]], prefix: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = defaultdict(set)
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if action.startswith(prefix):
                for resource in as_list(statement["Resource"]):
                    granted[label(resource)].add(action.removeprefix(prefix))
    return granted


def all_templates(synth: Synth) -> list[dict[str, Any]]:
    return [synth.templates[role] for role in ROLES]


# --------------------------------------------------------------------------- tables


def test_every_table_has_cmk_pitr_and_env_protection(synth: Synth) -> None:
    cfg = cfg_of(synth)
    tables = resources(synth.templates["stateful"], "AWS::DynamoDB::GlobalTable")
    assert len(tables) == len(ALL_TABLES)
    expected_policy = "RetainExceptOnCreate" if cfg.retain_data else "Delete"
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        for replica in properties["Replicas"]:
            assert replica["SSESpecification"]["KMSMasterKeyId"] == {
                "Fn::GetAtt": ["DataKey2A0DE9E6", "Arn"]
            }
            assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
            assert replica["DeletionProtectionEnabled"] is cfg.deletion_protection, logical_id
        assert table["DeletionPolicy"] == expected_policy, logical_id


def test_tables_follow_their_declarations(synth: Synth) -> None:
    tables = props(synth.templates["stateful"], "AWS::DynamoDB::GlobalTable")
    by_key = {t["KeySchema"][0]["AttributeName"]: t for t in tables}
    for spec in ALL_TABLES:
        table = by_key[spec.partition_key.name]
        assert table["KeySchema"] == spec.key_schema()
        ttl = table.get("TimeToLiveSpecification", {}).get("AttributeName")
        assert ttl == spec.ttl_attribute
        stream = table.get("StreamSpecification", {}).get("StreamViewType")
        assert stream == spec.stream
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == {
            i.name for i in spec.indexes
        }


# ------------------------------------------------------------ keys, logs, queues, topics


def test_every_key_rotates_and_follows_removal_policy(synth: Synth) -> None:
    expected = "RetainExceptOnCreate" if cfg_of(synth).retain_data else "Delete"
    keys = {
        **resources(synth.templates["stateful"], "AWS::KMS::Key"),
        **resources(synth.templates["monitoring"], "AWS::KMS::Key"),
    }
    assert len(keys) == 4  # data, PII, logs, alarm topics
    for logical_id, key in keys.items():
        assert key["Properties"]["EnableKeyRotation"] is True, logical_id
        assert key["DeletionPolicy"] == expected, logical_id


def test_every_log_group_expires_and_is_encrypted(synth: Synth) -> None:
    groups = [g for t in all_templates(synth) for g in props(t, "AWS::Logs::LogGroup")]
    assert len(groups) == len(fn.FUNCTIONS) + 3  # + API access, API execution, WAF
    for group in groups:
        assert group.get("RetentionInDays"), group
        assert "logs" in json.dumps(group["KmsKeyId"]).lower() or "LogsKey" in json.dumps(
            group["KmsKeyId"]
        )


def test_queues_are_encrypted_tls_only_and_dlqs_keep_14_days(synth: Synth) -> None:
    template = synth.templates["stateful"]
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) == 4
    policies = props(template, "AWS::SQS::QueuePolicy")
    for logical_id, queue in queues.items():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["DataKey2A0DE9E6", "Arn"]}
        assert any(_denies_insecure(p, logical_id, "sqs:*") for p in policies), logical_id
        if logical_id.startswith(("WebhookDlq", "BalanceRestoreDlq", "ReconcilerDlq")):
            assert queue["Properties"]["MessageRetentionPeriod"] == DLQ_RETENTION_SECONDS


def test_replay_queue_redrives_to_webhook_dlq(synth: Synth) -> None:
    queues = resources(synth.templates["stateful"], "AWS::SQS::Queue")
    replay = next(q for lid, q in queues.items() if lid.startswith("WebhookReplayQueue"))
    redrive = replay["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == cfg_of(synth).webhook_replay_max_receive_count == 3
    assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith("WebhookDlq")
    assert replay["Properties"]["VisibilityTimeout"] >= 6 * fn.WEBHOOK_REPLAY.timeout_seconds


def test_sns_topics_are_encrypted_and_tls_only(synth: Synth) -> None:
    template = synth.templates["monitoring"]
    topics = resources(template, "AWS::SNS::Topic")
    assert len(topics) == 2
    policies = props(template, "AWS::SNS::TopicPolicy")
    for logical_id, topic in topics.items():
        assert topic["Properties"]["KmsMasterKeyId"], logical_id
        assert any(_denies_insecure(p, logical_id, "sns:Publish", key="Topics") for p in policies)


def _denies_insecure(
    policy: dict[str, Any], logical_id: str, action: str, key: str = "Queues"
) -> bool:
    if {"Ref": logical_id} not in policy[key]:
        return False
    return any(
        s["Effect"] == "Deny"
        and action in as_list(s["Action"])
        and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in policy["PolicyDocument"]["Statement"]
    )


# --------------------------------------------------------------------------- functions


def test_every_function_has_the_platform_defaults(synth: Synth) -> None:
    functions = resources(synth.templates["service"], "AWS::Lambda::Function")
    assert len(functions) == len(fn.FUNCTIONS)
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles), "each function needs its own role"
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"], logical_id
        assert properties["Runtime"] == RUNTIME.name == "python3.14", logical_id
        assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert "VpcConfig" not in properties


def test_function_roles_carry_no_managed_or_inline_aws_policies(synth: Synth) -> None:
    template = synth.templates["service"]
    for name in function_ids(synth):
        role = template["Resources"][role_of(synth, name)]["Properties"]
        assert "ManagedPolicyArns" not in role, name
        assert "Policies" not in role, name
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
    for policy in props(template, "AWS::IAM::ManagedPolicy"):
        assert len(policy["Roles"]) == 1, "a customer-managed policy serves exactly one role"
    assert not resources(template, "AWS::IAM::Policy"), (
        "no inline policies (PCI DSS IAMNoInlinePolicy)"
    )


def test_log_permissions_name_only_the_functions_own_log_group(synth: Synth) -> None:
    template = synth.templates["service"]
    for name, logical_id in function_ids(synth).items():
        own_group = template["Resources"][logical_id]["Properties"]["LoggingConfig"]["LogGroup"][
            "Ref"
        ]
        log_statements = [
            s
            for s in statements_of(synth, name)
            if any(a.startswith("logs:") for a in as_list(s["Action"]))
        ]
        assert log_statements == [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [own_group, "Arn"]},
            }
        ], name


def test_xray_wildcard_is_confined_to_the_tracing_policy(synth: Synth) -> None:
    for name in function_ids(synth):
        wildcard = [s for s in statements_of(synth, name) if "*" in as_list(s["Resource"])]
        assert wildcard == [
            {
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Effect": "Allow",
                "Resource": "*",
            }
        ], name


def test_reserved_concurrency_follows_config(synth: Synth) -> None:
    cfg = cfg_of(synth)
    # Every function has a limit (NIST 800-53 R5 LambdaConcurrency, SC-6).
    expected = {
        CREATE_PAYOUT: cfg.create_payout_reserved_concurrency,
        RECONCILER: cfg.reconciler_reserved_concurrency,
        fn.QUERY_PAYOUTS.name: cfg.query_payouts_reserved_concurrency,
        fn.MONOOVA_WEBHOOK.name: cfg.monoova_webhook_reserved_concurrency,
        fn.WEBHOOK_REPLAY.name: cfg.webhook_replay_reserved_concurrency,
        fn.BALANCE_RESTORER.name: cfg.balance_restorer_reserved_concurrency,
        SWEEPER: cfg.refund_sweeper_reserved_concurrency,
    }
    template = synth.templates["service"]
    ids = function_ids(synth)
    assert set(ids) == set(expected)
    for name, logical_id in ids.items():
        reserved = template["Resources"][logical_id]["Properties"].get(
            "ReservedConcurrentExecutions"
        )
        assert reserved == expected[name], name
    assert list(expected.values()) == [5, 1, 10, 20, 2, 2, 1]


@pytest.mark.parametrize("name", list(TABLE_ACTIONS))
def test_table_permissions_are_exactly_the_declared_ones(synth: Synth, name: str) -> None:
    granted = actions_by_resource(statements_of(synth, name), "dynamodb:")
    by_table: dict[str, set[str]] = defaultdict(set)
    queried_indexes: set[str] = set()
    for resource, actions in granted.items():
        table = stateful_name(resource)
        if "/index/" in resource:
            assert actions == {"Query"}, resource
            queried_indexes.add(resource.rsplit("/index/", 1)[1])
        elif "StreamArn" in resource:
            assert name == RESTORER
            assert actions == {"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}
        else:
            assert table is not None, resource
            by_table[table] |= actions
    assert dict(by_table) == TABLE_ACTIONS[name]
    assert queried_indexes == INDEX_QUERIES.get(name, set())


@pytest.mark.parametrize("name", list(TABLE_ACTIONS))
def test_secret_queue_and_pii_permissions(synth: Synth, name: str) -> None:
    statements = statements_of(synth, name)
    secrets = actions_by_resource(statements, "secretsmanager:")
    assert {stateful_name(r) for r in secrets} == SECRETS.get(name, set())
    assert all(actions == {"GetSecretValue"} for actions in secrets.values())
    sends = {
        stateful_name(r)
        for r, a in actions_by_resource(statements, "sqs:").items()
        if "SendMessage" in a
    }
    assert sends == SENDS.get(name, set())
    if name == WEBHOOK:
        assert list(actions_by_resource(statements, "sqs:").values()) == [{"SendMessage"}]
    pii = [s for s in statements if "PiiKey" in label(s["Resource"])]
    expected = (["kms:Decrypt"] if name in PII_READERS else []) + (
        ["kms:GenerateDataKey"] if name in PII_SEALERS else []
    )
    assert sorted(s["Action"] for s in pii) == expected
    for statement in pii:
        if statement["Action"] == "kms:GenerateDataKey":
            assert statement["Condition"] == {
                "StringEquals": {"kms:EncryptionContext:purpose": "payout-destination"}
            }


def test_data_key_use_is_limited_to_the_calling_service(synth: Synth) -> None:
    """Data-key grants are usable only via one service (kms:ViaService), or read-only."""
    for name in function_ids(synth):
        for statement in statements_of(synth, name):
            if "DataKey" not in label(statement["Resource"]):
                continue
            actions = set(as_list(statement["Action"]))
            via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            assert via or actions <= {"kms:Decrypt", "kms:DescribeKey"}, (name, statement)
            assert not any("*" in a for a in actions), (name, statement)


def test_no_iam_statement_allows_every_action(synth: Synth) -> None:
    for template in all_templates(synth):
        for resource_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role"):
            for properties in props(template, resource_type):
                text = json.dumps(properties)
                assert '"Action": "*"' not in text and '"*"]' not in text.split('"Resource"')[0]
                for statement in _statements(properties):
                    for action in as_list(statement.get("Action", [])):
                        assert action != "*" and not action.endswith(":*"), statement
        assert "arn:aws:iam::aws:policy" not in json.dumps(template), "no AWS managed policies"


def _statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    documents = [properties.get("PolicyDocument")] + [
        p["PolicyDocument"] for p in properties.get("Policies", [])
    ]
    return [s for d in documents if d for s in d["Statement"]]


@pytest.mark.parametrize("name", list(FUNCTION_ENV))
def test_function_environment(synth: Synth, name: str) -> None:
    cfg = cfg_of(synth)
    function = synth.templates["service"]["Resources"][function_ids(synth)[name]]
    env = function["Properties"]["Environment"]["Variables"]
    tables = {TABLE_ENV[t] for t in TABLE_ACTIONS[name]}
    assert set(env) == COMMON_ENV | tables | FUNCTION_ENV[name]
    assert env["POWERTOOLS_SERVICE_NAME"] == "payouts"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Payouts"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env["ENVIRONMENT"] == synth.env_name
    if "MONOOVA_BASE_URL" in env:
        assert env["MONOOVA_BASE_URL"] == cfg.monoova_base_url
        assert env["MONOOVA_TIMEOUT_SECONDS"] == "4"
    if name == RECONCILER:
        assert env["RECONCILE_THRESHOLD_SECONDS"] == str(cfg.reconcile_threshold_minutes * 60)
        assert env["RECONCILE_BATCH_LIMIT"] == "100"
    if name == WEBHOOK:
        assert env["MONOOVA_WEBHOOK_PUBLIC_KEYS"] == ",".join(cfg.monoova_webhook_public_keys)


def test_prod_calls_production_monoova_and_the_others_the_sandbox(synth: Synth) -> None:
    function = synth.templates["service"]["Resources"][function_ids(synth)[CREATE_PAYOUT]]
    url = function["Properties"]["Environment"]["Variables"]["MONOOVA_BASE_URL"]
    assert url == (MONOOVA_PRODUCTION_URL if synth.env_name == "prod" else MONOOVA_SANDBOX_URL)


# --------------------------------------------------------------------------- event wiring


def test_stream_mapping_sees_final_payouts_not_yet_refunded(synth: Synth) -> None:
    mappings = props(synth.templates["service"], "AWS::Lambda::EventSourceMapping")
    stream = next(m for m in mappings if "StartingPosition" in m)
    assert stream["FunctionName"]["Ref"].startswith("BalanceRestorerFunction")
    assert stream["StartingPosition"] == "TRIM_HORIZON"
    assert stream["BatchSize"] == 10
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["MaximumRetryAttempts"] == 5
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        stateful_name(label(stream["DestinationConfig"]["OnFailure"]["Destination"]))
        == "BalanceRestoreDlq"
    )
    pattern = json.loads(stream["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {
        "dynamodb": {
            "NewImage": {
                "status": {"S": ["Completed", "Rejected", "Returned"]},
                "refunded_at": {"S": [{"exists": False}]},
            }
        }
    }


def test_replay_queue_feeds_webhook_replay(synth: Synth) -> None:
    mappings = props(synth.templates["service"], "AWS::Lambda::EventSourceMapping")
    sqs_mapping = next(m for m in mappings if "StartingPosition" not in m)
    assert sqs_mapping["FunctionName"]["Ref"].startswith("WebhookReplayFunction")
    assert stateful_name(label(sqs_mapping["EventSourceArn"])) == "WebhookReplay"
    assert sqs_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _rate(minutes: int) -> str:
    """How CDK writes Duration.minutes(n): whole hours and days in the biggest unit."""
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'s' if count > 1 else ''})"
    return f"rate({minutes} minutes)"


def test_scheduled_jobs_run_with_retries_and_a_dlq(synth: Synth) -> None:
    cfg = cfg_of(synth)
    rules = {r["Name"]: r for r in props(synth.templates["service"], "AWS::Events::Rule")}
    expected = {
        # rule name suffix: (minutes, function, input)
        "reconcile": (cfg.reconcile_interval_minutes, RECONCILER, None),
        "return-check": (cfg.return_check_interval_minutes, RECONCILER, {"job": "return-check"}),
        "refund-sweep": (cfg.refund_sweep_interval_minutes, SWEEPER, None),
    }
    assert set(rules) == {f"payouts-{synth.env_name}-{job}" for job in expected}
    ids = function_ids(synth)
    for job, (minutes, name, event) in expected.items():
        rule = rules[f"payouts-{synth.env_name}-{job}"]
        assert rule["ScheduleExpression"] == _rate(minutes)
        (target,) = rule["Targets"]
        assert target["Arn"]["Fn::GetAtt"][0] == ids[name], job
        assert (json.loads(target["Input"]) if event else target.get("Input")) == event, job
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
        assert stateful_name(label(target["DeadLetterConfig"]["Arn"])) == "ReconcilerDlq"
    for name in (RECONCILER, SWEEPER):
        function = synth.templates["service"]["Resources"][ids[name]]
        assert (
            stateful_name(label(function["Properties"]["DeadLetterConfig"]["TargetArn"]))
            == "ReconcilerDlq"
        )
    assert cfg.return_check_interval_minutes > cfg.reconcile_interval_minutes  # "slower"


# --------------------------------------------------------------------------- API


def test_stage_throttles_logs_and_traces(synth: Synth) -> None:
    cfg = cfg_of(synth)
    (stage,) = props(synth.templates["service"], "AWS::ApiGateway::Stage")
    (settings,) = stage["MethodSettings"]
    assert settings["HttpMethod"] == "*" and settings["ResourcePath"] == "/*"
    assert settings["ThrottlingRateLimit"] == cfg.api_throttle_rate_limit == 100
    assert settings["ThrottlingBurstLimit"] == cfg.api_throttle_burst_limit == 200
    assert settings["LoggingLevel"] == cfg.api_execution_logging_level
    assert settings["DataTraceEnabled"] is False
    assert stage["TracingEnabled"] is True
    access_log = stage["AccessLogSetting"]
    assert access_log["DestinationArn"]["Fn::GetAtt"][0].startswith("ApiAccessLogs")
    assert json.loads(access_log["Format"])["requestId"] == "$context.requestId"


def test_waf_guards_the_stage_in_every_environment(synth: Synth) -> None:
    template = synth.templates["service"]
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")
    (association,) = props(template, "AWS::WAFv2::WebACLAssociation")
    assert stage_id in json.dumps(association["ResourceArn"])
    (acl,) = props(template, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL"
    names = {rule["Name"] for rule in acl["Rules"]}
    assert names == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
        "RateLimitPerIp",
    }
    rate = next(r for r in acl["Rules"] if r["Name"] == "RateLimitPerIp")
    assert (
        rate["Statement"]["RateBasedStatement"]["Limit"]
        == cfg_of(synth).waf_rate_limit_per_5min_per_ip
    )
    assert props(template, "AWS::WAFv2::LoggingConfiguration")


def test_only_the_webhook_is_unauthenticated(synth: Synth) -> None:
    template = synth.templates["service"]
    methods = props(template, "AWS::ApiGateway::Method")
    assert len(methods) == len(fn.ROUTES)
    paths = _resource_paths(template)
    for method in methods:
        path = paths[method["ResourceId"]["Ref"]]
        expected = "NONE" if path == "/webhooks/monoova" else "COGNITO_USER_POOLS"
        assert method["AuthorizationType"] == expected, path
        assert "RequestValidatorId" in method
        if (method["HttpMethod"], path) == ("POST", "/payouts"):
            assert method["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
            assert "application/json" in method["RequestModels"]


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    parts = {
        lid: r["Properties"]["PathPart"]
        for lid, r in resources(template, "AWS::ApiGateway::Resource").items()
    }
    parents = {
        lid: r["Properties"]["ParentId"]
        for lid, r in resources(template, "AWS::ApiGateway::Resource").items()
    }

    def path(lid: str) -> str:
        parent = parents[lid]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{parts[lid]}"

    return {lid: path(lid) for lid in parts}


def test_request_model_is_the_declared_schema(synth: Synth) -> None:
    (model,) = props(synth.templates["service"], "AWS::ApiGateway::Model")
    assert model["Schema"] == CREATE_PAYOUT_REQUEST


def test_gateway_errors_use_the_api_error_shape(synth: Synth) -> None:
    responses = {
        r["ResponseType"]: r
        for r in props(synth.templates["service"], "AWS::ApiGateway::GatewayResponse")
    }
    expected = {
        "BAD_REQUEST_BODY": "ValidationError",
        "BAD_REQUEST_PARAMETERS": "ValidationError",
        "UNAUTHORIZED": "Unauthorized",
        "ACCESS_DENIED": "Forbidden",
        "THROTTLED": "Throttled",
        "DEFAULT_4XX": "ClientError",
        "DEFAULT_5XX": "InternalError",
    }
    for response_type, error in expected.items():
        template = responses[response_type]["ResponseTemplates"]["application/json"]
        assert f'"error": "{error}"' in template
        assert '"timestamp": "$context.requestTime"' in template
    assert (
        "validationErrorString"
        in responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"]
    )


def test_api_gateway_logging_role_has_no_aws_managed_policy(synth: Synth) -> None:
    template = synth.templates["service"]
    (account,) = props(template, "AWS::ApiGateway::Account")
    role = template["Resources"][account["CloudWatchRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


# --------------------------------------------------------------------------- user pool


def test_admin_user_pool_is_invite_only_with_mfa(synth: Synth) -> None:
    cfg = cfg_of(synth)
    (pool,) = props(synth.templates["stateful"], "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["UserPoolTier"] == "PLUS"
    assert pool["DeletionProtection"] == ("ACTIVE" if cfg.deletion_protection else "INACTIVE")
    (client,) = props(synth.templates["stateful"], "AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is False


# --------------------------------------------------------------------------- alarms


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["AlarmName"]: a for a in props(synth.templates["monitoring"], "AWS::CloudWatch::Alarm")
    }


def _metric(alarm: dict[str, Any]) -> dict[str, Any]:
    (query,) = alarm["Metrics"]
    return query["MetricStat"]


def test_the_seven_alarms_exist_with_their_thresholds(synth: Synth) -> None:
    cfg = cfg_of(synth)
    alarms = _alarms(synth)
    prefix = f"payouts-{synth.env_name}-"
    expected = {
        # name: (threshold, period seconds, metric, statistic, topic)
        "CreatePayout-Fault-Rate-Critical": (
            cfg.create_payout_error_rate_percent / 100,
            300,
            "Errors",
            "Average",
            "Critical",
        ),
        "MonoovaWebhook-Fault-Count-Critical": (
            cfg.webhook_error_count,
            600,
            "Errors",
            "Sum",
            "Critical",
        ),
        "WebhookDlq-Queue-Message-Count-Max-Critical": (
            0,
            300,
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            "Critical",
        ),
        "Api-Fault-Count-Critical": (cfg.api_5xx_count, 300, "5XXError", "Sum", "Critical"),
        "WebhookDlq-Queue-Message-Age-Max-Warning": (
            cfg.dlq_max_age_alarm_seconds,
            300,
            "ApproximateAgeOfOldestMessage",
            "Maximum",
            "Warning",
        ),
        "Business-StuckUnknownPayouts-Critical": (
            0,
            300,
            "StuckUnknownPayouts",
            "Maximum",
            "Critical",
        ),
        # Monoova refused our API key (401/403): pages on the first one.
        "Business-MonoovaAuthFailed-Critical": (0, 300, "MonoovaAuthFailed", "Sum", "Critical"),
        # A payout the reconciler cannot send again as first sent went to ManualReview.
        "Business-PayoutNeedsReview-Critical": (0, 300, "PayoutNeedsReview", "Sum", "Critical"),
        # The refund sweep had to credit what the stream missed: a ticket.
        "Business-RefundsSwept-Warning": (0, 300, "RefundsSwept", "Sum", "Warning"),
        "BalanceRestoreDlq-Queue-Message-Count-Max-Critical": (
            0,
            300,
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            "Critical",
        ),
        "ReconcilerDlq-Queue-Message-Count-Max-Warning": (
            0,
            300,
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            "Warning",
        ),
    }
    expected |= {
        f"{s.name}-Throttled-Count-Warning": (5, 300, "Throttles", "Sum", "Warning")
        for s in fn.FUNCTIONS
    }
    assert set(alarms) == {prefix + name for name in expected}
    for name, (threshold, period, metric, statistic, topic) in expected.items():
        alarm = alarms[prefix + name]
        stat = _metric(alarm)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", name
        assert alarm["Threshold"] == threshold, name
        assert (stat["Period"], stat["Metric"]["MetricName"], stat["Stat"]) == (
            period,
            metric,
            statistic,
        ), name
        assert topic in alarm["AlarmActions"][0]["Ref"], name
        assert alarm["ActionsEnabled"] is cfg.alarm_actions_enabled


def test_business_metrics_use_the_runtime_dimensions(synth: Synth) -> None:
    stuck = _alarms(synth)[f"payouts-{synth.env_name}-Business-StuckUnknownPayouts-Critical"]
    metric = _metric(stuck)["Metric"]
    assert metric["Namespace"] == "Payouts"
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {
        "service": "payouts",
        "environment": synth.env_name,
    }
    dashboards = props(synth.templates["monitoring"], "AWS::CloudWatch::Dashboard")
    names = {d["DashboardName"] for d in dashboards}
    assert names == {f"payouts-{synth.env_name}-operations", f"payouts-{synth.env_name}-business"}
    body = json.dumps(dashboards)
    for metric_name in (
        "PayoutCreated",
        "PayoutAmount",
        "TimeToFinalState",
        "MonoovaLatency",
        "CircuitOpened",
    ):
        assert metric_name in body


# --------------------------------------------------------------------------- assembly


def test_no_context_lookup_is_ever_missing(synth: Synth) -> None:
    assert "missing" not in synth.manifest()
    assert "missing" not in synth.manifest(nested=True)


def test_env_context_builds_only_that_environment(synth: Synth) -> None:
    assemblies = [
        k for k, a in synth.manifest()["artifacts"].items() if a["type"] == "cdk:cloud-assembly"
    ]
    assert assemblies == [f"assembly-{synth.env_name}"]


def test_without_env_context_every_environment_is_built() -> None:
    assert selected_environments(cdk.App()) == ("dev", "staging", "prod")
    assert selected_environments(cdk.App(context={"env": "staging"})) == ("staging",)


def test_stacks_are_named_tagged_and_protected_per_config(synth: Synth) -> None:
    cfg = cfg_of(synth)
    artifacts = {
        a["properties"]["stackName"]: a
        for a in synth.manifest(nested=True)["artifacts"].values()
        if a["type"] == "aws:cloudformation:stack"
    }
    assert set(artifacts) == {f"payouts-{synth.env_name}-{role}" for role in ROLES}
    for name, artifact in artifacts.items():
        assert artifact["properties"]["tags"] == cfg.tags, name
        assert artifact["environment"] == f"aws://{cfg.account}/ap-southeast-2"
    stateful = artifacts[f"payouts-{synth.env_name}-stateful"]["properties"]
    assert stateful.get("terminationProtection", False) is cfg.termination_protection


def test_stateful_resources_follow_the_removal_policy(synth: Synth) -> None:
    expected = "RetainExceptOnCreate" if cfg_of(synth).retain_data else "Delete"
    template = synth.templates["stateful"]
    for resource_type in (
        "AWS::SQS::Queue",
        "AWS::SecretsManager::Secret",
        "AWS::Cognito::UserPool",
    ):
        for logical_id, resource in resources(template, resource_type).items():
            assert resource["DeletionPolicy"] == expected, logical_id
