"""What each resource costs by the month whatever the traffic: the environment's floor.

Every resource type found in a template is in exactly one of three places here:
`FIXED` (priced by the month from its properties), `USAGE` (priced by what the operations
and background work do with it, in `usage.py`), or `FREE` (no charge, with the reason).
A test fails on a type that is in none of them, so nothing escapes the model unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from config.cost import CostConfig
from cost_model.assembly import Resource, Stack
from cost_model.prices import GLOBAL_REGION, PriceTable, table

HOURS_PER_MONTH = Decimal(730)
# vCPUs of the RDS classes the configs use (RDS Proxy bills the proxied instances' vCPUs).
# Source: https://aws.amazon.com/rds/instance-types/ (2025-06-01).
INSTANCE_VCPUS = {"db.t4g.medium": 2, "db.r6g.large": 2, "db.r6g.xlarge": 4}
PROXY_MIN_VCPUS = 2
# Performance Insights keeps 7 days of history free; the configs keep exactly that.
FREE_PERFORMANCE_INSIGHTS_DAYS = 7
# Lite and Essentials include 10,000 monthly active users; Plus includes none.
COGNITO_FREE_MAU = {"LITE": 10_000, "ESSENTIALS": 10_000, "PLUS": 0}


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    region: str
    stack: str
    usd: Decimal
    basis: str


@dataclass(frozen=True)
class Environment:
    """One system's environment as synthesized: its stacks and its cost config."""

    system: str
    name: str
    primary_region: str
    cost: CostConfig
    stacks: tuple[Stack, ...]

    def resources(self, *types: str) -> Iterator[tuple[Stack, Resource]]:
        for stack in self.stacks:
            for resource in stack.of_type(*types):
                yield stack, resource


Pricer = Callable[[Resource, Stack, Environment], list[Line]]


def _line(
    service: str, item: str, stack: Stack, usd: Decimal, basis: str, *, region: str = ""
) -> Line:
    return Line(service, item, region or stack.region, stack.name, usd, basis)


def _hourly(prices: PriceTable, key: str, count: Decimal = Decimal(1)) -> tuple[Decimal, str]:
    rate = prices(key)
    return HOURS_PER_MONTH * rate * count, f"{count} x 730 h x ${rate}/h"


def kms_key(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    rate = table(stack.region)("kms.key_month")
    return [_line("KMS", resource.logical_id, stack, rate, "1 key-month")]


def secret(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    regions = [stack.region] + [r["Region"] for r in resource.properties.get("ReplicaRegions", [])]
    return [
        _line(
            "Secrets Manager",
            f"{resource.logical_id} ({region})",
            stack,
            table(region)("secretsmanager.secret_month"),
            "1 secret-month",
            region=region,
        )
        for region in regions
    ]


def alarm_metrics(properties: dict[str, Any]) -> tuple[int, bool]:
    """(metrics billed, high resolution): an expression is free, each metric it reads is not."""
    metrics = properties.get("Metrics")
    if metrics is None:
        return 1, int(properties.get("Period", 60)) < 60
    stats = [m["MetricStat"] for m in metrics if "MetricStat" in m]
    return len(stats), any(int(s.get("Period", 60)) < 60 for s in stats)


def alarm(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    count, high_resolution = alarm_metrics(resource.properties)
    key = (
        "cloudwatch.high_resolution_alarm_metric_month"
        if high_resolution
        else "cloudwatch.alarm_metric_month"
    )
    rate = table(stack.region)(key)
    return [_line("CloudWatch", "alarms", stack, rate * count, f"{count} metric x ${rate}")]


def composite_alarm(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    rate = table(stack.region)("cloudwatch.composite_alarm_month")
    return [_line("CloudWatch", "composite alarms", stack, rate, "1 alarm-month")]


def dashboard(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    rate = table(stack.region)("cloudwatch.dashboard_month")
    return [_line("CloudWatch", "dashboards", stack, rate, "1 dashboard-month")]


def web_acl(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    prices = table(stack.region)
    rules = len(resource.properties.get("Rules", []))
    acl, rule = prices("waf.web_acl_month"), prices("waf.rule_month")
    usd = acl + rule * rules
    return [
        _line(
            "WAF",
            resource.logical_id,
            stack,
            usd,
            f"${acl} + {rules} rules x ${rule}",
        )
    ]


def nat_gateway(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    usd, basis = _hourly(table(stack.region), "ec2.nat_gateway_hour")
    return [_line("VPC", "NAT gateway hours", stack, usd, basis)]


def elastic_ip(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    usd, basis = _hourly(table(stack.region), "ec2.public_ipv4_hour")
    return [_line("VPC", "public IPv4 addresses", stack, usd, basis)]


def vpc_endpoint(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    if resource.properties.get("VpcEndpointType", "Gateway") == "Gateway":
        return []  # gateway endpoints (S3, DynamoDB) are free
    zones = Decimal(len(resource.properties.get("SubnetIds", [])))
    usd, basis = _hourly(table(stack.region), "vpce.interface_az_hour", zones)
    return [_line("VPC", "interface endpoint hours", stack, usd, f"{basis} (AZs)")]


def _source_storage(resource: Resource, env: Environment) -> int:
    """A read replica without its own storage size has its source's."""
    if "AllocatedStorage" in resource.properties:
        return int(resource.properties["AllocatedStorage"])
    sizes = [
        int(r.properties["AllocatedStorage"])
        for _, r in env.resources("AWS::RDS::DBInstance")
        if "AllocatedStorage" in r.properties
    ]
    return max(sizes, default=0)


def db_instance(resource: Resource, stack: Stack, env: Environment) -> list[Line]:
    props = resource.properties
    prices = table(stack.region)
    copies = Decimal(2) if props.get("MultiAZ") is True else Decimal(1)
    klass = props["DBInstanceClass"]
    compute, basis = _hourly(prices, f"rds.instance_hour.{klass}", copies)
    storage_type = str(props.get("StorageType", "gp2"))
    gigabytes = Decimal(_source_storage(resource, env))
    rate = prices(f"rds.storage_{storage_type}_gb_month")
    lines = [
        _line("RDS", f"{klass} instance hours", stack, compute, basis),
        _line(
            "RDS",
            "storage",
            stack,
            gigabytes * rate * copies,
            f"{copies} x {gigabytes} GB {storage_type} x ${rate}",
        ),
    ]
    retention = int(props.get("PerformanceInsightsRetentionPeriod", 7))
    if props.get("EnablePerformanceInsights") and retention > FREE_PERFORMANCE_INSIGHTS_DAYS:
        # Longer history is billed per vCPU-month: fail until its line and pricer exist.
        prices("rds.performance_insights_long_term_vcpu_month")
    return lines


def db_proxy(resource: Resource, stack: Stack, env: Environment) -> list[Line]:
    targets = _proxy_targets(resource, stack)
    vcpus = sum(INSTANCE_VCPUS[t.properties["DBInstanceClass"]] for t in targets)
    vcpus = max(vcpus, PROXY_MIN_VCPUS)
    usd, basis = _hourly(table(stack.region), "rds.proxy_vcpu_hour", Decimal(vcpus))
    return [_line("RDS Proxy", resource.logical_id, stack, usd, f"{basis} (vCPUs)")]


def _proxy_targets(proxy: Resource, stack: Stack) -> list[Resource]:
    instances = {r.logical_id: r for r in stack.of_type("AWS::RDS::DBInstance")}
    targets: list[Resource] = []
    for group in stack.of_type("AWS::RDS::DBProxyTargetGroup"):
        if group.properties.get("DBProxyName") != {"Ref": proxy.logical_id}:
            continue
        for ref in group.properties.get("DBInstanceIdentifiers", []):
            if isinstance(ref, dict) and ref.get("Ref") in instances:
                targets.append(instances[ref["Ref"]])
    return targets


def user_pool(resource: Resource, stack: Stack, env: Environment) -> list[Line]:
    tier = str(resource.properties.get("UserPoolTier", "ESSENTIALS"))
    if stack.region != env.primary_region:
        basis = "standby pool: staff sign in here only after a failover"
        return [_line("Cognito", f"{tier} MAU", stack, Decimal(0), basis)]
    users = env.cost.active_staff_users
    billable = max(0, users - COGNITO_FREE_MAU[tier])
    rate = table(stack.region)(f"cognito.{tier.lower()}_mau")
    basis = f"{users} active staff - {COGNITO_FREE_MAU[tier]} free = {billable} x ${rate}"
    return [_line("Cognito", f"{tier} MAU", stack, rate * billable, basis)]


# Health checks that call no endpoint: they read other checks or a CloudWatch alarm.
NO_ENDPOINT_HEALTH_CHECKS = ("CALCULATED", "CLOUDWATCH_METRIC")


def health_check(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    config = resource.properties.get("HealthCheckConfig", {})
    prices = table(GLOBAL_REGION)
    features = 0
    kind = str(config.get("Type", "HTTP"))
    if kind in NO_ENDPOINT_HEALTH_CHECKS:
        usd = prices("route53.health_check_aws_month")
        basis = f"{kind.lower()} health check, billed as a basic check of an AWS endpoint"
        return [_line("Route 53", "health checks", stack, usd, basis, region=GLOBAL_REGION)]
    features += kind.startswith("HTTPS")
    features += kind.endswith("STR_MATCH")
    features += int(config.get("RequestInterval", 30)) == 10
    features += bool(config.get("MeasureLatency"))
    check, feature = (
        prices("route53.health_check_month"),
        prices("route53.health_check_feature_month"),
    )
    usd = check + feature * features
    basis = f"${check} + {features} optional features x ${feature}"
    return [_line("Route 53", "health checks", stack, usd, basis, region=GLOBAL_REGION)]


def hosted_zone(resource: Resource, stack: Stack, _: Environment) -> list[Line]:
    rate = table(GLOBAL_REGION)("route53.hosted_zone_month")
    return [_line("Route 53", "hosted zones", stack, rate, "1 zone-month", region=GLOBAL_REGION)]


FIXED: dict[str, Pricer] = {
    "AWS::KMS::Key": kms_key,
    "AWS::KMS::ReplicaKey": kms_key,
    "AWS::SecretsManager::Secret": secret,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::CompositeAlarm": composite_alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::EC2::NatGateway": nat_gateway,
    "AWS::EC2::EIP": elastic_ip,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::RDS::DBInstance": db_instance,
    "AWS::RDS::DBProxy": db_proxy,
    "AWS::Cognito::UserPool": user_pool,
    "AWS::Route53::HealthCheck": health_check,
    "AWS::Route53::HostedZone": hosted_zone,
}

# Priced in usage.py from what the operations and the background work do with them.
USAGE: dict[str, str] = {
    "AWS::Lambda::Function": "requests and GB-seconds of each invocation (memory, architecture)",
    "AWS::ApiGateway::RestApi": "requests",
    "AWS::DynamoDB::GlobalTable": "request units, replicated writes, storage, PITR, backups",
    "AWS::DynamoDB::Table": "request units, storage, PITR, backups",
    "AWS::SQS::Queue": "requests, and the idle long polls of a Lambda event source",
    "AWS::SNS::Topic": "publishes",
    "AWS::Logs::LogGroup": "ingestion and storage of the operations' log lines",
    "AWS::EC2::FlowLog": "vended-log ingestion of the VPC's flow records",
    "AWS::WAFv2::LoggingConfiguration": "vended-log ingestion of one record per request",
    "AWS::S3::Bucket": "requests, storage, replication",
    "AWS::CloudFront::Distribution": "HTTPS requests and data out",
    "AWS::Events::EventBus": "custom events",
    "AWS::Events::Archive": "archived bytes and their storage",
    "AWS::Events::Rule": "scheduled runs of the target function",
    "AWS::Backup::BackupPlan": "backup storage of the selected tables, and the DR copy",
    "AWS::Backup::BackupVault": "backup storage (priced with the plan)",
    "AWS::Backup::BackupSelection": "selects what the plan backs up (priced with the plan)",
    "AWS::Lambda::EventSourceMapping": "SQS sources: idle long polls; stream sources are free",
}

_NO_CHARGE = "no charge for the resource itself"
_DEPLOY_ONLY = "runs only during deployments: a handful of invocations a month"
FREE: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK bookkeeping, not an AWS resource",
    "AWS::IAM::Role": "IAM is free",
    "AWS::IAM::ManagedPolicy": "IAM is free",
    "AWS::IAM::Policy": "IAM is free",
    "AWS::KMS::Alias": "aliases are free",
    "AWS::Lambda::Permission": _NO_CHARGE,
    "AWS::Lambda::LayerVersion": "layer storage counts toward the free 75 GB of code storage",
    "AWS::ApiGateway::Account": _NO_CHARGE,
    "AWS::ApiGateway::ApiKey": _NO_CHARGE,
    "AWS::ApiGateway::Authorizer": "Cognito authorizers add no API Gateway charge",
    "AWS::ApiGateway::Deployment": _NO_CHARGE,
    "AWS::ApiGateway::GatewayResponse": _NO_CHARGE,
    "AWS::ApiGateway::Method": "requests are priced on the REST API",
    "AWS::ApiGateway::Model": _NO_CHARGE,
    "AWS::ApiGateway::RequestValidator": _NO_CHARGE,
    "AWS::ApiGateway::Resource": _NO_CHARGE,
    "AWS::ApiGateway::Stage": "no cache cluster is configured; requests are priced on the API",
    "AWS::ApiGateway::UsagePlan": _NO_CHARGE,
    "AWS::ApiGateway::UsagePlanKey": _NO_CHARGE,
    "AWS::ApiGateway::DomainName": "custom domain names are free (the certificate too)",
    "AWS::ApiGateway::BasePathMapping": _NO_CHARGE,
    "AWS::CertificateManager::Certificate": "public ACM certificates are free",
    "AWS::CloudFront::OriginAccessControl": _NO_CHARGE,
    "AWS::CloudFront::ResponseHeadersPolicy": _NO_CHARGE,
    "AWS::Cognito::UserPoolClient": "users are priced on the pool",
    "AWS::Cognito::UserPoolGroup": "users are priced on the pool",
    "AWS::EC2::VPC": "VPCs are free (NAT, endpoints and addresses are priced)",
    "AWS::EC2::Subnet": _NO_CHARGE,
    "AWS::EC2::RouteTable": _NO_CHARGE,
    "AWS::EC2::Route": _NO_CHARGE,
    "AWS::EC2::SubnetRouteTableAssociation": _NO_CHARGE,
    "AWS::EC2::InternetGateway": "internet gateways are free (data out is priced)",
    "AWS::EC2::VPCGatewayAttachment": _NO_CHARGE,
    "AWS::EC2::NetworkAcl": _NO_CHARGE,
    "AWS::EC2::NetworkAclEntry": _NO_CHARGE,
    "AWS::EC2::SubnetNetworkAclAssociation": _NO_CHARGE,
    "AWS::EC2::SecurityGroup": _NO_CHARGE,
    "AWS::EC2::SecurityGroupIngress": _NO_CHARGE,
    "AWS::EC2::SecurityGroupEgress": _NO_CHARGE,
    "AWS::RDS::DBParameterGroup": _NO_CHARGE,
    "AWS::RDS::DBSubnetGroup": _NO_CHARGE,
    "AWS::RDS::DBProxyTargetGroup": "priced on the proxy",
    "AWS::S3::BucketPolicy": _NO_CHARGE,
    "AWS::SNS::TopicPolicy": _NO_CHARGE,
    "AWS::SQS::QueuePolicy": _NO_CHARGE,
    "AWS::Scheduler::ScheduleGroup": "groups are free; no schedule is deployed in them yet",
    "AWS::SecretsManager::ResourcePolicy": _NO_CHARGE,
    "AWS::SecretsManager::SecretTargetAttachment": _NO_CHARGE,
    "AWS::SecretsManager::RotationSchedule": "a few rotation invocations a month",
    "AWS::Serverless::Application": "the rotation function it installs runs a few times a month",
    "AWS::SSM::Document": "the DR runbook runs only on a failover",
    "AWS::WAFv2::WebACLAssociation": "priced on the web ACL",
    "AWS::Route53::RecordSet": "alias queries to AWS resources are free",
    "Custom::CrossRegionExportReader": _DEPLOY_ONLY,
    "Custom::CrossRegionExportWriter": _DEPLOY_ONLY,
    "Custom::DatabaseSchema": _DEPLOY_ONLY,
    "Custom::LatestStreamArn": _DEPLOY_ONLY,
}


def floor_lines(env: Environment) -> list[Line]:
    return [
        line
        for stack in env.stacks
        for resource in stack.resources
        if resource.type in FIXED
        for line in FIXED[resource.type](resource, stack, env)
    ]


def unpriced_types(stacks: list[Stack]) -> set[str]:
    known = FIXED.keys() | USAGE.keys() | FREE.keys()
    return {r.type for s in stacks for r in s.resources} - known
