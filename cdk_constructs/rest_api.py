"""A regional REST API built from route declarations, with the edge controls on.

Always on: stage throttling, JSON access logs and execution logs in CMK-encrypted
log groups, X-Ray, data tracing off (request bodies carry PII), request validation
(body models and required headers), error responses in the API's error shape, and
a WAF web ACL on the stage. Routes are Cognito-authorized unless a route is
declared `auth="none"`, which needs a written reason.

Optional, off unless asked for: API keys on every method with a usage plan (a
route without a key needs a written reason too), CORS for named HTTPS origins (the
gateway's own error responses name the origin too when there is one), binary media
types, another error shape (cdk_constructs/gateway_responses.py), extra WAF managed
rule groups, a per-minute WAF window, routes the per-IP rate rule leaves alone (a
provider's webhooks: their sender's few addresses carry every customer's events), and
one API Gateway account role shared by several APIs of a stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.gateway_responses import DOCUMENTED, GatewayErrorShape
from cdk_constructs.json_schema import to_json_schema
from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps
from cdk_constructs.waf import RegionalWebAcl, RegionalWebAclProps
from shared.declarations import Route

_EXECUTION_LOG_ACTIONS = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
]
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
    # Cognito subject: who initiated a payout, without their name or email.
    "principal": "$context.authorizer.claims.sub",
}


# Headers a browser may send cross-origin, beyond a route's own required headers.
_CORS_HEADERS = ("Content-Type", "Authorization", "X-Api-Key")


def route_key(route: Route) -> str:
    return f"{route.method} {route.path}"


@dataclass(frozen=True)
class ApiKeyPlan:
    """API keys on every method, metered by one usage plan tied to the stage.

    The plan throttles each key at the stage's rate and burst and caps it per day.
    One key is created; API Gateway generates its value, so it is never in code, a
    template or a parameter. A route reachable without a key needs a written reason.
    """

    quota_per_day: int
    # "METHOD /path" -> why the route takes no API key (e.g. a health check).
    keyless_route_reasons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecureRestApiProps:
    api_name: str
    description: str
    routes: Sequence[Route]
    functions: Mapping[str, lambda_.IFunction]
    throttle_rate_limit: float
    throttle_burst_limit: int
    execution_logging_level: str
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy
    # Why responses are never cached (PCI DSS 3.2.1 APIGWCacheEnabledAndEncrypted).
    no_cache_reason: str
    user_pool: cognito.IUserPool | None = None
    # "METHOD /path" -> why the route has no gateway authorizer.
    public_route_reasons: Mapping[str, str] = field(default_factory=dict)
    stage_name: str = "v1"
    # WAF per-IP rate limit: exactly one of the two windows.
    waf_rate_limit_per_5min_per_ip: int | None = None
    waf_rate_limit_per_minute_per_ip: int | None = None
    # Added to the web ACL's base managed rule groups, e.g. AWSManagedRulesSQLiRuleSet.
    waf_extra_managed_rule_groups: Sequence[str] = ()
    api_keys: ApiKeyPlan | None = None
    # HTTPS origins a browser may call the API from; empty: no CORS at all.
    cors_origins: Sequence[str] = ()
    # Content types answered as binary (a Lambda's base64 body decoded), e.g. application/pdf.
    binary_media_types: Sequence[str] = ()
    # The body of the gateway's own error responses.
    gateway_errors: GatewayErrorShape = DOCUMENTED
    # "METHOD /path" of routes the per-IP rate rule does not count (each needs a reason).
    rate_limit_exempt_route_reasons: Mapping[str, str] = field(default_factory=dict)
    # The account-wide execution-log role; None: this API creates its own. Several
    # APIs in one stack share one, since the setting is one per account and Region.
    api_gateway_account: ApiGatewayAccount | None = None


class SecureRestApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: SecureRestApiProps) -> None:
        super().__init__(scope, construct_id)
        _check_routes(props)
        self.access_log_group = self._log_group("AccessLogs", props)
        self.account = props.api_gateway_account or ApiGatewayAccount(self, "Account")
        self.api = self._rest_api(props)
        self.stage = self.api.deployment_stage
        # The literal name: metrics and alarms use it without a cross-stack reference.
        self.stage_name = props.stage_name
        self.stage.node.add_dependency(self.account.cfn_account)
        self.execution_log_group = self._log_group(
            "ExecutionLogs",
            props,
            name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{props.stage_name}",
        )
        self.stage.node.add_dependency(self.execution_log_group)
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self.authorizer = self._authorizer(props)
        self.methods = {route_key(r): self._method(r, props) for r in props.routes}
        self._gateway_responses(props)
        self.usage_plan, self.api_key = self._api_keys(props)
        self.web_acl = self._web_acl(props)
        self._acknowledge(props)

    @property
    def url(self) -> str:
        return self.api.url

    def _log_group(
        self, construct_id: str, props: SecureRestApiProps, name: str | None = None
    ) -> logs.LogGroup:
        return EncryptedLogGroup(
            self,
            construct_id,
            EncryptedLogGroupProps(
                log_group_name=name,
                encryption_key=props.log_encryption_key,
                retention=props.log_retention,
                removal_policy=props.log_removal_policy,
            ),
        ).log_group

    def _rest_api(self, props: SecureRestApiProps) -> apigateway.RestApi:
        level = apigateway.MethodLoggingLevel[props.execution_logging_level]
        access_log_fields = dict(_ACCESS_LOG_FIELDS)
        if props.api_keys is not None:
            # Which client app called: the key's id, never its value.
            access_log_fields["apiKeyId"] = "$context.identity.apiKeyId"
        return apigateway.RestApi(
            self,
            "Api",
            rest_api_name=props.api_name,
            description=props.description,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=props.stage_name,
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(access_log_fields)),
                method_options={
                    "/*/*": apigateway.MethodDeploymentOptions(
                        throttling_rate_limit=props.throttle_rate_limit,
                        throttling_burst_limit=props.throttle_burst_limit,
                        logging_level=level,
                        data_trace_enabled=False,
                        metrics_enabled=False,
                    )
                },
            ),
            default_cors_preflight_options=_cors_options(props),
            binary_media_types=list(props.binary_media_types) or None,
        )

    def _authorizer(self, props: SecureRestApiProps) -> apigateway.IAuthorizer | None:
        if not any(route.auth == "cognito" for route in props.routes):
            return None
        if props.user_pool is None:
            raise ValueError("routes with auth='cognito' need a user_pool")
        return apigateway.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[props.user_pool]
        )

    def _method(self, route: Route, props: SecureRestApiProps) -> apigateway.Method:
        resource = self.api.root.resource_for_path(route.path)
        integration = apigateway.LambdaIntegration(
            props.functions[route.function], proxy=True, allow_test_invoke=False
        )
        cognito = route.auth == "cognito"
        keys = props.api_keys
        # True or absent, never False: without keys the template stays as it was.
        key_required = True if keys and route_key(route) not in keys.keyless_route_reasons else None
        return resource.add_method(
            route.method,
            integration,
            authorization_type=(
                apigateway.AuthorizationType.COGNITO
                if cognito
                else apigateway.AuthorizationType.NONE
            ),
            authorizer=self.authorizer if cognito else None,
            api_key_required=key_required,
            request_validator=self.validator,
            request_models=self._request_models(route),
            request_parameters={
                f"method.request.header.{header}": True for header in route.required_headers
            }
            or None,
        )

    def _request_models(self, route: Route) -> dict[str, apigateway.IModel] | None:
        if route.request_model is None:
            return None
        title = route.request_model.get("title") or f"{route.function}Request"
        model = self.api.add_model(
            f"{title}Model",
            content_type="application/json",
            model_name="".join(ch for ch in title if ch.isalnum()),
            schema=to_json_schema(route.request_model),
        )
        return {"application/json": model}

    def _gateway_responses(self, props: SecureRestApiProps) -> None:
        shape = props.gateway_errors
        # One origin only: a gateway response cannot choose among several per request.
        cors = (
            {"Access-Control-Allow-Origin": f"'{props.cors_origins[0]}'"}
            if len(props.cors_origins) == 1
            else {}
        )
        for error in shape.errors:
            headers = {"Content-Type": "application/json", **error.headers}
            self.api.add_gateway_response(
                shape.construct_id(error),
                type=error.response_type,
                status_code=error.status,
                response_headers={name: f"'{value}'" for name, value in headers.items()} | cors,
                templates={"application/json": shape.render(error)},
            )

    def _api_keys(
        self, props: SecureRestApiProps
    ) -> tuple[apigateway.UsagePlan | None, apigateway.IApiKey | None]:
        keys = props.api_keys
        if keys is None:
            return None, None
        plan = self.api.add_usage_plan(
            "UsagePlan",
            name=props.api_name,
            description=f"{props.description}: per-key throttle and daily quota",
            throttle=apigateway.ThrottleSettings(
                rate_limit=props.throttle_rate_limit, burst_limit=props.throttle_burst_limit
            ),
            quota=apigateway.QuotaSettings(limit=keys.quota_per_day, period=apigateway.Period.DAY),
            api_stages=[apigateway.UsagePlanPerApiStage(api=self.api, stage=self.stage)],
        )
        # No `value`: API Gateway generates it; operators read it with the key id.
        key = self.api.add_api_key(
            "ApiKey", description=f"{props.description}: client app key (value generated)"
        )
        plan.add_api_key(key)
        return plan, key

    def _web_acl(self, props: SecureRestApiProps) -> RegionalWebAcl:
        exempt = [
            path
            for key in props.rate_limit_exempt_route_reasons
            # As the stage's own URL has it (/v1/...) and as a custom domain's (/...).
            for path in (f"/{props.stage_name}{key.split(' ', 1)[1]}", key.split(" ", 1)[1])
        ]
        web_acl = RegionalWebAcl(
            self,
            "Waf",
            RegionalWebAclProps(
                name=props.api_name,
                rate_limit_per_5min_per_ip=props.waf_rate_limit_per_5min_per_ip,
                rate_limit_per_minute_per_ip=props.waf_rate_limit_per_minute_per_ip,
                extra_managed_rule_groups=props.waf_extra_managed_rule_groups,
                rate_limit_exempt_paths=tuple(exempt),
                log_encryption_key=props.log_encryption_key,
                log_retention=props.log_retention,
                log_removal_policy=props.log_removal_policy,
            ),
        )
        web_acl.associate("StageAssociation", self.stage.stage_arn)
        return web_acl

    def _acknowledge(self, props: SecureRestApiProps) -> None:
        for key, reason in props.public_route_reasons.items():
            method = self.methods[key]
            nag.acknowledge(method, "AwsSolutions-APIG4", reason)
            nag.acknowledge(method, "AwsSolutions-COG4", reason)
        nag.acknowledge(
            self.stage,
            "PCI.DSS.321-APIGWSSLEnabled",
            "Client certificates let an HTTP backend verify that calls come from API "
            "Gateway. Every integration of this construct is a Lambda proxy, invoked "
            "through lambda:InvokeFunction permissions scoped to this API, so there is "
            "no HTTP backend to present a certificate to.",
        )
        nag.acknowledge(
            self.stage, "PCI.DSS.321-APIGWCacheEnabledAndEncrypted", props.no_cache_reason
        )


def _cors_options(props: SecureRestApiProps) -> apigateway.CorsOptions | None:
    """Preflight from a mock integration (no function, no key, no authorizer).

    cdk-nag's APIG4 and COG4 skip OPTIONS methods, so they need no acknowledgment.
    """
    if not props.cors_origins:
        return None
    methods = sorted({route.method for route in props.routes} | {"OPTIONS"})
    headers = dict.fromkeys(
        [*_CORS_HEADERS, *(h for route in props.routes for h in route.required_headers)]
    )
    return apigateway.CorsOptions(
        allow_origins=list(props.cors_origins),
        allow_methods=methods,
        allow_headers=list(headers),
        allow_credentials=False,
        max_age=cdk.Duration.hours(1),
    )


def _check_routes(props: SecureRestApiProps) -> None:
    keys = [route_key(route) for route in props.routes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate routes in {keys}")
    for route in props.routes:
        if route.function not in props.functions:
            raise ValueError(f"{route_key(route)}: no function named {route.function}")
    public = {route_key(r) for r in props.routes if r.auth == "none"}
    if public != set(props.public_route_reasons):
        raise ValueError(
            f"public routes {sorted(public)} must match public_route_reasons "
            f"{sorted(props.public_route_reasons)} exactly"
        )
    _check_api_keys(props)
    _check_cors(props)
    _check_rate_exemptions(props)


def _check_api_keys(props: SecureRestApiProps) -> None:
    keys = props.api_keys
    if keys is None:
        return
    if keys.quota_per_day < 1:
        raise ValueError("api_keys.quota_per_day must be at least 1")
    unknown = set(keys.keyless_route_reasons) - {route_key(r) for r in props.routes}
    if unknown:
        raise ValueError(f"keyless routes {sorted(unknown)} are not routes of this API")
    blank = [key for key, reason in keys.keyless_route_reasons.items() if not reason.strip()]
    if blank:
        raise ValueError(f"keyless routes {blank} need a reason")


def _check_rate_exemptions(props: SecureRestApiProps) -> None:
    reasons = props.rate_limit_exempt_route_reasons
    unknown = set(reasons) - {route_key(r) for r in props.routes}
    if unknown:
        raise ValueError(f"rate-limit exempt routes {sorted(unknown)} are not routes of this API")
    if any("{" in key for key in reasons):
        raise ValueError("rate-limit exempt routes must be literal paths (no {parameters})")
    blank = [key for key, reason in reasons.items() if not reason.strip()]
    if blank:
        raise ValueError(f"rate-limit exempt routes {blank} need a reason")


def _check_cors(props: SecureRestApiProps) -> None:
    for origin in props.cors_origins:
        if not origin.startswith("https://") or "*" in origin or origin.count("/") != 2:
            raise ValueError(
                f"CORS origin {origin!r}: give an exact https://host[:port] origin, no "
                "wildcard and no path"
            )


class ApiGatewayAccount(Construct):
    """The account-level role API Gateway writes execution logs with.

    CDK's `cloud_watch_role=True` attaches the AWS managed policy
    AmazonAPIGatewayPushToCloudWatchLogs (AwsSolutions-IAM4); this role carries a
    customer-managed policy limited to API Gateway's own log groups instead.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        def log_group_arn(name: str) -> str:
            # A literal partition keeps these ARNs plain strings, which the nag
            # acknowledgments below need as ids, whatever the partition feature flag says.
            return stack.format_arn(
                partition="aws",
                service="logs",
                resource="log-group",
                resource_name=name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )

        log_resources = [
            log_group_arn(name)
            for name in (
                "API-Gateway-Execution-Logs_*",
                "API-Gateway-Execution-Logs_*:log-stream:*",
                "/aws/apigateway/welcome",
                "/aws/apigateway/welcome:log-stream:*",
            )
        ]
        describe_resource = log_group_arn("*")
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com")
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=_EXECUTION_LOG_ACTIONS, resources=log_resources),
                iam.PolicyStatement(
                    actions=["logs:DescribeLogGroups"], resources=[describe_resource]
                ),
            ],
        )
        self.cfn_account = apigateway.CfnAccount(
            self, "Account", cloud_watch_role_arn=self.role.role_arn
        )
        self.cfn_account.node.add_dependency(self.policy)
        for resource in [*log_resources, describe_resource]:
            if "*" in resource:
                nag.acknowledge(
                    self.policy,
                    f"AwsSolutions-IAM5[Resource::{resource}]",
                    "Account-wide role API Gateway uses for the execution logs of every "
                    "REST API stage in this account and region: those log groups are named "
                    "after API ids this role cannot know in advance, and "
                    "logs:DescribeLogGroups only accepts the log-group:* resource.",
                )
