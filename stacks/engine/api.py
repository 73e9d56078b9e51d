"""The engine's two REST APIs in one Region: Mumbai ("api") or the Singapore standby ("dr-api").

* Customer portal API: public (no Cognito); an API key on every method but
  `GET /health` and RazorPay's webhook, metered by a usage plan (the platform's rule:
  API keys are required for all customer endpoints), and a WAF web ACL with the AWS
  managed rule groups plus 100 requests per minute per IP. `GET /health` takes no key
  because Route 53 health checkers cannot send one (a keyed check would always read
  403, i.e. "down"); the webhook takes none because RazorPay cannot send one, and is
  outside the per-IP rate rule (RazorPay sends every customer's events from a few
  addresses and disables a webhook that fails for a day). Every route but /health is
  served by a function of the Region's service stack (stacks/engine/service.py),
  named by its fixed name. CORS answers the configured portal origin only, gateway
  error responses included; receipts are answered as PDF (a binary media type).
* Internal engine API: Cognito-authorized against the staff user pool (one group
  per staff role), WAF at 500 requests per minute per IP.
* Both: stage "v1", throttling 2000 burst / 1000 rate, JSON access logs, execution
  logs at ERROR, X-Ray, no cache, the engine's error shape for the gateway's own
  refusals (cdk_constructs/gateway_responses.py), and a real `GET /health` Lambda per
  API that reads
  DynamoDB and runs `SELECT 1` through the database endpoint it is given (RDS Proxy
  in Mumbai, the read replica in Singapore), answering 503 when either is down.
  That is what the Route 53 failover health checks call.

Everything here is built from names and ARNs (strings), so one class serves both
Regions with no cross-Region reference; only the VPC comes from a stack in the same
Region. The staff user pool lives here because the internal API's authorizer needs
it in its own Region; Cognito pools are not replicated, so the standby has its own
pool (staff enrol there too). The pool is stateful: deletion protection, retention
(RetainExceptOnCreate) and termination protection come from config.

The business functions bound to the pool are built here too, beside it, as the service
stack builds the others (stacks/engine/builder.py, access.beside_the_pool): InternalUsers
and HrmsSync name the pool (its id is random, known only in this stack, which deploys after
the service stack: naming it from there would be a dependency cycle), and StaffSignIn is
its post-authentication trigger, added where the pool is defined so that its invoke
permission names this pool alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction
from cdk_constructs.gateway_responses import ENGINE as ENGINE_GATEWAY_ERRORS
from cdk_constructs.keys import grant_via_service
from cdk_constructs.network import ThreeTierVpc
from cdk_constructs.rest_api import (
    ApiGatewayAccount,
    ApiKeyPlan,
    SecureRestApi,
    SecureRestApiProps,
    route_key,
)
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.user_pool import AdminUserPool, AdminUserPoolProps, StaffGroup
from cdk_constructs.waf import RegionalWebAcl
from config.engine import EngineConfig
from engine.declarations import (
    EVENT_SOURCES,
    FUNCTIONS,
    INTERNAL_HEALTH,
    INTERNAL_ROUTES,
    PORTAL_HEALTH,
    PORTAL_ROUTES,
    RAZORPAY_WEBHOOK,
    SCHEDULES,
    STAFF_ROLES,
    STAFF_SIGN_IN,
)
from engine.tables import TRANSACTIONS
from shared.declarations import FunctionSpec, Route
from stacks.engine import access
from stacks.engine.builder import BuildContext, FunctionBuilder
from stacks.engine.database import HEALTH_USER as HEALTH_DB_USER
from stacks.engine.functions import (
    EngineFunctionProps,
    EngineRuntime,
    engine_function,
    function_name,
    nist,
)
from stacks.engine.grants import Granter, StaffPoolRef
from stacks.engine.service import ServiceInputs, region_resources

REGION_ROLES = ("api", "dr-api")
STAGE_NAME = "v1"
# engine.handlers.health reads a never-existing key of the health table, which is
# the Transactions global table (health_table_name must name it).
HEALTH_TABLE_KEY = TRANSACTIONS.partition_key.name
# Route 53 probes each health endpoint from about 15 checkers every 10-30 s, i.e. up
# to ~1.5 requests/s; a call lasts up to ~4 s when a dependency hangs (two 2-s
# timeouts), so ~6 run at once in the worst case. 10 leaves room for operators'
# calls and caps what a flood of unauthenticated /health calls can take from the
# account's concurrency (NIST/Serverless LambdaConcurrency).
HEALTH_RESERVED_CONCURRENCY = 10
WAF_EXTRA_RULE_GROUPS = ("AWSManagedRulesSQLiRuleSet",)
EXECUTION_LOGGING_LEVEL = "ERROR"

HEALTH_ROUTE_REASON = (
    "GET /health is what Route 53 failover health checks call, and Route 53 health "
    "checkers cannot send Cognito tokens or any custom header. It returns only "
    "ok/unavailable per dependency and the Region (no data, no error messages); WAF "
    "(managed rules, per-IP rate limit), stage throttling and the function's "
    "reserved concurrency bound what an anonymous caller can do with it."
)
PORTAL_ROUTE_REASON = (
    "Customer portal route: customers are not Cognito users. The caller must present "
    "the portal's API key (usage plan: per-key throttle and daily quota), the route's "
    "handler authenticates the customer's session itself, and WAF managed rules and "
    "the 100-per-minute per-IP rate limit apply before either."
)
WEBHOOK_ROUTE = f"POST {next(r.path for r in PORTAL_ROUTES if r.function == RAZORPAY_WEBHOOK.name)}"
WEBHOOK_ROUTE_REASON = (
    "RazorPay's webhooks carry no API key and no Cognito token: RazorPay cannot send either. "
    "The handler authenticates every call itself: an HMAC-SHA256 of the raw body with the "
    "webhook secret (current or previous), compared in constant time, before anything is "
    "read or written; a forged call is a 401 that changes nothing. WAF's managed rules and "
    "stage throttling still apply."
)
WEBHOOK_RATE_REASON = (
    "RazorPay delivers every customer's webhooks from a few addresses, so a per-IP limit "
    "sized for one customer would refuse them at volume, and RazorPay disables a webhook "
    "that keeps failing for 24 hours. Each call is authenticated by its signature; stage "
    "throttling and the function's reserved concurrency bound it."
)
# Routes of the portal reachable without the API key. Route 53 health checks cannot
# send the x-api-key header; a keyed /health would always read 403, i.e. "down".
PORTAL_KEYLESS_ROUTES = {"GET /health": HEALTH_ROUTE_REASON, WEBHOOK_ROUTE: WEBHOOK_ROUTE_REASON}
# Receipts answer as PDF for `Accept: application/pdf` (a base64 body API Gateway decodes).
BINARY_MEDIA_TYPES = ("application/pdf",)
HEALTH_NO_DLQ_REASON = (
    "Only API Gateway invokes the health functions, synchronously (Lambda proxy "
    "integration): a failure is returned to the caller as the 5xx that makes the "
    "health check fail, which is the point. There is no asynchronous invocation whose "
    "event could be lost, so an on-failure queue would never receive anything."
)
NO_CACHE_REASON = (
    "Responses are never cached: /health must reflect the dependencies at the moment "
    "of the check (a cached 200 would hide an outage from failover), and the other "
    "routes answer per caller with payment state that changes with every transaction. "
    "With caching off there is no cache to encrypt."
)
NO_CLIENT_CERTIFICATE_REASON = (
    "Client certificates let an HTTP backend verify that calls come from API Gateway. "
    "Every integration of these APIs is a Lambda proxy, invoked through "
    "lambda:InvokeFunction permissions scoped to the API, so there is no HTTP backend "
    "to present a certificate to."
)


@dataclass(frozen=True)
class DatabaseEndpoint:
    """Where the health functions run `SELECT 1`, and the IAM resource that lets them log in."""

    host: str
    port: int
    name: str
    user: str
    # arn:aws:rds-db:<region>:<account>:dbuser:<proxy or instance resource id>/<user>
    connect_resource_arn: str

    def problems(self, region: str) -> list[str]:
        found = []
        if not 1 <= self.port <= 65535:
            found.append(f"database.port {self.port} is not a TCP port")
        for name in ("host", "name", "user"):
            if not getattr(self, name):
                found.append(f"database.{name} must not be empty")
        if self.user != HEALTH_DB_USER:
            found.append(f"database.user must be {HEALTH_DB_USER!r}, the health-check login role")
        # Literal parts survive in a string with embedded tokens, so this holds either way.
        arn = self.connect_resource_arn
        if not arn.startswith("arn:aws:rds-db:") or ":dbuser:" not in arn:
            found.append(f"database.connect_resource_arn {arn!r} is not an rds-db dbuser ARN")
        elif not arn.endswith(f"/{self.user}"):
            found.append(f"database.connect_resource_arn must end with /{self.user}")
        else:
            arn_region = arn.split(":")[3]
            if not cdk.Token.is_unresolved(arn_region) and arn_region != region:
                found.append(
                    f"database.connect_resource_arn is in {arn_region}, the stack in {region}"
                )
        return found


class EngineApiStack(ConfiguredStack):
    """Both APIs of one Region, their health functions and the staff user pool.

    MFA is stricter than the platform's rule ("TOTP for privileged users"), which asks
    MFA of the privileged roles (SuperAdmin, Admin, FinanceTeam, BranchManager), but
    Cognito sets MFA per pool, not per group. The staff pool therefore requires TOTP
    MFA (no SMS) of every member; a per-group rule would also leave a user who is
    promoted into a privileged group unenrolled.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        region_role: str,
        env: cdk.Environment,
        network: ThreeTierVpc,
        logs_key_arn: str,
        data_key_arn: str,
        health_table_name: str,
        database: DatabaseEndpoint,
        staff_inputs: ServiceInputs,
        **kwargs: Any,
    ) -> None:
        region = _check_inputs(
            cfg=cfg,
            region_role=region_role,
            env=env,
            network=network,
            health_table_name=health_table_name,
            database=database,
        )
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name(region_role),
            description=f"Payments engine {cfg.env_name}: portal and internal REST APIs "
            f"in {region}",
            env=env,
            availability_zones=network.props.availability_zones,
            # The staff user pool is stateful.
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        self.region_role = region_role
        self.network = network
        self.database = database
        self.health_table_name = health_table_name
        # Imported by ARN: grants here must not write into the keys stacks' key policies.
        self.logs_key = kms.Key.from_key_arn(self, "LogsKeyRef", logs_key_arn)
        self.data_key = kms.Key.from_key_arn(self, "DataKeyRef", data_key_arn)
        self.runtime = EngineRuntime(self, "Runtime")
        self.layer = self.runtime.layer
        self.portal_health = self._health_function(PORTAL_HEALTH, "portal")
        self.internal_health = self._health_function(INTERNAL_HEALTH, "internal")
        self.user_pool = self._user_pool()
        self.staff_functions = self._staff_functions(staff_inputs)
        # One account-level execution-log role for both APIs (one setting per Region).
        self.api_gateway_account = ApiGatewayAccount(self, "ApiGatewayAccount")
        self.portal = self._portal_api()
        self.internal = self._internal_api()
        self.web_acls: dict[str, RegionalWebAcl] = {
            "Portal": self.portal.web_acl,
            "Internal": self.internal.web_acl,
        }
        self._outputs()

    # ----------------------------------------------------------------- functions

    def _health_function(self, spec: FunctionSpec, api: str) -> SecureFunction:
        cfg = self.cfg
        retention = cfg.portal_log_retention if api == "portal" else cfg.internal_log_retention
        function = engine_function(
            self,
            EngineFunctionProps(
                cfg=cfg,
                spec=spec,
                runtime=self.runtime,
                network=self.network,
                log_encryption_key=self.logs_key,
                log_retention=retention,
                reserved_concurrency=HEALTH_RESERVED_CONCURRENCY,
                environment_key=self.data_key,
                no_dlq_reason=HEALTH_NO_DLQ_REASON,
                environment=self._health_environment(api),
            ),
        )
        self._grant_health_reads(function)
        return function

    def _health_environment(self, api: str) -> dict[str, str]:
        database = self.database
        return {
            "POWERTOOLS_SERVICE_NAME": f"{self.cfg.system}-{api}-health",
            "HEALTH_TABLE": self.health_table_name,
            "HEALTH_TABLE_KEY": HEALTH_TABLE_KEY,
            "DB_PROXY_ENDPOINT": database.host,
            "DB_PORT": str(database.port),
            "DB_NAME": database.name,
            "DB_USER": database.user,
        }

    def _grant_health_reads(self, function: SecureFunction) -> None:
        """Exactly what engine.handlers.health does: one GetItem and one IAM-auth login."""
        table_arn = self.format_arn(
            partition="aws",
            service="dynamodb",
            resource="table",
            resource_name=self.health_table_name,
        )
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["dynamodb:GetItem", "dynamodb:DescribeTable"],
            resource_arns=[table_arn],
        )
        # The table is encrypted with the data key: reads decrypt through DynamoDB only.
        grant_via_service(function.function, self.data_key, "dynamodb", ["kms:Decrypt"])
        iam.Grant.add_to_principal(
            grantee=function.function,
            actions=["rds-db:connect"],
            resource_arns=[self.database.connect_resource_arn],
        )

    # ----------------------------------------------------------------- staff pool

    def _user_pool(self) -> AdminUserPool:
        """The staff pool: invite-only, TOTP MFA for everyone (see the class docstring)."""
        cfg = self.cfg
        return AdminUserPool(
            self,
            "StaffUserPool",
            AdminUserPoolProps(
                user_pool_name=cfg.resource_name("staff"),
                removal_policy=cfg.removal_policy,
                deletion_protection=cfg.deletion_protection,
                groups=[
                    StaffGroup(name=name, description=description, precedence=precedence)
                    for name, description, precedence in STAFF_ROLES
                ],
            ),
        )

    def _staff_functions(self, inputs: ServiceInputs) -> dict[str, SecureFunction]:
        """The pool-bound business functions (module docstring), their schedules, and the
        sign-in trigger: CDK adds it to the pool's LambdaConfig with an invoke permission for
        cognito-idp.amazonaws.com whose SourceArn is this pool."""
        cfg = self.cfg
        pool = self.user_pool.user_pool
        # This stack's own key references serve them (inputs' key ARNs name the same keys).
        resources = region_resources(
            cfg, inputs, self.data_key, {}, StaffPoolRef(pool.user_pool_id, pool.user_pool_arn)
        )
        builder = FunctionBuilder(
            self,
            BuildContext(
                cfg=cfg,
                network=self.network,
                runtime=self.runtime,
                logs_key=self.logs_key,
                data_key=self.data_key,
                granter=Granter(self, resources),
                active=self.region == cfg.active_region,
            ),
        )
        specs = [s for s in access.service_functions() if access.beside_the_pool(s.name)]
        functions = {spec.name: builder.function(spec) for spec in specs}
        for schedule in SCHEDULES:
            if schedule.function in functions:
                builder.schedule(schedule)
        streamed = [s.function for s in EVENT_SOURCES if s.function in functions]
        if streamed or STAFF_SIGN_IN.name not in functions:
            raise ValueError(
                f"the pool's functions {sorted(functions)} take no event source ({streamed}) "
                f"and include the {STAFF_SIGN_IN.name} trigger"
            )
        pool.add_trigger(
            cognito.UserPoolOperation.POST_AUTHENTICATION,
            functions[STAFF_SIGN_IN.name].function,
        )
        return functions

    # ----------------------------------------------------------------- APIs

    def _api_props(
        self,
        *,
        api: str,
        description: str,
        routes: tuple[Route, ...],
        functions: dict[str, lambda_.IFunction],
        rate_limit_per_minute: int,
        public_route_reasons: dict[str, str],
        **extra: Any,
    ) -> SecureRestApiProps:
        cfg = self.cfg
        return SecureRestApiProps(
            api_name=cfg.resource_name(f"{api}-api"),
            description=description,
            routes=routes,
            functions=functions,
            throttle_rate_limit=cfg.api_throttle_rate_limit,
            throttle_burst_limit=cfg.api_throttle_burst_limit,
            execution_logging_level=EXECUTION_LOGGING_LEVEL,
            waf_rate_limit_per_minute_per_ip=rate_limit_per_minute,
            waf_extra_managed_rule_groups=WAF_EXTRA_RULE_GROUPS,
            log_encryption_key=self.logs_key,
            log_retention=cfg.api_access_log_retention,
            log_removal_policy=cfg.removal_policy,
            no_cache_reason=NO_CACHE_REASON,
            public_route_reasons=public_route_reasons,
            stage_name=STAGE_NAME,
            api_gateway_account=self.api_gateway_account,
            gateway_errors=ENGINE_GATEWAY_ERRORS,
            **extra,
        )

    def _portal_api(self) -> SecureRestApi:
        cfg = self.cfg
        routes = PORTAL_ROUTES
        reasons = {"GET /health": HEALTH_ROUTE_REASON, WEBHOOK_ROUTE: WEBHOOK_ROUTE_REASON}
        public = {
            route_key(r): reasons.get(route_key(r), PORTAL_ROUTE_REASON)
            for r in routes
            if r.auth == "none"
        }
        origin = cfg.portal_origin
        api = SecureRestApi(
            self,
            "PortalApi",
            self._api_props(
                api="portal",
                description=f"Payments engine {cfg.env_name} customer portal API",
                routes=routes,
                functions=self._route_functions(routes, self.portal_health),
                rate_limit_per_minute=cfg.portal_rate_limit_per_minute_per_ip,
                public_route_reasons=public,
                api_keys=ApiKeyPlan(
                    quota_per_day=cfg.portal_usage_plan_quota_per_day,
                    keyless_route_reasons={
                        k: v for k, v in PORTAL_KEYLESS_ROUTES.items() if k in public
                    },
                ),
                cors_origins=(origin,) if origin else (),
                binary_media_types=BINARY_MEDIA_TYPES,
                rate_limit_exempt_route_reasons=(
                    {WEBHOOK_ROUTE: WEBHOOK_RATE_REASON} if WEBHOOK_ROUTE in public else {}
                ),
            ),
        )
        self._acknowledge_stage(api)
        return api

    def _internal_api(self) -> SecureRestApi:
        cfg = self.cfg
        routes = INTERNAL_ROUTES
        public = {route_key(r): HEALTH_ROUTE_REASON for r in routes if r.auth == "none"}
        non_health = [key for key in public if key != "GET /health"]
        if non_health:
            raise ValueError(
                f"internal routes {non_health} are declared auth='none'; only GET /health "
                "may skip the staff authorizer"
            )
        api = SecureRestApi(
            self,
            "InternalApi",
            self._api_props(
                api="internal",
                description=f"Payments engine {cfg.env_name} internal engine API (staff)",
                routes=routes,
                functions=self._route_functions(routes, self.internal_health),
                rate_limit_per_minute=cfg.internal_rate_limit_per_minute_per_ip,
                public_route_reasons=public,
                user_pool=self.user_pool.user_pool,
            ),
        )
        self._acknowledge_stage(api)
        return api

    def _route_functions(
        self, routes: tuple[Route, ...], health: SecureFunction
    ) -> dict[str, lambda_.IFunction]:
        """The functions built here (health, the pool's), and the service stack's by their
        fixed names (its stack deploys first; the invoke permissions are created here, beside
        each route)."""
        specs = {spec.name: spec for spec in FUNCTIONS}
        found: dict[str, lambda_.IFunction] = {health.spec.name: health.function}
        found |= {name: f.function for name, f in self.staff_functions.items()}
        for name in dict.fromkeys(r.function for r in routes if r.function not in found):
            found[name] = lambda_.Function.from_function_attributes(
                self,
                f"{name}Ref",
                function_arn=self.format_arn(
                    partition="aws",
                    service="lambda",
                    resource="function",
                    resource_name=function_name(self.cfg, specs[name]),
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                same_environment=True,
            )
        return found

    def _acknowledge_stage(self, api: SecureRestApi) -> None:
        """The two findings SecureRestApi acknowledges for PCI DSS, restated for NIST."""
        nag.acknowledge(
            api.stage,
            "NIST.800.53.R5-APIGWSSLEnabled",
            nist("SC-8, SC-23, AC-17(2)", NO_CLIENT_CERTIFICATE_REASON),
        )
        nag.acknowledge(
            api.stage,
            "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
            nist("SC-28(1), SC-8(3), AU-9(3)", NO_CACHE_REASON),
        )

    def _outputs(self) -> None:
        assert self.portal.api_key is not None
        outputs = {
            "PortalApiUrl": self.portal.url,
            "PortalRestApiId": self.portal.api.rest_api_id,
            # The id only: read the value with `aws apigateway get-api-key --include-value`.
            "PortalApiKeyId": self.portal.api_key.key_id,
            "InternalApiUrl": self.internal.url,
            "InternalRestApiId": self.internal.api.rest_api_id,
            "StaffUserPoolId": self.user_pool.user_pool.user_pool_id,
            "StaffUserPoolClientId": self.user_pool.client.user_pool_client_id,
        }
        for key, value in outputs.items():
            cdk.CfnOutput(self, key, value=value)


def _check_inputs(
    *,
    cfg: EngineConfig,
    region_role: str,
    env: cdk.Environment,
    network: ThreeTierVpc,
    health_table_name: str,
    database: DatabaseEndpoint,
) -> str:
    """The Region the stack is for; every inconsistency in one ValueError."""
    if region_role not in REGION_ROLES:
        raise ValueError(f"region_role must be one of {REGION_ROLES}, got {region_role!r}")
    expected = cfg.region if region_role == "api" else cfg.dr_region
    region = env.region or ""
    problems = []
    if region != expected:
        problems.append(f"{region_role} belongs in {expected}, env says {region or 'nothing'}")
    if region_role == "dr-api" and not cfg.dr_enabled:
        problems.append(f"{cfg.env_name} has no DR Region: a dr-api stack has nothing to serve")
    if env.account != cfg.account:
        problems.append(f"env.account {env.account} is not the config's account {cfg.account}")
    network_region = cdk.Stack.of(network).region
    if network_region != region:
        problems.append(f"the network is in {network_region}, the stack in {region}")
    # A token is fine from a stack in this Region; CDK itself refuses one from the other
    # Region, where the caller passes the name as a string (replicas share it).
    if not health_table_name:
        problems.append("health_table_name must name the Transactions table")
    problems += database.problems(region)
    if problems:
        raise ValueError("EngineApiStack: " + "; ".join(problems))
    return region


__all__ = ["DatabaseEndpoint", "EngineApiStack"]
