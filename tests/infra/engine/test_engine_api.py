"""EngineApiStack: both engine REST APIs, their health functions and the staff pool.

One module-scoped App holds the Mumbai stack ("api") and the Singapore one ("dr-api"),
each beside its Region's network stack, with all four nag packs registered. A second,
smaller App adds a keyed portal route, a Cognito internal route and CORS origins, so
the "every keyed method" and "every staff method" assertions are not vacuous while
the declarations hold only /health.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from cdk_constructs import nag
from cdk_constructs.network import APP
from cdk_constructs.rest_api import ApiKeyPlan, SecureRestApi, SecureRestApiProps
from cdk_constructs.waf import RegionalWebAclProps
from config import load_engine
from config.engine import DR_REGION, REGION, EngineConfig
from engine.declarations import INTERNAL_HEALTH, PORTAL_HEALTH, STAFF_ROLES
from shared.declarations import Route
from stacks.engine import api as api_module
from stacks.engine.api import DatabaseEndpoint, EngineApiStack
from stacks.engine.grants import Database, SecretRef
from stacks.engine.network import EngineNetworkStack
from stacks.engine.secrets import SECRETS, secret_name
from stacks.engine.service import ServiceInputs
from tests.infra.cfn_lint import TOLERATED_WARNINGS, WARNING_OR_INFO_BITS, cfn_lint
from tests.infra.synth import cdk_json_context

ACCOUNT = "777777777777"
TABLE = "engine-prod-transactions"
MANAGED_GROUPS = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesSQLiRuleSet",
}
CORS_ORIGIN = "https://portal.example.in"
KEYED_PORTAL_ROUTE = Route(
    "GET", "/loans/{loan_account_number}", PORTAL_HEALTH.name, auth="none", summary="test"
)
STAFF_ROUTE = Route("GET", "/staff/me", INTERNAL_HEALTH.name, auth="cognito", summary="test")


def _key_arn(region: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/mrk-{name}"


def _connect_arn(region: str) -> str:
    return f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:prx-0123456789abcdef/engine_health"


def _database(region: str, **changes: Any) -> DatabaseEndpoint:
    base = DatabaseEndpoint(
        host=f"engine.proxy-abc.{region}.rds.amazonaws.com",
        port=5432,
        name="engine",
        user="engine_health",
        connect_resource_arn=_connect_arn(region),
    )
    return dataclasses.replace(base, **changes)


def _staff_inputs(cfg: EngineConfig, region: str) -> ServiceInputs:
    """What the pool-bound business functions are given, as literal names and ARNs."""
    return ServiceInputs(
        logs_key_arn=_key_arn(region, "logs"),
        data_key_arn=_key_arn(region, "data"),
        stream_arns={},
        secrets={
            spec.env_var: SecretRef(
                arn := f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:"
                f"{secret_name(cfg, spec)}-AbCdEf",
                arn,
            )
            for spec in SECRETS
        },
        documents_bucket=f"engine-prod-documents-{ACCOUNT}-{region}",
        event_bus_name="engine-prod-events",
        database=Database(
            host=f"engine.proxy-abc.{region}.rds.amazonaws.com",
            port=5432,
            name="engine",
            connect_arn=f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:prx-0123456789abcdef/engine_app",
        ),
        audit_anchor_bucket=f"engine-prod-audit-anchors-{ACCOUNT}-{region}",
    )


@dataclass
class Built:
    outdir: Path
    network: EngineNetworkStack
    api: EngineApiStack

    @cached_property
    def template(self) -> dict[str, Any]:
        return _read(self.outdir / self.api.template_file)

    @cached_property
    def network_template(self) -> dict[str, Any]:
        return _read(self.outdir / self.network.template_file)


def _read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@dataclass
class Synthesized:
    outdir: Path
    regions: dict[str, Built]

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def _build(app: cdk.App, outdir: Path, cfg: EngineConfig, role: str) -> Built:
    env = cfg.cdk_environment if role == "api" else cfg.dr_cdk_environment
    region = env.region
    assert region
    network = EngineNetworkStack(
        app,
        f"Network-{role}",
        cfg=cfg,
        network=cfg.network if role == "api" else cfg.dr_network,
        env=env,
        role=f"network-for-{role}",
        logs_key_arn=_key_arn(region, "logs"),
    )
    stack = EngineApiStack(
        app,
        f"Api-{role}",
        cfg=cfg,
        region_role=role,
        env=env,
        network=network.network,
        logs_key_arn=_key_arn(region, "logs"),
        data_key_arn=_key_arn(region, "data"),
        health_table_name=TABLE,
        database=_database(region),
        staff_inputs=_staff_inputs(cfg, region),
    )
    return Built(outdir=outdir, network=network, api=stack)


def _app(outdir: Path) -> cdk.App:
    context = cdk_json_context() | {"aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    nag.register_packs(app)
    return app


@pytest.fixture(scope="module")
def prod() -> EngineConfig:
    return load_engine("prod")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory, prod: EngineConfig) -> Synthesized:
    outdir = tmp_path_factory.mktemp("engine-api")
    app = _app(outdir)
    regions = {role: _build(app, outdir, prod, role) for role in ("api", "dr-api")}
    app.synth()
    return Synthesized(outdir=outdir, regions=regions)


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory, prod: EngineConfig) -> Synthesized:
    """Mumbai only, with CORS, a keyed portal route and a Cognito internal route."""
    outdir = tmp_path_factory.mktemp("engine-api-variant")
    cfg = dataclasses.replace(prod, portal_cors_origins=(CORS_ORIGIN,))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_module, "PORTAL_ROUTES", (*api_module.PORTAL_ROUTES, KEYED_PORTAL_ROUTE))
        patch.setattr(api_module, "INTERNAL_ROUTES", (*api_module.INTERNAL_ROUTES, STAFF_ROUTE))
        app = _app(outdir)
        built = _build(app, outdir, cfg, "api")
        app.synth()
    return Synthesized(outdir=outdir, regions={"api": built})


# ----------------------------------------------------------------- helpers


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def _logical_id(built: Built, construct: Any) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return built.api.get_logical_id(element)


def _api_methods(template: dict[str, Any], api_logical_id: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in _of_type(template, "AWS::ApiGateway::Method").values()
        if r["Properties"]["RestApiId"] == {"Ref": api_logical_id}
    ]


def _path_of(template: dict[str, Any], method: dict[str, Any]) -> str:
    """'/a/{b}' of a method, rebuilt from its Resource chain."""
    parts: list[str] = []
    resource_id = method["ResourceId"]
    while "Ref" in resource_id:
        props = template["Resources"][resource_id["Ref"]]["Properties"]
        parts.insert(0, props["PathPart"])
        resource_id = props["ParentId"]
    return "/" + "/".join(parts)


def _route_keys(template: dict[str, Any], methods: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{m['HttpMethod']} {_path_of(template, m)}": m for m in methods}


def _both(synth: Synthesized, variant: Synthesized) -> list[tuple[Built, dict[str, Any]]]:
    builds = [*synth.regions.values(), variant.regions["api"]]
    return [(b, b.template) for b in builds]


# ----------------------------------------------------------------- portal API keys


WEBHOOK = "POST /api/v1/webhooks/razorpay"
WEBHOOK_PATHS = {"/v1/api/v1/webhooks/razorpay", "/api/v1/webhooks/razorpay"}


def test_every_portal_method_requires_an_api_key_except_health_and_the_webhook(
    synth: Synthesized, variant: Synthesized
) -> None:
    for built, template in _both(synth, variant):
        api_id = _logical_id(built, built.api.portal.api)
        routes = _route_keys(template, _api_methods(template, api_id))
        keyed = {key: m for key, m in routes.items() if not key.startswith("OPTIONS ")}
        assert keyed.pop("GET /health").get("ApiKeyRequired") is None
        assert keyed.pop(WEBHOOK).get("ApiKeyRequired") is None
        for key, method in keyed.items():
            assert method["ApiKeyRequired"] is True, key
    variant_template = variant.regions["api"].template
    variant_api = _logical_id(variant.regions["api"], variant.regions["api"].api.portal.api)
    keys = _route_keys(variant_template, _api_methods(variant_template, variant_api))
    assert keys["GET /loans/{loan_account_number}"]["ApiKeyRequired"] is True


def test_keyless_portal_routes_are_only_health_and_the_webhook_and_say_why() -> None:
    assert set(api_module.PORTAL_KEYLESS_ROUTES) == {"GET /health", WEBHOOK}
    assert "Route 53" in api_module.PORTAL_KEYLESS_ROUTES["GET /health"]
    assert "constant time" in api_module.PORTAL_KEYLESS_ROUTES[WEBHOOK]


def test_portal_usage_plan_throttles_and_caps_the_key_per_day(
    synth: Synthesized, prod: EngineConfig
) -> None:
    for built in synth.regions.values():
        template = built.template
        portal = built.api.portal
        (plan,) = _of_type(template, "AWS::ApiGateway::UsagePlan").values()
        props = plan["Properties"]
        assert props["Throttle"] == {"BurstLimit": 2000, "RateLimit": 1000}
        assert props["Quota"] == {"Limit": 200000, "Period": "DAY"}
        assert prod.portal_usage_plan_quota_per_day == 200000
        (stage,) = props["ApiStages"]
        assert stage["ApiId"] == {"Ref": _logical_id(built, portal.api)}
        assert stage["Stage"] == {"Ref": _logical_id(built, portal.stage)}
        (key_id,) = _of_type(template, "AWS::ApiGateway::ApiKey")
        key = template["Resources"][key_id]["Properties"]
        assert "Value" not in key, "the key value must be generated by API Gateway"
        assert key["Enabled"] is True
        (link,) = _of_type(template, "AWS::ApiGateway::UsagePlanKey").values()
        assert link["Properties"]["KeyId"] == {"Ref": key_id}
        assert link["Properties"]["UsagePlanId"] == {
            "Ref": next(iter(_of_type(template, "AWS::ApiGateway::UsagePlan")))
        }
        assert template["Outputs"]["PortalApiKeyId"]["Value"] == {"Ref": key_id}


# ----------------------------------------------------------------- stages and WAF


def test_both_stages_throttle_trace_log_and_never_cache(synth: Synthesized) -> None:
    for built in synth.regions.values():
        template = built.template
        stages = _of_type(template, "AWS::ApiGateway::Stage")
        assert len(stages) == 2
        for stage in stages.values():
            props = stage["Properties"]
            assert props["StageName"] == "v1"
            assert props["TracingEnabled"] is True
            assert props.get("CacheClusterEnabled") in (None, False)
            (settings,) = props["MethodSettings"]
            assert settings["ThrottlingBurstLimit"] == 2000
            assert settings["ThrottlingRateLimit"] == 1000
            assert settings["LoggingLevel"] == "ERROR"
            assert settings["DataTraceEnabled"] is False
            destination = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
            log_group = template["Resources"][destination]["Properties"]
            assert log_group["RetentionInDays"] == 30
            assert "KmsKeyId" in log_group
            assert "$context.requestId" in props["AccessLogSetting"]["Format"]


def test_every_stage_has_a_web_acl_with_managed_rules_and_a_per_minute_ip_limit(
    synth: Synthesized,
) -> None:
    for built in synth.regions.values():
        template = built.template
        associations = {
            json.dumps(r["Properties"]["ResourceArn"]): r["Properties"]["WebACLArn"]
            for r in _of_type(template, "AWS::WAFv2::WebACLAssociation").values()
        }
        for api, limit in ((built.api.portal, 100), (built.api.internal, 500)):
            stage_arn = built.api.resolve(api.stage.stage_arn)
            web_acl_arn = associations[json.dumps(stage_arn)]
            acl_id = web_acl_arn["Fn::GetAtt"][0]
            assert acl_id == _logical_id(built, api.web_acl.web_acl)
            rules = template["Resources"][acl_id]["Properties"]["Rules"]
            groups = {
                r["Statement"]["ManagedRuleGroupStatement"]["Name"]
                for r in rules
                if "ManagedRuleGroupStatement" in r["Statement"]
            }
            assert groups == MANAGED_GROUPS
            (rate,) = [
                r["Statement"]["RateBasedStatement"]
                for r in rules
                if "RateBasedStatement" in r["Statement"]
            ]
            scope = rate.pop("ScopeDownStatement", None)
            assert rate == {"Limit": limit, "AggregateKeyType": "IP", "EvaluationWindowSec": 60}
            if api is built.api.internal:
                assert scope is None
            else:
                assert _exempt_paths(scope) == WEBHOOK_PATHS
        assert set(built.api.web_acls) == {"Portal", "Internal"}


def _exempt_paths(scope: dict[str, Any]) -> set[str]:
    """The exact paths a NOT(path is A or path is B) scope-down leaves out of the rate."""
    inner = scope["NotStatement"]["Statement"]
    matches = inner["OrStatement"]["Statements"] if "OrStatement" in inner else [inner]
    paths = set()
    for match in matches:
        byte_match = match["ByteMatchStatement"]
        assert byte_match["FieldToMatch"] == {"UriPath": {}}
        assert byte_match["PositionalConstraint"] == "EXACTLY"
        assert byte_match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
        paths.add(byte_match["SearchString"])
    return paths


def test_the_rate_rule_counts_customer_routes_and_leaves_only_the_webhook_alone() -> None:
    """Evaluated as WAF would: a request is counted unless its path is exactly a webhook's."""
    from cdk_constructs.waf import _not_these_paths

    statement = _not_these_paths(sorted(WEBHOOK_PATHS))
    assert statement is not None
    exempt = {
        m.byte_match_statement.search_string
        for m in statement.not_statement.statement.or_statement.statements
    }

    def counted(path: str) -> bool:
        return path not in exempt

    assert not counted("/api/v1/webhooks/razorpay")
    assert not counted("/v1/api/v1/webhooks/razorpay")
    for path in (
        "/api/v1/customer/validate-loan",
        "/v1/api/v1/customer/sessions",
        "/api/v1/customer/payments",
        "/api/v1/webhooks/razorpay/",
        "/API/V1/WEBHOOKS/RAZORPAY",
        "/api/v1/webhooks/razorpay/../../customer/payments",
        "/health",
    ):
        assert counted(path), path


def test_no_stage_without_a_web_acl(synth: Synthesized, variant: Synthesized) -> None:
    for built, template in _both(synth, variant):
        stages = {
            json.dumps(built.api.resolve(s.stage.stage_arn))
            for s in (built.api.portal, built.api.internal)
        }
        associated = {
            json.dumps(r["Properties"]["ResourceArn"])
            for r in _of_type(template, "AWS::WAFv2::WebACLAssociation").values()
        }
        assert len(_of_type(template, "AWS::ApiGateway::Stage")) == len(stages)
        assert stages <= associated


# ----------------------------------------------------------------- internal API and staff pool


def test_internal_methods_use_the_staff_authorizer_except_health(
    synth: Synthesized, variant: Synthesized
) -> None:
    for built, template in _both(synth, variant):
        internal = built.api.internal
        methods = _route_keys(template, _api_methods(template, _logical_id(built, internal.api)))
        health = methods.pop("GET /health")
        assert health["AuthorizationType"] == "NONE"
        assert "ApiKeyRequired" not in health
        for key, method in methods.items():
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", key
            authorizer = template["Resources"][method["AuthorizerId"]["Ref"]]["Properties"]
            assert authorizer["Type"] == "COGNITO_USER_POOLS"
            pool_id = _logical_id(built, built.api.user_pool.user_pool)
            assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    staff = _route_keys(
        variant.regions["api"].template,
        _api_methods(
            variant.regions["api"].template,
            _logical_id(variant.regions["api"], variant.regions["api"].api.internal.api),
        ),
    )
    assert "GET /staff/me" in staff


def test_staff_pool_requires_totp_mfa_and_has_one_group_per_role(synth: Synthesized) -> None:
    for built in synth.regions.values():
        template = built.template
        (pool,) = _of_type(template, "AWS::Cognito::UserPool").values()
        props = pool["Properties"]
        assert props["MfaConfiguration"] == "ON"
        assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
        assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
        assert pool["DeletionPolicy"] == "RetainExceptOnCreate"
        groups = {
            g["Properties"]["GroupName"]: g["Properties"]["Precedence"]
            for g in _of_type(template, "AWS::Cognito::UserPoolGroup").values()
        }
        assert groups == {name: precedence for name, _, precedence in STAFF_ROLES}
        assert "MFA" in (EngineApiStack.__doc__ or "")


# ----------------------------------------------------------------- health functions


def _function(built: Built, name: str) -> tuple[str, dict[str, Any]]:
    function = getattr(built.api, name).function
    logical_id = _logical_id(built, function)
    return logical_id, built.template["Resources"][logical_id]["Properties"]


def _import_names(built: Built, constructs: list[Any]) -> list[dict[str, str]]:
    """The Fn::ImportValue each network construct's id arrives as in the API stack."""
    outputs = built.network_template["Outputs"]
    by_value = {json.dumps(o["Value"]): o["Export"]["Name"] for o in outputs.values()}
    imports = []
    for construct, attribute in constructs:
        logical_id = built.network.get_logical_id(construct.node.default_child)
        value = (
            {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}
        )
        imports.append({"Fn::ImportValue": by_value[json.dumps(value)]})
    return imports


def test_health_functions_run_in_the_app_subnets_behind_lambda_sg(synth: Synthesized) -> None:
    for built in synth.regions.values():
        network = built.network.network
        app_subnets = network.vpc.select_subnets(subnet_group_name=APP).subnets
        expected_subnets = _import_names(built, [(s, None) for s in app_subnets])
        (expected_sg,) = _import_names(built, [(network.lambda_sg, "GroupId")])
        for name in ("portal_health", "internal_health"):
            _, props = _function(built, name)
            assert props["VpcConfig"]["SubnetIds"] == expected_subnets
            assert props["VpcConfig"]["SecurityGroupIds"] == [expected_sg]
            assert props["ReservedConcurrentExecutions"] == api_module.HEALTH_RESERVED_CONCURRENCY
            assert props["TracingConfig"] == {"Mode": "Active"}
        assert not _of_type(built.template, "AWS::EC2::SecurityGroup")


def test_health_functions_get_the_environment_the_handler_reads(synth: Synthesized) -> None:
    for role, built in synth.regions.items():
        region = REGION if role == "api" else DR_REGION
        for name in ("portal_health", "internal_health"):
            _, props = _function(built, name)
            env = props["Environment"]["Variables"]
            assert env["HEALTH_TABLE"] == TABLE
            assert env["HEALTH_TABLE_KEY"] == "transaction_id"
            assert env["DB_PROXY_ENDPOINT"] == f"engine.proxy-abc.{region}.rds.amazonaws.com"
            assert env["DB_PORT"] == "5432"
            assert env["DB_NAME"] == "engine"
            assert env["DB_USER"] == "engine_health"
            assert props["Handler"] == "engine.handlers.health.handler"
            assert len(props["Layers"]) == 1


def test_health_log_groups_keep_portal_30_and_internal_90_days(synth: Synthesized) -> None:
    built = synth.regions["api"]
    for name, days in (("portal_health", 30), ("internal_health", 90)):
        log_group = getattr(built.api, name).log_group
        props = built.template["Resources"][_logical_id(built, log_group)]["Properties"]
        assert props["RetentionInDays"] == days
        assert props["KmsKeyId"] == _key_arn(REGION, "logs")


def _role_statements(built: Built, name: str) -> list[dict[str, Any]]:
    function = getattr(built.api, name)
    role = {"Ref": _logical_id(built, function.role)}
    statements = []
    for policy in _of_type(built.template, "AWS::IAM::ManagedPolicy").values():
        if role in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    inline = _of_type(built.template, "AWS::IAM::Policy").values()
    assert not [p for p in inline if role in p["Properties"].get("Roles", [])]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_health_roles_reach_only_the_table_the_key_and_the_db_user(synth: Synthesized) -> None:
    for role, built in synth.regions.items():
        region = REGION if role == "api" else DR_REGION
        for name in ("portal_health", "internal_health"):
            statements = _role_statements(built, name)
            by_service: dict[str, list[dict[str, Any]]] = {}
            for statement in statements:
                for action in _actions(statement):
                    by_service.setdefault(action.split(":")[0], []).append(statement)
            (dynamodb,) = {json.dumps(s) for s in by_service["dynamodb"]}
            dynamodb_statement = json.loads(dynamodb)
            assert sorted(_actions(dynamodb_statement)) == [
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
            ]
            assert dynamodb_statement["Resource"] == (
                f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{TABLE}"
            )
            (connect,) = by_service["rds-db"]
            assert _actions(connect) == ["rds-db:connect"]
            assert connect["Resource"] == _connect_arn(region)
            (decrypt,) = by_service["kms"]
            assert _actions(decrypt) == ["kms:Decrypt"]
            assert decrypt["Resource"] == _key_arn(region, "data")
            assert decrypt["Condition"] == {
                "StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}
            }


# ----------------------------------------------------------------- CORS


def test_cors_only_when_origins_are_configured(synth: Synthesized, variant: Synthesized) -> None:
    for built in synth.regions.values():
        methods = _of_type(built.template, "AWS::ApiGateway::Method").values()
        assert not [m for m in methods if m["Properties"]["HttpMethod"] == "OPTIONS"]
    built = variant.regions["api"]
    template = built.template
    portal = _route_keys(template, _api_methods(template, _logical_id(built, built.api.portal.api)))
    options = {k: m for k, m in portal.items() if k.startswith("OPTIONS ")}
    assert options, "CORS origins configured but no preflight methods"
    for method in options.values():
        assert method["AuthorizationType"] == "NONE"
        assert method.get("ApiKeyRequired") in (None, False)
        headers = method["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{CORS_ORIGIN}'"
    internal = _api_methods(template, _logical_id(built, built.api.internal.api))
    assert not [m for m in internal if m["HttpMethod"] == "OPTIONS"]


def _gateway_responses(built: Built, api: SecureRestApi) -> dict[str, dict[str, Any]]:
    api_id = _logical_id(built, api.api)
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in _of_type(built.template, "AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["RestApiId"] == {"Ref": api_id}
    }


def test_gateway_responses_answer_cors_for_the_portal_origin_only(
    synth: Synthesized, variant: Synthesized
) -> None:
    built = variant.regions["api"]
    portal = _gateway_responses(built, built.api.portal)
    assert portal
    for response_type, props in portal.items():
        origin = props["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert origin == f"'{CORS_ORIGIN}'", response_type
    for response_type, props in _gateway_responses(built, built.api.internal).items():
        assert not any("Access-Control" in h for h in props["ResponseParameters"]), response_type
    for b in synth.regions.values():  # prod configures no portal origin yet: no CORS at all
        for props in _of_type(b.template, "AWS::ApiGateway::GatewayResponse").values():
            assert "Access-Control" not in json.dumps(props)
    assert "'*'" not in json.dumps(built.template)


def test_the_portal_answers_cors_for_the_configured_origin_or_the_sites_name(
    prod: EngineConfig,
) -> None:
    from config.engine import DomainConfig

    assert prod.portal_origin is None
    assert dataclasses.replace(prod, portal_cors_origins=(CORS_ORIGIN,)).portal_origin == (
        CORS_ORIGIN
    )
    domain = DomainConfig(hosted_zone_id="Z1", zone_name="pay.fivestar.example")
    with_domain = dataclasses.replace(prod, domain=domain)
    assert with_domain.portal_origin == "https://portal.pay.fivestar.example"


REQUEST_TIME = "03/Dec/2026:06:40:00 +0000"
REQUEST_EPOCH = "1796280000123"


def render_gateway_template(template: str, message: str = '"Forbidden"') -> str:
    """API Gateway's rendering of the engine's template, for the Velocity it uses: the
    #set prelude, ${t.substring(a,b)}, ${e.substring(n)}, ${months.get(...)}, $context."""
    months = dict(re.findall(r'"([A-Z][a-z]{2})": "([0-9]{2})"', template))
    body = re.sub(r"#set\([^)]*\)(?=[#{])", "", template, count=2)
    body = re.sub(r"#set\(\$months = \{[^}]*\}\)", "", body)

    def substring(match: re.Match[str]) -> str:
        value = {"t": REQUEST_TIME, "e": REQUEST_EPOCH}[match.group(1)]
        start, _, end = match.group(2).partition(",")
        return value[int(start) : int(end)] if end else value[int(start) :]

    body = re.sub(r"\$\{months\.get\(\$t\.substring\(3,6\)\)\}", months[REQUEST_TIME[3:6]], body)
    body = re.sub(r"\$\{([te])\.substring\(([0-9,]+)\)\}", substring, body)
    body = body.replace("$context.error.validationErrorString", "[object has missing property]")
    body = body.replace("$context.error.messageString", message)
    body = body.replace("$context.requestId", "c0ffee00-1234-4bcd-9aaa-000000000001")
    assert "$" not in body and "#" not in body, body
    return body


def test_gateway_responses_are_in_the_engines_error_shape_with_a_final_newline(
    synth: Synthesized,
) -> None:
    import jsonschema

    from engine.models.errors import ERROR_RESPONSE

    codes = {
        "400": "VALIDATION_ERROR",
        "401": "UNAUTHORIZED",
        "403": "FORBIDDEN",
        "404": "NOT_FOUND",
        "429": "RATE_LIMITED",
        "504": "SERVICE_UNAVAILABLE",
    }
    for built in synth.regions.values():
        for api in (built.api.portal, built.api.internal):
            responses = _gateway_responses(built, api)
            assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "WAF_FILTERED"} <= set(responses)
            for response_type, props in responses.items():
                rendered = render_gateway_template(props["ResponseTemplates"]["application/json"])
                assert rendered.endswith("}\n"), response_type
                body = json.loads(rendered)
                jsonschema.validate(body, ERROR_RESPONSE)
                error = body["error"]
                assert error["timestamp"] == "2026-12-03T06:40:00.123Z"
                assert error["traceId"] == "c0ffee00-1234-4bcd-9aaa-000000000001"
                status = props.get("StatusCode")
                if status is not None:
                    assert error["code"] == codes[status], response_type
                headers = props["ResponseParameters"]
                assert headers["gatewayresponse.header.Content-Type"] == "'application/json'"
                if status == "429":
                    assert "gatewayresponse.header.Retry-After" in headers
            assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"


def test_receipts_are_answered_as_pdf(synth: Synthesized) -> None:
    for built in synth.regions.values():
        apis = {
            k: r["Properties"]
            for k, r in _of_type(built.template, "AWS::ApiGateway::RestApi").items()
        }
        portal = apis[_logical_id(built, built.api.portal.api)]
        assert portal["BinaryMediaTypes"] == ["application/pdf"]
        internal = apis[_logical_id(built, built.api.internal.api)]
        assert "BinaryMediaTypes" not in internal


def test_every_portal_route_is_served_by_its_declared_function(synth: Synthesized) -> None:
    from engine.declarations import FUNCTIONS, PORTAL_ROUTES
    from stacks.engine.functions import function_name

    prod = synth.regions["api"].api.cfg
    names = {spec.name: function_name(prod, spec) for spec in FUNCTIONS}
    for built in synth.regions.values():
        template = built.template
        routes = _route_keys(
            template, _api_methods(template, _logical_id(built, built.api.portal.api))
        )
        for route in PORTAL_ROUTES:
            uri = json.dumps(routes[f"{route.method} {route.path}"]["Integration"]["Uri"])
            if route.function == PORTAL_HEALTH.name:
                assert "PortalHealth" in uri
            else:
                assert f"function:{names[route.function]}" in uri, (route.path, uri)


# ----------------------------------------------------------------- stacks, outputs, nag, lint


def test_one_class_serves_both_regions(synth: Synthesized) -> None:
    mumbai, singapore = synth.regions["api"].api, synth.regions["dr-api"].api
    assert (mumbai.region, mumbai.stack_name) == (REGION, "engine-prod-api")
    assert (singapore.region, singapore.stack_name) == (DR_REGION, "engine-prod-dr-api")
    assert mumbai.termination_protection and singapore.termination_protection


def test_outputs_name_urls_key_id_and_pool_but_no_secret(synth: Synthesized) -> None:
    for built in synth.regions.values():
        outputs = built.template["Outputs"]
        for name in (
            "PortalApiUrl",
            "InternalApiUrl",
            "PortalApiKeyId",
            "StaffUserPoolId",
            "StaffUserPoolClientId",
        ):
            assert name in outputs, name
        pool = _logical_id(built, built.api.user_pool.user_pool)
        assert outputs["StaffUserPoolId"]["Value"] == {"Ref": pool}


def test_nag_finds_nothing_unacknowledged_in_either_region(
    synth: Synthesized, variant: Synthesized
) -> None:
    for result in (synth, variant):
        stacks = tuple(f"{b.api.node.path}/" for b in result.regions.values())
        plugins = result.report["pluginReports"]
        assert {p["pluginName"] for p in plugins} == {pack.value for pack in nag.Pack}
        for plugin in plugins:
            found = [
                (v["ruleName"], c["constructPath"])
                for v in plugin["violations"]
                for c in v["violatingConstructs"]
                if c["constructPath"].startswith(stacks)
            ]
            assert found == [], f"{plugin['pluginName']}: {found}"


def test_every_acknowledgment_in_the_api_stacks_is_still_needed(
    synth: Synthesized, variant: Synthesized
) -> None:
    for result in (synth, variant):
        used = {
            (s["acknowledgedAt"], s["acknowledgedId"])
            for plugin in result.report["pluginReports"]
            for s in plugin.get("suppressedViolations") or []
        }
        acknowledged = []
        for built in result.regions.values():
            metadata = _read(result.outdir / f"{built.api.artifact_id}.metadata.json")
            for path, entries in metadata.items():
                for entry in entries:
                    if entry["type"] == "aws:cdk:acknowledged-rules":
                        acknowledged += [(path.lstrip("/"), ack_id) for ack_id in entry["data"]]
        assert acknowledged
        stale = [ack for ack in acknowledged if ack not in used]
        assert stale == [], f"acknowledgments that suppress nothing: {stale}"


def test_cfn_lint_is_clean(synth: Synthesized, variant: Synthesized) -> None:
    paths = [
        str(result.outdir / built.api.template_file)
        for result in (synth, variant)
        for built in result.regions.values()
    ]
    run = subprocess.run(
        [cfn_lint(), "--format", "json", "--regions", REGION, DR_REGION, "--", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode & ~WARNING_OR_INFO_BITS == 0, run.stderr or run.stdout
    unexpected = [
        m for m in json.loads(run.stdout or "[]") if m["Rule"]["Id"] not in TOLERATED_WARNINGS
    ]
    assert unexpected == [], json.dumps(unexpected)[:3000]


# ----------------------------------------------------------------- input validation


def _try(synth: Synthesized, prod: EngineConfig, **changes: Any) -> None:
    kwargs: dict[str, Any] = {
        "cfg": prod,
        "region_role": "api",
        "env": prod.cdk_environment,
        "network": synth.regions["api"].network.network,
        "logs_key_arn": _key_arn(REGION, "logs"),
        "data_key_arn": _key_arn(REGION, "data"),
        "health_table_name": TABLE,
        "database": _database(REGION),
        "staff_inputs": _staff_inputs(prod, REGION),
    } | changes
    EngineApiStack(cdk.App(), "Bad", **kwargs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"region_role": "primary"}, "region_role must be one of"),
        ({"region_role": "dr-api"}, "dr-api belongs in ap-southeast-1"),
        ({"database": _database(REGION, user="postgres")}, "must be 'engine_health'"),
        ({"database": _database(REGION, port=0)}, "not a TCP port"),
        (
            {"database": _database(REGION, connect_resource_arn="arn:aws:rds:x")},
            "not an rds-db dbuser ARN",
        ),
        (
            {"database": _database(REGION, connect_resource_arn=_connect_arn(DR_REGION))},
            "is in ap-southeast-1",
        ),
        (
            {
                "database": _database(
                    REGION, connect_resource_arn=_connect_arn(REGION).replace("engine_health", "x")
                )
            },
            "must end with /engine_health",
        ),
        ({"health_table_name": ""}, "must name the Transactions table"),
    ],
)
def test_inconsistent_inputs_are_refused(
    synth: Synthesized, prod: EngineConfig, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _try(synth, prod, **changes)


def test_dr_api_needs_dr_and_the_dr_network(synth: Synthesized, prod: EngineConfig) -> None:
    dev = load_engine("dev")
    with pytest.raises(ValueError, match="has no DR Region"):
        _try(synth, dev, region_role="dr-api", env=dev.dr_cdk_environment, cfg=dev)
    with pytest.raises(ValueError, match="the network is in ap-south-1"):
        _try(
            synth,
            prod,
            region_role="dr-api",
            env=prod.dr_cdk_environment,
            database=_database(DR_REGION),
        )


def test_web_acl_rate_limit_takes_exactly_one_window() -> None:
    key = kms.Key.from_key_arn(cdk.Stack(cdk.App(), "S"), "K", _key_arn(REGION, "logs"))
    base = RegionalWebAclProps(
        name="n",
        log_encryption_key=key,
        log_retention=logs.RetentionDays.ONE_MONTH,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    assert dataclasses.replace(base, rate_limit_per_5min_per_ip=300).rate_limit() == (300, 300)
    assert dataclasses.replace(base, rate_limit_per_minute_per_ip=100).rate_limit() == (100, 60)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "exactly one"),
        ({"rate_limit_per_5min_per_ip": 300, "rate_limit_per_minute_per_ip": 100}, "exactly one"),
        ({"rate_limit_per_minute_per_ip": 9}, "at least 10 per minute"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(base, **bad).rate_limit()
    with pytest.raises(ValueError, match="unknown managed rule groups"):
        dataclasses.replace(base, extra_managed_rule_groups=("MadeUp",)).managed_rule_groups()


def test_rest_api_refuses_bad_key_plans_and_cors_origins(synth: Synthesized) -> None:
    built = synth.regions["api"]
    function = built.api.portal_health.function
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = kms.Key.from_key_arn(stack, "K", _key_arn(REGION, "logs"))
    health = Route("GET", "/health", PORTAL_HEALTH.name, auth="none", summary="s")
    base = SecureRestApiProps(
        api_name="a",
        description="d",
        routes=[health],
        functions={PORTAL_HEALTH.name: function},
        throttle_rate_limit=10,
        throttle_burst_limit=10,
        execution_logging_level="ERROR",
        log_encryption_key=key,
        log_retention=logs.RetentionDays.ONE_MONTH,
        log_removal_policy=cdk.RemovalPolicy.DESTROY,
        no_cache_reason="r",
        public_route_reasons={"GET /health": "r"},
        waf_rate_limit_per_minute_per_ip=100,
    )
    for changes, message in (
        ({"api_keys": ApiKeyPlan(quota_per_day=0)}, "quota_per_day"),
        (
            {"api_keys": ApiKeyPlan(quota_per_day=1, keyless_route_reasons={"GET /x": "r"})},
            "not routes of this API",
        ),
        (
            {"api_keys": ApiKeyPlan(quota_per_day=1, keyless_route_reasons={"GET /health": " "})},
            "need a reason",
        ),
        ({"cors_origins": ["*"]}, "exact https"),
        ({"cors_origins": ["http://portal.example.in"]}, "exact https"),
        ({"cors_origins": ["https://portal.example.in/app"]}, "exact https"),
    ):
        with pytest.raises(ValueError, match=message):
            SecureRestApi(
                stack, f"Api{len(stack.node.children)}", dataclasses.replace(base, **changes)
            )
