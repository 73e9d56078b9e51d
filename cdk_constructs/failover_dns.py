"""Route 53 failover: one name answered by the primary Region while it is healthy AND in
service, by the secondary Region otherwise (seed §12.4.2).

Each Region gets an HTTPS health check (every 30 s, unhealthy after 3 failed
attempts, from Route 53's default checker Regions). The records are aliases to the
API Gateway regional custom domains, so the failover record answers with that
Region's current addresses without a TTL of its own.

The health check must reach one Region only: give each target a name that resolves
to that Region alone (e.g. the API's `<id>.execute-api.<region>.amazonaws.com`
with the stage in the path), not the shared custom name, which the failover record
itself answers.

The DR runbook's control is a switch it owns (`FailoverSwitch`): a CloudWatch alarm on a
metric only the runbook publishes, in the secondary Region. The PRIMARY record's health
check is CALCULATED over the primary's endpoint check and a health check on that alarm
(both must be healthy), so:

    primary endpoint   switch             the name answers with
    healthy            not thrown         the primary
    failing            not thrown         the secondary (ordinary failover)
    healthy            thrown (runbook)   the secondary
    failing            thrown (runbook)   the secondary

Inverting the primary's own checks would do the opposite in a real outage: a failing
check inverted reads healthy and sends traffic back to the dead Region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_route53 as route53
from constructs import Construct

from cdk_constructs import nag

# Seed §12.4.2: "Route 53 health checks fail after 3 attempts".
REQUEST_INTERVAL_SECONDS = 30
FAILURE_THRESHOLD = 3
HTTPS_PORT = 443

_ROLES = ("PRIMARY", "SECONDARY")
_PATH = re.compile(r"^/[\x21-\x7e]{0,254}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
# The value the runbook publishes to throw the switch, and to reset it at failback.
SWITCH_THROWN = 1
SWITCH_RESET = 0


@dataclass(frozen=True)
class SwitchMetric:
    """The metric a failover switch's alarm watches: only the DR runbook publishes it."""

    namespace: str
    metric_name: str = "PrimaryOutOfService"


@dataclass(frozen=True)
class SwitchAlarm:
    """Where Route 53 finds a switch's alarm: by name, in its Region (no token)."""

    alarm_name: str
    region: str


class FailoverSwitch(Construct):
    """The runbook-owned switch: ALARM once the runbook publishes SWITCH_THROWN, and it stays
    there (missing data keeps the state) until failback publishes SWITCH_RESET.

    A CloudWatch alarm, not a monitoring alarm: Route 53 reads it, nobody is paged by it
    (the runbook notifies operations itself), so it has no actions. Build it in the Region
    the runbook runs in, so it still answers while the primary Region is down.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, metric: SwitchMetric, alarm_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        if not _NAMESPACE.match(metric.namespace) or metric.namespace.startswith("AWS/"):
            raise ValueError(f"switch namespace {metric.namespace!r} is not a custom namespace")
        self.metric = metric
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                "DR traffic switch read by Route 53: ALARM sends the failover names to the DR "
                "Region. Set only by the DR runbook (and reset at failback); never pages."
            ),
            metric=cloudwatch.Metric(
                namespace=metric.namespace,
                metric_name=metric.metric_name,
                statistic="Maximum",
                period=cdk.Duration.minutes(1),
            ),
            threshold=SWITCH_THROWN,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
            actions_enabled=False,
        )
        nag.acknowledge(
            self.alarm,
            "NIST.800.53.R5-CloudWatchAlarmAction",
            "NIST 800-53 R5 SI-4(12), SI-5b, CA-7: this alarm is the DR traffic switch Route 53 "
            "reads, set on purpose by the failover runbook, which notifies operations itself; "
            "an action would page for the failover the operator just started.",
        )
        self.ref = SwitchAlarm(alarm_name=alarm_name, region=cdk.Stack.of(self).region)


class SwitchHealthCheck(Construct):
    """A Route 53 health check on a switch's alarm: healthy until the switch is thrown.

    Before the runbook ever publishes, the alarm has no data: that reads as healthy.
    """

    def __init__(self, scope: Construct, construct_id: str, switch: SwitchAlarm) -> None:
        super().__init__(scope, construct_id)
        self.health_check = route53.CfnHealthCheck(
            self,
            "HealthCheck",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CLOUDWATCH_METRIC",
                alarm_identifier=route53.CfnHealthCheck.AlarmIdentifierProperty(
                    name=switch.alarm_name, region=switch.region
                ),
                insufficient_data_health_status="Healthy",
            ),
            health_check_tags=[
                route53.CfnHealthCheck.HealthCheckTagProperty(
                    key="Name", value=f"{switch.alarm_name} (primary in service)"
                )
            ],
        )
        self.health_check_id = self.health_check.attr_health_check_id


@dataclass(frozen=True)
class FailoverTarget:
    """One Region's endpoint: where the record points, and what is health-checked."""

    # The regional custom domain's `domain_name_alias_domain_name` and
    # `domain_name_alias_hosted_zone_id`.
    alias_dns_name: str
    alias_hosted_zone_id: str
    # A name that reaches this Region alone, and the path that answers 2xx/3xx there.
    health_check_fqdn: str
    health_check_path: str = "/health"


@dataclass(frozen=True)
class FailoverRecordsProps:
    zone: route53.IHostedZone
    # The fully qualified name clients use, inside `zone`.
    record_name: str
    primary: FailoverTarget
    secondary: FailoverTarget
    # The runbook's switch (SwitchHealthCheck.health_check_id): the primary answers only
    # while its endpoint is healthy and the switch is not thrown.
    switch_health_check_id: str


class FailoverRecords(Construct):
    """PRIMARY and SECONDARY alias A records for one name, each with a health check: the
    secondary's is its endpoint check, the primary's is calculated over its endpoint check
    and the runbook's switch."""

    def __init__(self, scope: Construct, construct_id: str, props: FailoverRecordsProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        self.record_name = props.record_name
        targets = dict(zip(_ROLES, (props.primary, props.secondary), strict=True))
        self.health_checks = {
            role: self._health_check(role, target, props.record_name)
            for role, target in targets.items()
        }
        self.primary_in_service = self._in_service(props)
        answering = {
            "PRIMARY": self.primary_in_service,
            "SECONDARY": self.health_checks["SECONDARY"],
        }
        self.records = {
            role: self._record(role, target, props, answering[role])
            for role, target in targets.items()
        }

    @property
    def primary_health_check_id(self) -> str:
        """What the PRIMARY record answers on: endpoint healthy and switch not thrown."""
        return self.primary_in_service.attr_health_check_id

    @property
    def secondary_health_check_id(self) -> str:
        return self.health_checks["SECONDARY"].attr_health_check_id

    def _in_service(self, props: FailoverRecordsProps) -> route53.CfnHealthCheck:
        children = [
            self.health_checks["PRIMARY"].attr_health_check_id,
            props.switch_health_check_id,
        ]
        return route53.CfnHealthCheck(
            self,
            "PrimaryInService",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="CALCULATED",
                child_health_checks=children,
                health_threshold=len(children),  # every child healthy
            ),
            health_check_tags=[
                route53.CfnHealthCheck.HealthCheckTagProperty(
                    key="Name", value=f"{props.record_name} primary in service"
                )
            ],
        )

    def _health_check(
        self, role: str, target: FailoverTarget, record_name: str
    ) -> route53.CfnHealthCheck:
        return route53.CfnHealthCheck(
            self,
            f"{role.title()}HealthCheck",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="HTTPS",
                fully_qualified_domain_name=target.health_check_fqdn,
                resource_path=target.health_check_path,
                port=HTTPS_PORT,
                enable_sni=True,
                request_interval=REQUEST_INTERVAL_SECONDS,
                failure_threshold=FAILURE_THRESHOLD,
                measure_latency=False,
            ),
            health_check_tags=[
                route53.CfnHealthCheck.HealthCheckTagProperty(
                    key="Name", value=f"{record_name} {role.lower()}"
                )
            ],
        )

    def _record(
        self,
        role: str,
        target: FailoverTarget,
        props: FailoverRecordsProps,
        health_check: route53.CfnHealthCheck,
    ) -> route53.CfnRecordSet:
        return route53.CfnRecordSet(
            self,
            f"{role.title()}Record",
            hosted_zone_id=props.zone.hosted_zone_id,
            name=props.record_name,
            type="A",
            set_identifier=f"{role.lower()}",
            failover=role,
            health_check_id=health_check.attr_health_check_id,
            alias_target=route53.CfnRecordSet.AliasTargetProperty(
                dns_name=target.alias_dns_name,
                hosted_zone_id=target.alias_hosted_zone_id,
                evaluate_target_health=True,
            ),
        )


def _check(props: FailoverRecordsProps) -> None:
    zone_name = props.zone.zone_name.rstrip(".")
    name = props.record_name.rstrip(".")
    if not name.endswith(f".{zone_name}"):
        raise ValueError(f"record {props.record_name!r} is not inside zone {zone_name!r}")
    for role, target in zip(_ROLES, (props.primary, props.secondary), strict=True):
        if not _PATH.match(target.health_check_path):
            raise ValueError(
                f"{role.lower()} health_check_path {target.health_check_path!r} must start "
                "with '/' and hold no spaces"
            )
        if not target.health_check_fqdn:
            raise ValueError(f"{role.lower()} needs a health_check_fqdn")
        if target.health_check_fqdn.rstrip(".") == name:
            raise ValueError(
                f"{role.lower()} health check on {name} would follow the failover record "
                "itself; check a name that reaches that Region alone"
            )
