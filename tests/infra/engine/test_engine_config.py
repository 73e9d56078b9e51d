"""Payments-engine config: every environment is valid; bad values fail early and clearly."""

from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import aws_logs as logs

import config
from config import ConfigError, EngineConfig, engine_environments, load_engine
from config.engine import NetworkConfig


def _problem(cfg: EngineConfig) -> str:
    with pytest.raises(ConfigError) as raised:
        config.validate(cfg)
    return str(raised.value)


def _with_network(**changes: object) -> EngineConfig:
    base = load_engine("prod")
    return dataclasses.replace(base, network=dataclasses.replace(base.network, **changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("env_name", ["dev", "qa", "staging", "prod"])
def test_every_engine_environment_is_valid(env_name: str) -> None:
    cfg = load_engine(env_name)
    assert cfg.region == "ap-south-1" and cfg.dr_region == "ap-southeast-1"
    assert cfg.availability_zones == ("ap-south-1a", "ap-south-1b")
    assert cfg.dr_network.availability_zones[0] == "ap-southeast-1a"


def test_environments_in_deploy_order() -> None:
    assert engine_environments() == ("dev", "qa", "staging", "prod")


def test_seed_values() -> None:
    dev, qa, staging, prod = (load_engine(e) for e in engine_environments())
    assert [c.az_count for c in (dev, qa, staging, prod)] == [2, 2, 2, 2]
    assert [c.database.multi_az for c in (dev, qa, staging, prod)] == [False, True, True, True]
    assert [c.nat_gateways for c in (dev, qa, staging, prod)] == [1, 1, 1, 2]
    assert [c.nat_gateways for c in (dev, qa, staging, prod)] == [1, 1, 1, 2]
    assert [c.dr_enabled for c in (dev, qa, staging, prod)] == [False, False, True, True]
    assert prod.backup_retention_days == 35
    assert not dev.retain_data and not dev.deletion_protection and not dev.termination_protection
    assert prod.portal_log_retention == logs.RetentionDays.ONE_MONTH
    assert prod.internal_log_retention == logs.RetentionDays.THREE_MONTHS
    assert prod.scheduler_log_retention == logs.RetentionDays.TWO_WEEKS
    assert prod.api_access_log_retention == logs.RetentionDays.ONE_MONTH
    assert prod.network.public_subnet_cidrs == ("10.0.1.0/24", "10.0.2.0/24")
    assert prod.network.app_subnet_cidrs == ("10.0.11.0/24", "10.0.12.0/24")
    assert prod.network.db_subnet_cidrs == ("10.0.21.0/24", "10.0.22.0/24")
    assert prod.dr_network.vpc_cidr == "10.1.0.0/16"
    assert prod.dr_network.db_subnet_cidrs == ("10.1.21.0/24", "10.1.22.0/24")


def test_account_override_uses_the_engine_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDK_ACCOUNT_ENGINE_QA", raising=False)
    monkeypatch.delenv("CDK_ACCOUNT_QA", raising=False)
    assert load_engine("qa", {"account-engine-qa": "123456789012"}).account == "123456789012"
    monkeypatch.setenv("CDK_ACCOUNT_ENGINE_QA", "210987654321")
    assert load_engine("qa").account == "210987654321"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown engine environment 'uat'"):
        load_engine("uat")


def test_subnet_outside_the_vpc_is_refused() -> None:
    message = _problem(_with_network(app_subnet_cidrs=("10.0.11.0/24", "10.9.12.0/24")))
    assert "app subnet 10.9.12.0/24 is outside the VPC 10.0.0.0/16" in message


def test_subnet_count_must_match_the_zones() -> None:
    message = _problem(_with_network(db_subnet_cidrs=("10.0.21.0/24",)))
    assert "db_subnet_cidrs lists 1 subnets for 2 availability zones" in message


def test_overlapping_subnets_are_refused() -> None:
    message = _problem(_with_network(public_subnet_cidrs=("10.0.11.0/24", "10.0.2.0/24")))
    assert "subnets overlap" in message


def test_nat_gateways_at_most_one_per_zone() -> None:
    assert "nat_gateways must be 1 to 2" in _problem(_with_network(nat_gateways=3))


def test_dr_region_must_differ() -> None:
    cfg = dataclasses.replace(load_engine("prod"), dr_region="ap-south-1")
    assert "dr_region must differ from region" in _problem(cfg)


def test_dr_zones_must_be_in_the_dr_region() -> None:
    base = load_engine("prod")
    dr = NetworkConfig.seed("10.1.0.0/16", ("ap-south-1a", "ap-south-1b"), 2, 1)
    message = _problem(dataclasses.replace(base, dr_network=dr))
    assert "are not zones of ap-southeast-1" in message


def test_overlapping_primary_and_dr_vpcs_are_refused() -> None:
    base = load_engine("prod")
    dr = dataclasses.replace(base.dr_network, vpc_cidr="10.0.0.0/16")
    assert "must not overlap" in _problem(dataclasses.replace(base, dr_network=dr))


def test_backup_retention_is_capped_at_35_days() -> None:
    cfg = dataclasses.replace(load_engine("prod"), backup_retention_days=36)
    assert "backup_retention_days must be at most 35" in _problem(cfg)


def test_log_retention_must_be_finite() -> None:
    cfg = dataclasses.replace(load_engine("prod"), portal_log_retention=logs.RetentionDays.INFINITE)
    assert "portal_log_retention must be finite" in _problem(cfg)
