"""Route 53 failover: one name answered by the primary Region while its health check
passes, by the secondary Region otherwise (seed §12.4.2).

Each Region gets an HTTPS health check (every 30 s, unhealthy after 3 failed
attempts, from Route 53's default checker Regions). The records are aliases to the
API Gateway regional custom domains, so the failover record answers with that
Region's current addresses without a TTL of its own.

The health check must reach one Region only: give each target a name that resolves
to that Region alone (e.g. the API's `<id>.execute-api.<region>.amazonaws.com`
with the stage in the path), not the shared custom name, which the failover record
itself answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import aws_route53 as route53
from constructs import Construct

# Seed §12.4.2: "Route 53 health checks fail after 3 attempts".
REQUEST_INTERVAL_SECONDS = 30
FAILURE_THRESHOLD = 3
HTTPS_PORT = 443

_ROLES = ("PRIMARY", "SECONDARY")
_PATH = re.compile(r"^/[\x21-\x7e]{0,254}$")


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


class FailoverRecords(Construct):
    """PRIMARY and SECONDARY alias A records for one name, each with a health check."""

    def __init__(self, scope: Construct, construct_id: str, props: FailoverRecordsProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        self.record_name = props.record_name
        targets = dict(zip(_ROLES, (props.primary, props.secondary), strict=True))
        self.health_checks = {
            role: self._health_check(role, target, props.record_name)
            for role, target in targets.items()
        }
        self.records = {
            role: self._record(role, target, props, self.health_checks[role])
            for role, target in targets.items()
        }

    @property
    def primary_health_check_id(self) -> str:
        return self.health_checks["PRIMARY"].attr_health_check_id

    @property
    def secondary_health_check_id(self) -> str:
        return self.health_checks["SECONDARY"].attr_health_check_id

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
