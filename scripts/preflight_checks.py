"""The account checks `make preflight` runs for one Region (scripts/preflight.py drives them).

Each check compares what the templates ask for (scripts/quotas.py) with what the account
allows, and says plainly what to request. A value the account does not let us read (no
permission, or the API is not there) is a CHECK: look it up by hand, never assume it is fine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from config.base import EnvironmentConfig
from scripts.quotas import LAMBDA_UNRESERVED_MINIMUM, RegionNeeds

OK, REQUEST, CHECK = "ok", "REQUEST", "CHECK"
STACK_TAG = "aws:cloudformation:stack-name"
# (service code, quota code, name) in Service Quotas.
LAMBDA_CONCURRENCY = ("lambda", "L-B99A9384", "Concurrent executions")
VPCS = ("vpc", "L-F678F1CE", "VPCs per Region")
NAT_PER_ZONE = ("vpc", "L-FE5A380F", "NAT gateways per Availability Zone")
INTERFACE_ENDPOINTS = ("vpc", "L-29B6F2EB", "Interface VPC endpoints per VPC")
ELASTIC_IPS = ("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs")
SMS_DEFAULT_SPEND_USD = 1  # what a new account's SNS allows per month

Clients = Callable[[str, str], Any]  # (service, region) -> boto3 client


@dataclass(frozen=True)
class Finding:
    region: str
    status: str  # OK, REQUEST or CHECK
    subject: str
    detail: str


class Unreadable(Exception):
    """The account would not tell us (permission, or an API the endpoint lacks)."""


def call(client: Any, method: str, **kwargs: Any) -> Any:
    try:
        return getattr(client, method)(**kwargs)
    except (ClientError, BotoCoreError, NotImplementedError) as exc:
        raise Unreadable(f"{method}: {exc}") from exc


def quota(clients: Clients, region: str, codes: tuple[str, str, str]) -> float:
    service, code, _ = codes
    client = clients("service-quotas", region)
    try:
        return float(
            call(client, "get_service_quota", ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        )
    except Unreadable:
        answer = call(client, "get_aws_default_service_quota", ServiceCode=service, QuotaCode=code)
        return float(answer["Quota"]["Value"])


def request(codes: tuple[str, str, str], region: str, at_least: float) -> str:
    service, code, name = codes
    return (
        f"request '{name}' (Service Quotas > {service}, {code}) in {region} "
        f"to at least {at_least:g}"
    )


def check_region(cfg: EnvironmentConfig, needs: RegionNeeds, clients: Clients) -> list[Finding]:
    checks: list[tuple[str, Callable[[], Finding]]] = []
    if needs.reservations:
        checks.append(("Lambda concurrency", lambda: lambda_concurrency(needs, clients)))
    if needs.vpcs:
        checks += [
            (VPCS[2], lambda: vpcs(needs, clients)),
            (ELASTIC_IPS[2], lambda: elastic_ips(needs, clients)),
            (NAT_PER_ZONE[2], lambda: nat_gateways(needs, clients)),
            (INTERFACE_ENDPOINTS[2], lambda: endpoints(needs, clients)),
        ]
    if needs.stage_throttles:
        checks.append(("API Gateway throttle", lambda: api_throttle(needs, clients)))
    if needs.region in cfg.runtime_regions:
        messaging = cfg.messaging
        if messaging.sms_production or messaging.sms_monthly_spend_limit_usd:
            checks.append(("SNS SMS", lambda: sms(cfg, needs.region, clients)))
        if messaging.email_production or messaging.emails_per_day:
            checks.append(("SES e-mail", lambda: email(cfg, needs.region, clients)))
    return [_run(needs.region, subject, check) for subject, check in checks]


def _run(region: str, subject: str, check: Callable[[], Finding]) -> Finding:
    try:
        return check()
    except Unreadable as exc:
        return Finding(region, CHECK, subject, f"could not read it ({exc}); check it by hand")


# --------------------------------------------------------------------------- Lambda


def lambda_concurrency(needs: RegionNeeds, clients: Clients) -> Finding:
    region = needs.region
    limits = call(clients("lambda", region), "get_account_settings")["AccountLimit"]
    limit, unreserved = (
        int(limits["ConcurrentExecutions"]),
        int(limits["UnreservedConcurrentExecutions"]),
    )
    # A redeploy: what these functions reserve already counts against `unreserved`.
    already = _already_reserved(needs, clients)
    total = needs.reserved_concurrency
    left = unreserved + already - total
    subject = "Lambda concurrency"
    state = (
        f"the account's limit is {limit} with {unreserved} unreserved; these stacks reserve "
        f"{total} ({already} of it already deployed) and Lambda keeps "
        f"{LAMBDA_UNRESERVED_MINIMUM} unreserved"
    )
    if left >= LAMBDA_UNRESERVED_MINIMUM:
        return Finding(region, OK, subject, state)
    at_least = limit - left + LAMBDA_UNRESERVED_MINIMUM
    return Finding(
        region, REQUEST, subject, f"{state}: {request(LAMBDA_CONCURRENCY, region, at_least)}"
    )


def _already_reserved(needs: RegionNeeds, clients: Clients) -> int:
    cloudformation = clients("cloudformation", needs.region)
    lambda_ = clients("lambda", needs.region)
    total = 0
    for reservation in needs.reservations:
        try:
            detail = call(
                cloudformation,
                "describe_stack_resource",
                StackName=reservation.stack,
                LogicalResourceId=reservation.logical_id,
            )["StackResourceDetail"]
            answer = call(
                lambda_, "get_function_concurrency", FunctionName=detail["PhysicalResourceId"]
            )
        except Unreadable:
            continue  # not deployed yet: the stack or the function does not exist
        total += int(answer.get("ReservedConcurrentExecutions") or 0)
    return total


# --------------------------------------------------------------------------- network


def _not_ours(resources: list[dict[str, Any]], needs: RegionNeeds) -> list[dict[str, Any]]:
    """What exists in the account and is not one of these stacks' own (a redeploy)."""
    return [
        r
        for r in resources
        if not any(t["Key"] == STACK_TAG and t["Value"] in needs.stacks for t in r.get("Tags", []))
    ]


def vpcs(needs: RegionNeeds, clients: Clients) -> Finding:
    existing = _not_ours(call(clients("ec2", needs.region), "describe_vpcs")["Vpcs"], needs)
    return _count_quota(needs, clients, VPCS, used=len(existing), wanted=needs.vpcs)


def elastic_ips(needs: RegionNeeds, clients: Clients) -> Finding:
    addresses = call(clients("ec2", needs.region), "describe_addresses")["Addresses"]
    used = len(_not_ours(addresses, needs))
    return _count_quota(needs, clients, ELASTIC_IPS, used=used, wanted=needs.elastic_ips)


def _count_quota(
    needs: RegionNeeds, clients: Clients, codes: tuple[str, str, str], *, used: int, wanted: int
) -> Finding:
    allowed = quota(clients, needs.region, codes)
    state = f"{used} in use, these stacks add {wanted}, the quota is {allowed:g}"
    return _verdict(needs.region, codes, state, needed=used + wanted, allowed=allowed)


def _verdict(
    region: str, codes: tuple[str, str, str], state: str, *, needed: float, allowed: float
) -> Finding:
    if needed <= allowed:
        return Finding(region, OK, codes[2], state)
    return Finding(region, REQUEST, codes[2], f"{state}: {request(codes, region, needed)}")


def nat_gateways(needs: RegionNeeds, clients: Clients) -> Finding:
    ec2 = clients("ec2", needs.region)
    gateways = call(
        ec2,
        "describe_nat_gateways",
        Filters=[{"Name": "state", "Values": ["pending", "available"]}],
    )["NatGateways"]
    zone_of = {
        s["SubnetId"]: s["AvailabilityZone"] for s in call(ec2, "describe_subnets")["Subnets"]
    }
    used = Counter(zone_of.get(g["SubnetId"], "?") for g in _not_ours(gateways, needs))
    allowed = quota(clients, needs.region, NAT_PER_ZONE)
    busiest = max(used[zone] + wanted for zone, wanted in needs.nat_gateways_per_zone.items())
    state = (
        f"these stacks add {dict(needs.nat_gateways_per_zone)} per zone, the busiest zone then "
        f"has {busiest}, the quota is {allowed:g}"
    )
    return _verdict(needs.region, NAT_PER_ZONE, state, needed=busiest, allowed=allowed)


def endpoints(needs: RegionNeeds, clients: Clients) -> Finding:
    allowed = quota(clients, needs.region, INTERFACE_ENDPOINTS)
    wanted = needs.interface_endpoints_per_vpc
    state = f"{wanted} interface endpoints in one VPC, the quota is {allowed:g}"
    return _verdict(needs.region, INTERFACE_ENDPOINTS, state, needed=wanted, allowed=allowed)


# --------------------------------------------------------------------------- API Gateway


def api_throttle(needs: RegionNeeds, clients: Clients) -> Finding:
    """Every stage of the account shares its API Gateway throttle (requests per second)."""
    settings = call(clients("apigateway", needs.region), "get_account")["throttleSettings"]
    rate, burst = float(settings["rateLimit"]), int(settings["burstLimit"])
    stage_rate = max(r for r, _ in needs.stage_throttles)
    stage_burst = max(b for _, b in needs.stage_throttles)
    together = sum(r for r, _ in needs.stage_throttles)
    state = (
        f"the account allows {rate:g} requests/s (burst {burst}); these stages allow up to "
        f"{stage_rate:g} each (burst {stage_burst}), {together:g} together"
    )
    if stage_rate > rate or stage_burst > burst:
        return Finding(
            needs.region,
            REQUEST,
            "API Gateway throttle",
            f"{state}: request the account throttle (Service Quotas > apigateway, 'Throttle "
            f"rate') in {needs.region} to at least {max(stage_rate, together):g} requests/s",
        )
    status = OK if together <= rate else CHECK
    return Finding(needs.region, status, "API Gateway throttle", state)


# --------------------------------------------------------------------------- messaging


def sms(cfg: EnvironmentConfig, region: str, clients: Clients) -> Finding:
    sns = clients("sns", region)
    wanted = cfg.messaging
    problems = []
    if wanted.sms_production and call(sns, "get_sms_sandbox_account_status")["IsInSandbox"]:
        problems.append(
            f"SNS SMS is in the sandbox in {region} (it sends only to verified numbers): "
            "request production access (SNS console > Text messaging (SMS) > Exit SMS sandbox)"
        )
    attributes = call(sns, "get_sms_attributes", attributes=["MonthlySpendLimit"])["attributes"]
    spend = int(attributes.get("MonthlySpendLimit") or SMS_DEFAULT_SPEND_USD)
    if spend < wanted.sms_monthly_spend_limit_usd:
        problems.append(
            f"the SMS spend limit is {spend} USD a month: request an increase to at least "
            f"{wanted.sms_monthly_spend_limit_usd} USD ('SNS Text Messaging' service limit "
            "increase case), then set it with sns set-sms-attributes MonthlySpendLimit"
        )
    if problems:
        return Finding(region, REQUEST, "SNS SMS", "; ".join(problems))
    return Finding(region, OK, "SNS SMS", f"spend limit {spend} USD a month")


def email(cfg: EnvironmentConfig, region: str, clients: Clients) -> Finding:
    account = call(clients("sesv2", region), "get_account")
    wanted = cfg.messaging
    per_day = float(account.get("SendQuota", {}).get("Max24HourSend", 0))
    problems = []
    if wanted.email_production and not account.get("ProductionAccessEnabled"):
        problems.append(
            f"SES is in the sandbox in {region} (verified recipients only, 200 a day): request "
            "production access (SES console > Account dashboard > Request production access)"
        )
    if per_day < wanted.emails_per_day:
        problems.append(
            f"SES sends at most {per_day:g} e-mails a day: request a sending quota of at least "
            f"{wanted.emails_per_day}"
        )
    if problems:
        return Finding(region, REQUEST, "SES e-mail", "; ".join(problems))
    return Finding(region, OK, "SES e-mail", f"production access, {per_day:g} a day")
