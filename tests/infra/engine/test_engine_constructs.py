"""The engine's reusable constructs refuse what their secure defaults forbid, and the
app builds the systems and environments its context asks for."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from cdk_constructs.global_table import GlobalTable, GlobalTableProps
from cdk_constructs.multi_region_key import MultiRegionKey, MultiRegionKeyProps
from cdk_constructs.network import ThreeTierVpc, ThreeTierVpcProps
from cdk_constructs.stack_base import ConfiguredStack
from config import ConfigError
from engine.tables import SESSIONS
from stacks import selected_environments, selected_systems

ROOT = Path(__file__).resolve().parents[3]


def _stack() -> cdk.Stack:
    app = cdk.App()
    return ConfiguredStack(
        app,
        "S",
        env=cdk.Environment(account="123456789012", region="ap-south-1"),
        availability_zones=["ap-south-1a", "ap-south-1b"],
    )


def _vpc_props(stack: cdk.Stack, **changes: object) -> ThreeTierVpcProps:
    values: dict[str, object] = {
        "vpc_cidr": "10.0.0.0/16",
        "availability_zones": ["ap-south-1a", "ap-south-1b"],
        "public_subnet_cidrs": ["10.0.1.0/24", "10.0.2.0/24"],
        "app_subnet_cidrs": ["10.0.11.0/24", "10.0.12.0/24"],
        "db_subnet_cidrs": ["10.0.21.0/24", "10.0.22.0/24"],
        "nat_gateways": 1,
        "flow_log_key": kms.Key(stack, f"K{len(stack.node.children)}"),
        "flow_log_retention": logs.RetentionDays.ONE_MONTH,
        "removal_policy": cdk.RemovalPolicy.DESTROY,
    }
    return ThreeTierVpcProps(**(values | changes))  # type: ignore[arg-type]


def test_vpc_refuses_a_subnet_count_that_does_not_match_the_zones() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="db: 1 subnet CIDRs for 2 zones"):
        ThreeTierVpc(stack, "N", _vpc_props(stack, db_subnet_cidrs=["10.0.21.0/24"]))


def test_vpc_refuses_more_nat_gateways_than_zones_and_endless_flow_logs() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="nat_gateways"):
        ThreeTierVpc(stack, "N", _vpc_props(stack, nat_gateways=3))
    with pytest.raises(ValueError, match="flow logs must expire"):
        ThreeTierVpc(stack, "M", _vpc_props(stack, flow_log_retention=logs.RetentionDays.INFINITE))


def test_vpc_uses_exactly_the_given_cidrs() -> None:
    stack = _stack()
    ThreeTierVpc(stack, "N", _vpc_props(stack))
    cidrs = {
        r["Properties"]["CidrBlock"]
        for r in Template.from_stack(stack).find_resources("AWS::EC2::Subnet").values()
    }
    assert cidrs == {
        "10.0.1.0/24",
        "10.0.2.0/24",
        "10.0.11.0/24",
        "10.0.12.0/24",
        "10.0.21.0/24",
        "10.0.22.0/24",
    }


def test_multi_region_key_always_rotates_and_is_multi_region() -> None:
    stack = _stack()
    MultiRegionKey(
        stack,
        "K",
        MultiRegionKeyProps(
            alias="alias/k",
            description="d",
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::KMS::Key", {"MultiRegion": True, "EnableKeyRotation": True}
    )
    with pytest.raises(ValueError, match="pending_window_days"):
        MultiRegionKey(
            stack,
            "L",
            MultiRegionKeyProps(
                alias="alias/l",
                description="d",
                removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
                pending_window_days=3,
            ),
        )


def _table_props(stack: cdk.Stack, replicas: dict[str, str]) -> GlobalTableProps:
    return GlobalTableProps(
        spec=SESSIONS,
        encryption_key=kms.Key(stack, f"K{len(replicas)}{len(stack.node.children)}"),
        removal_policy=cdk.RemovalPolicy.DESTROY,
        deletion_protection=False,
        replica_key_arns=replicas,
    )


def test_global_table_refuses_its_own_region_and_replicas_without_a_key() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="own Region"):
        GlobalTable(stack, "A", _table_props(stack, {"ap-south-1": "arn:aws:kms:x"}))
    with pytest.raises(ValueError, match="customer-managed key"):
        GlobalTable(stack, "B", _table_props(stack, {"ap-southeast-1": ""}))


def test_system_and_env_context_select_the_stages() -> None:
    assert selected_systems(cdk.App()) == ("payouts", "engine")
    assert selected_systems(cdk.App(context={"system": "engine"})) == ("engine",)
    with pytest.raises(ConfigError, match="unknown system"):
        selected_systems(cdk.App(context={"system": "billing"}))
    assert selected_environments(cdk.App(), "engine") == ("dev", "qa", "staging", "prod")
    # qa exists only for the engine: payouts builds nothing for it.
    assert selected_environments(cdk.App(context={"env": "qa"}), "payouts") == ()
    assert selected_environments(cdk.App(context={"env": "qa"}), "engine") == ("qa",)


def test_synth_summary_reports_every_engine_stack(engine_synth_of: Any) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import synth_summary

    synth = engine_synth_of("prod")
    out = io.StringIO()
    with redirect_stdout(out):
        code = synth_summary.main(["synth_summary.py", str(synth.outdir)])
    assert code == 0
    lines = out.getvalue().splitlines()
    for role, region in (
        ("keys", "ap-south-1"),
        ("dr-keys", "ap-southeast-1"),
        ("network", "ap-south-1"),
        ("data", "ap-south-1"),
        ("dr-network", "ap-southeast-1"),
    ):
        row = next(line for line in lines if line.startswith(f"engine-prod-{role} "))
        cells = row.split()
        assert cells[1:4] == ["engine", "prod", region], row
        assert "pass" in row
