"""DR for the engine: health-checked failover DNS for the APIs, and the
runbook that promotes the Singapore replica and moves traffic there.

* `api_domain` gives an API stack (either Region) its regional custom domain under
  the configured zone; `failover_target` turns that domain and its API into what
  the DNS stack needs.
* `EngineDnsStack` (Mumbai, only where `cfg.domain` is set): PRIMARY (Mumbai) and
  SECONDARY (Singapore) alias records per API name. Mumbai answers while its endpoint is
  healthy AND the runbook's failover switch is not thrown.
* `EngineDrRunbookStack` (Singapore, only where DR is enabled): the SSM Automation
  runbook (promote, carry the receipt counters over, switch the standby's jobs on, move
  traffic) and, with a domain, the failover switch (an alarm on a metric only the runbook
  publishes). Both live in the DR Region so that they still work when Mumbai is down; the
  DNS stack names the switch by its fixed name, so it deploys after this stack and the
  runbook needs nothing from Mumbai.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct

from cdk_constructs.dr_runbook import FailoverRunbook, FailoverRunbookProps
from cdk_constructs.failover_dns import (
    FailoverRecords,
    FailoverRecordsProps,
    FailoverSwitch,
    FailoverTarget,
    SwitchAlarm,
    SwitchHealthCheck,
    SwitchMetric,
)
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import DomainConfig, EngineConfig
from engine.declarations import EVENT_SOURCES, FUNCTIONS, RECEIPT_COUNTERS_CARRY_OVER, SCHEDULES
from stacks.engine.functions import function_name
from stacks.engine.regional import rule_name

HEALTH_PATH = "/health"
SWITCH_NAMESPACE = "FivestarPaymentsEngine/Failover"


def _active_region_only() -> set[str]:
    return {spec.name for spec in FUNCTIONS if spec.active_region_only}


def standby_rules(cfg: EngineConfig) -> tuple[str, ...]:
    """The schedules of the jobs that run only in the active Region, by rule name."""
    only = _active_region_only()
    return tuple(rule_name(cfg, s) for s in SCHEDULES if s.function in only)


def standby_stream_consumers(cfg: EngineConfig) -> tuple[str, ...]:
    """The functions whose event source mapping runs only in the active Region."""
    only = _active_region_only()
    specs = {spec.name: spec for spec in FUNCTIONS}
    return tuple(function_name(cfg, specs[s.function]) for s in EVENT_SOURCES if s.function in only)


def traffic_switch(cfg: EngineConfig) -> tuple[SwitchMetric, SwitchAlarm]:
    """The environment's failover switch: its metric (published by the runbook only) and
    its alarm, in the DR Region, by fixed names both stacks derive from config."""
    metric = SwitchMetric(namespace=f"{SWITCH_NAMESPACE}/{cfg.env_name}")
    return metric, SwitchAlarm(
        alarm_name=cfg.resource_name("dr-traffic-switch"), region=cfg.dr_region
    )


def _domain(cfg: EngineConfig) -> DomainConfig:
    if cfg.domain is None:
        raise ValueError(f"{cfg.env_name} has no domain: set cfg.domain for custom API names")
    return cfg.domain


def _zone(scope: Construct, construct_id: str, domain: DomainConfig) -> route53.IHostedZone:
    """The configured zone by its ids: no lookup, synth needs no credentials."""
    return route53.HostedZone.from_hosted_zone_attributes(
        scope, construct_id, hosted_zone_id=domain.hosted_zone_id, zone_name=domain.zone_name
    )


def _pascal(host: str) -> str:
    return "".join(part.title() for part in host.replace(".", "-").split("-"))


class ApiDomain(NamedTuple):
    domain: apigateway.DomainName
    certificate: acm.Certificate


def api_domain(scope: Construct, cfg: EngineConfig, host: str) -> ApiDomain:
    """`<host>.<zone>` as a regional API Gateway custom domain in `scope`'s Region.

    The certificate is issued in the same Region (regional domains need that) and
    validated by DNS in the configured zone, which CloudFormation does itself. The
    security policy refuses TLS below 1.2 (PCI DSS 4.1). Map the API with
    `domain.add_base_path_mapping(api, stage=api.deployment_stage)`.
    """
    domain_cfg = _domain(cfg)
    fqdn = domain_cfg.fqdn(host)
    holder = Construct(scope, f"{_pascal(host)}CustomDomain")
    zone = _zone(holder, "Zone", domain_cfg)
    certificate = acm.Certificate(
        holder,
        "Certificate",
        domain_name=fqdn,
        validation=acm.CertificateValidation.from_dns(zone),
    )
    domain = apigateway.DomainName(
        holder,
        "Domain",
        domain_name=fqdn,
        certificate=certificate,
        endpoint_type=apigateway.EndpointType.REGIONAL,
        security_policy=apigateway.SecurityPolicy.TLS_1_2,
    )
    return ApiDomain(domain=domain, certificate=certificate)


def failover_target(
    domain: apigateway.IDomainName, api: apigateway.IRestApi, stage_name: str
) -> FailoverTarget:
    """One Region's endpoint: the record aliases the custom domain, the health check
    calls `GET /<stage>/health` on the API's own execute-api name, which reaches
    that Region alone (the custom name is what fails over)."""
    region = cdk.Stack.of(api).region
    return FailoverTarget(
        alias_dns_name=domain.domain_name_alias_domain_name,
        alias_hosted_zone_id=domain.domain_name_alias_hosted_zone_id,
        health_check_fqdn=f"{api.rest_api_id}.execute-api.{region}.amazonaws.com",
        health_check_path=f"/{stage_name}{HEALTH_PATH}",
    )


@dataclass(frozen=True)
class FailoverApi:
    """One API name (`host` under the zone) served from both Regions."""

    host: str
    primary: FailoverTarget  # Mumbai
    secondary: FailoverTarget  # Singapore


class EngineDnsStack(ConfiguredStack):
    """ap-south-1 (Route 53 is global; the stack sits with the primary).

    `cross_region_references=True`: the Singapore domains' alias names and API ids
    only exist once that Region deploys, and arrive through CDK's cross-Region
    references.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        apis: Sequence[FailoverApi],
        **kwargs: Any,
    ) -> None:
        domain = _domain(cfg)
        hosts = [api.host for api in apis]
        if not apis:
            raise ValueError("EngineDnsStack needs at least one FailoverApi")
        if len(set(hosts)) != len(hosts):
            raise ValueError(f"hosts must be distinct, got {hosts}")
        kwargs.setdefault("cross_region_references", True)
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dns"),
            description=f"Payments engine {cfg.env_name}: failover DNS under {domain.zone_name}",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        zone = _zone(self, "Zone", domain)
        _, switch = traffic_switch(cfg)
        self.switch = SwitchHealthCheck(self, "TrafficSwitch", switch)
        self.records = {
            api.host: FailoverRecords(
                self,
                f"{_pascal(api.host)}Failover",
                FailoverRecordsProps(
                    zone=zone,
                    record_name=domain.fqdn(api.host),
                    primary=api.primary,
                    secondary=api.secondary,
                    switch_health_check_id=self.switch.health_check_id,
                ),
            )
            for api in apis
        }
        for host, records in self.records.items():
            cdk.CfnOutput(
                self,
                f"{_pascal(host)}PrimaryHealthCheckId",
                value=records.primary_health_check_id,
            )
        cdk.CfnOutput(self, "TrafficSwitchHealthCheckId", value=self.switch.health_check_id)


class EngineDrRunbookStack(ConfiguredStack):
    """ap-southeast-1: the failover runbook (see README "DR runbook"), and the failover
    switch where a domain gives the APIs failover DNS."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        replica_identifier: str,
        notification_topic_arn: str | None = None,
        notification_key_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not cfg.dr_enabled:
            raise ValueError(f"{cfg.env_name} has no DR Region: dr_enabled is False")
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-runbook"),
            description=f"Payments engine {cfg.env_name}: DR failover runbook (SSM Automation)",
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            **kwargs,
        )
        self.switch: FailoverSwitch | None = None
        if cfg.domain is not None:
            metric, alarm = traffic_switch(cfg)
            self.switch = FailoverSwitch(
                self, "TrafficSwitch", metric=metric, alarm_name=alarm.alarm_name
            )
        self.runbook = FailoverRunbook(
            self,
            "Failover",
            FailoverRunbookProps(
                document_name=cfg.resource_name("dr-failover"),
                confirm_value=cfg.env_name,
                replica_identifier=replica_identifier,
                backup_retention_days=cfg.backup_retention_days,
                traffic_switch=self.switch.metric if self.switch else None,
                multi_az=cfg.database.multi_az,
                notification_topic_arn=notification_topic_arn,
                notification_key_arn=notification_key_arn,
                rules_to_enable=standby_rules(cfg),
                mappings_to_enable=standby_stream_consumers(cfg),
                receipt_counters_function=function_name(cfg, RECEIPT_COUNTERS_CARRY_OVER),
            ),
        )
        self.document_name = self.runbook.document_name
        cdk.CfnOutput(self, "DocumentName", value=self.document_name)
        cdk.CfnOutput(self, "RoleArn", value=self.runbook.role.role_arn)
        cdk.CfnOutput(
            self,
            "StartCommand",
            value=(
                f"aws ssm start-automation-execution --region {cfg.dr_region} "
                f"--document-name {self.document_name} --parameters Confirm={cfg.env_name}"
            ),
        )
        if self.switch is not None:
            metric = self.switch.metric
            cdk.CfnOutput(
                self,
                "ResetSwitchCommand",
                value=(
                    f"aws cloudwatch put-metric-data --region {cfg.dr_region} "
                    f"--namespace {metric.namespace} --metric-name {metric.metric_name} "
                    "--value 0 --unit Count"
                ),
            )
