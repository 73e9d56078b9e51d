"""What the synthesized templates of one environment ask of an account's quotas, per Region.

Read off a cloud assembly (cost_model.assembly), so `make synth`'s summary and
`make preflight` count the same things: reserved Lambda concurrency (Lambda keeps 100 of the
account's concurrency unreserved, so a new account's limit of 10 fails every function that
reserves any), VPCs, NAT gateways per zone, Elastic IPs, interface endpoints per VPC, and the
REST API stages' throttles (all stages of an account share its API Gateway throttle).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from cost_model.assembly import Stack

# Lambda refuses a reservation that leaves fewer than this unreserved.
LAMBDA_UNRESERVED_MINIMUM = 100


@dataclass(frozen=True)
class Reservation:
    """One function's reserved concurrency, by its stack and logical id."""

    stack: str
    logical_id: str
    concurrency: int


@dataclass
class RegionNeeds:
    """One Region of one environment of one system."""

    system: str
    environment: str
    region: str
    stacks: list[str] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    vpcs: int = 0
    elastic_ips: int = 0
    nat_gateways_per_zone: Counter[str] = field(default_factory=Counter)
    interface_endpoints_per_vpc: int = 0
    stage_throttles: list[tuple[float, int]] = field(default_factory=list)  # (rate, burst)

    @property
    def reserved_concurrency(self) -> int:
        return sum(r.concurrency for r in self.reservations)

    @property
    def concurrency_limit_needed(self) -> int:
        """The account limit these reservations need when nothing else reserves any."""
        return self.reserved_concurrency + LAMBDA_UNRESERVED_MINIMUM


def needs(stacks: Iterable[Stack]) -> dict[tuple[str, str, str], RegionNeeds]:
    """(system, environment, region) -> what its stacks ask for."""
    found: dict[tuple[str, str, str], RegionNeeds] = {}
    for stack in stacks:
        key = (stack.system, stack.environment, stack.region)
        region = found.setdefault(key, RegionNeeds(*key))
        region.stacks.append(stack.name)
        _count(stack, region)
    return found


def _count(stack: Stack, region: RegionNeeds) -> None:
    zones = {
        r.logical_id: str(r.properties.get("AvailabilityZone", "?"))
        for r in stack.of_type("AWS::EC2::Subnet")
    }
    for function in stack.of_type("AWS::Lambda::Function"):
        reserved = function.properties.get("ReservedConcurrentExecutions")
        if isinstance(reserved, int):
            region.reservations.append(Reservation(stack.name, function.logical_id, reserved))
    region.vpcs += sum(1 for _ in stack.of_type("AWS::EC2::VPC"))
    region.elastic_ips += sum(1 for _ in stack.of_type("AWS::EC2::EIP"))
    for nat in stack.of_type("AWS::EC2::NatGateway"):
        subnet = nat.properties.get("SubnetId", {})
        zone = zones.get(subnet.get("Ref", "")) if isinstance(subnet, dict) else None
        region.nat_gateways_per_zone[zone or "?"] += 1
    interface = sum(
        1
        for endpoint in stack.of_type("AWS::EC2::VPCEndpoint")
        if endpoint.properties.get("VpcEndpointType") == "Interface"
    )
    region.interface_endpoints_per_vpc = max(region.interface_endpoints_per_vpc, interface)
    for stage in stack.of_type("AWS::ApiGateway::Stage"):
        for setting in stage.properties.get("MethodSettings", []):
            rate, burst = setting.get("ThrottlingRateLimit"), setting.get("ThrottlingBurstLimit")
            if rate is not None and burst is not None:
                region.stage_throttles.append((float(rate), int(burst)))


def concurrency_lines(all_needs: Iterable[RegionNeeds]) -> list[str]:
    """The synth summary's table: reserved concurrency per environment and Region."""
    rows = [("system", "environment", "region", "reserved", "account limit needed")]
    for region in sorted(all_needs, key=lambda n: (n.system, n.environment, n.region)):
        if region.reservations:
            rows.append(
                (
                    region.system,
                    region.environment,
                    region.region,
                    str(region.reserved_concurrency),
                    f">= {region.concurrency_limit_needed}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
