"""Config validation: every environment is valid, and bad values fail early and clearly."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import config
from config import ConfigError, PayoutsConfig, load
from config.payouts import (
    MONOOVA_PRODUCTION_URL,
    MONOOVA_SANDBOX_URL,
    PLACEHOLDER_WEBHOOK_PUBLIC_KEY,
)

ROOT = Path(__file__).resolve().parents[3]


def _broken(**changes: object) -> PayoutsConfig:
    return dataclasses.replace(load("dev"), **changes)  # type: ignore[arg-type]


def _problem(**changes: object) -> str:
    with pytest.raises(ConfigError) as raised:
        config.validate(_broken(**changes))
    return str(raised.value)


def _public_key_hex(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1).hex()


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_every_environment_is_valid(env_name: str) -> None:
    cfg = load(env_name)
    assert cfg.env_name == env_name
    assert cfg.region == "ap-southeast-2"
    assert cfg.availability_zones == ("ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c")
    assert set(cfg.tags) == {"system", "environment", "owner", "data-classification", "cost-centre"}


def test_environment_differences_live_in_config() -> None:
    dev, staging, prod = (load(name) for name in ("dev", "staging", "prod"))
    assert (dev.account, staging.account, prod.account) == (
        "111111111111",
        "222222222222",
        "333333333333",
    )
    assert dev.monoova_base_url == staging.monoova_base_url == MONOOVA_SANDBOX_URL
    assert prod.monoova_base_url == MONOOVA_PRODUCTION_URL
    assert not dev.retain_data and staging.retain_data and prod.retain_data
    assert (
        not dev.termination_protection
        and prod.termination_protection
        and staging.termination_protection
    )
    assert prod.breaker_min_volume == 10 > staging.breaker_min_volume > dev.breaker_min_volume
    assert prod.transaction_retention_days == 2557
    assert prod.lambda_log_retention.value >= staging.lambda_log_retention.value  # type: ignore[attr-defined]


def test_account_comes_from_context_then_environment_then_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CDK_ACCOUNT_DEV", raising=False)
    monkeypatch.delenv("CDK_ACCOUNT_PAYOUTS_DEV", raising=False)
    assert load("dev").account == "111111111111"
    monkeypatch.setenv("CDK_ACCOUNT_DEV", "444444444444")
    assert load("dev").account == "444444444444"
    assert load("dev", {"account-dev": "555555555555"}).account == "555555555555"
    assert (
        load("dev", {"account-payouts-dev": "666666666666", "account-dev": "555555555555"}).account
        == "666666666666"
    )


def test_bad_account_override_fails_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError, match=r"payouts/dev:\n  - account '12345' must be exactly 12 digits"
    ):
        load("dev", {"account-dev": "12345"})


def test_unknown_environment_is_named() -> None:
    with pytest.raises(
        ConfigError, match="unknown environment 'qa'; expected one of: dev, staging, prod"
    ):
        load("qa")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account": "11111111111a"}, "account '11111111111a' must be exactly 12 digits"),
        ({"monoova_source_bsb": "999-999"}, "BSB '999-999' is a placeholder"),
        ({"monoova_source_bsb": "802985"}, "BSB '802985' must look like 'NNN-NNN'"),
        ({"monoova_maccount_token": "627905972603980"}, "must be exactly 16 digits"),
        ({"monoova_maccount_token": "6279059726039801"}, "fails its Luhn check digit"),
        ({"monoova_base_url": "http://api.m-pay.com.au"}, "must be an https:// URL"),
        ({"monoova_base_url": "https://api.m-pay.com.au/v1"}, "must be a base URL"),
        ({"monoova_webhook_public_keys": ("not-hex",)}, "must be lower-case hex"),
        ({"monoova_webhook_public_keys": ("3082",)}, "is not a DER PKCS#1 RSA public key"),
        ({"monoova_webhook_public_keys": ()}, "must list at least one key"),
        ({"monoova_source_account_number": "12"}, "must be 6 to 10 digits"),
        ({"breaker_failure_ratio": 1.5}, "breaker_failure_ratio must be in (0, 1]"),
        ({"availability_zones": ("ap-south-1a",)}, "are not zones of ap-southeast-2"),
        ({"api_throttle_rate_limit": 0}, "api_throttle_rate_limit must be positive"),
        ({"dlq_max_age_alarm_seconds": 14 * 86400}, "must fire before the DLQ retention"),
    ],
)
def test_bad_values_fail_with_a_clear_message(changes: dict[str, object], message: str) -> None:
    assert message in _problem(**changes)


def test_every_problem_is_listed_at_once() -> None:
    text = _problem(account="1", monoova_source_bsb="999-999", monoova_base_url="http://x.example")
    assert text.startswith("invalid config for payouts/dev:")
    assert len(re.findall(r"^  - ", text, flags=re.MULTILINE)) == 3


def test_webhook_keys_must_be_strong_rsa_keys() -> None:
    assert "at least 2048" in _problem(monoova_webhook_public_keys=(_public_key_hex(1024),))
    same = PLACEHOLDER_WEBHOOK_PUBLIC_KEY
    assert "same key twice" in _problem(monoova_webhook_public_keys=(same, same))


def test_key_rotation_lists_old_and_new_keys() -> None:
    rotated = _broken(
        monoova_webhook_public_keys=(PLACEHOLDER_WEBHOOK_PUBLIC_KEY, _public_key_hex(2048))
    )
    assert config.validate(rotated) is rotated


def test_stacks_and_constructs_never_branch_on_an_environment_name() -> None:
    pattern = re.compile(r"""(==|!=|\bin\b)\s*\(?["'](dev|staging|prod)["']""")
    sources = [
        *ROOT.joinpath("stacks").rglob("*.py"),
        *ROOT.joinpath("cdk_constructs").rglob("*.py"),
    ]
    offenders = [
        f"{path.name}:{n}"
        for path in sources
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
