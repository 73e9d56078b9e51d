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


# --------------------------------------------------------------------------- prod's Monoova account

REAL_MACCOUNT = "1234567890123452"  # 16 digits with a valid Luhn check digit
_MONOOVA_VARIABLES = (
    "PAYOUTS_MONOOVA_MACCOUNT_PROD",
    "PAYOUTS_MONOOVA_SOURCE_ACCOUNT_PROD",
    "PAYOUTS_MONOOVA_SOURCE_BSB_PROD",
)


@pytest.fixture
def no_monoova_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _MONOOVA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_the_deploy_path_refuses_prod_with_the_sandbox_example_account(
    no_monoova_overrides: None,
) -> None:
    with pytest.raises(ConfigError) as raised:
        load("prod", strict=True)

    message = str(raised.value)
    assert "6279059726039800" in message and "654378888" in message
    # It says how to set the real values, with no code edit.
    assert "PAYOUTS_MONOOVA_MACCOUNT_PROD=" in message
    assert "PAYOUTS_MONOOVA_SOURCE_ACCOUNT_PROD=" in message
    assert "-c monoova-maccount-prod=" in message
    assert "-c monoova-source-account-prod=" in message


def test_synth_and_tests_only_warn_once(
    no_monoova_overrides: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(config, "_WARNED", set())

    first, second = load("prod"), load("prod")

    assert first.monoova_maccount_token == "6279059726039800" == second.monoova_maccount_token
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: payouts/prod:")
    assert "make deploy refuses it" in lines[0]


def test_the_real_account_comes_from_context_or_the_environment(
    no_monoova_overrides: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_context = load(
        "prod",
        {"monoova-maccount-prod": REAL_MACCOUNT, "monoova-source-account-prod": "12345678"},
        strict=True,
    )
    assert (from_context.monoova_maccount_token, from_context.monoova_source_account_number) == (
        REAL_MACCOUNT,
        "12345678",
    )
    monkeypatch.setenv("PAYOUTS_MONOOVA_MACCOUNT_PROD", REAL_MACCOUNT)
    monkeypatch.setenv("PAYOUTS_MONOOVA_SOURCE_ACCOUNT_PROD", "87654321")
    monkeypatch.setenv("PAYOUTS_MONOOVA_SOURCE_BSB_PROD", "802-986")
    from_environment = load("prod", strict=True)
    assert from_environment.monoova_source_account_number == "87654321"
    assert from_environment.monoova_source_bsb == "802-986"
    # Context wins over the environment, as for account ids.
    assert load(
        "prod", {"monoova-source-account-prod": "11112222"}
    ).monoova_source_account_number == ("11112222")


def test_a_mistyped_real_account_is_still_caught(no_monoova_overrides: None) -> None:
    with pytest.raises(ConfigError, match="Luhn"):
        load("prod", {"monoova-maccount-prod": "1234567890123456"}, strict=True)


def test_the_sandbox_environments_deploy_with_the_sandbox_account() -> None:
    for env_name in ("dev", "staging"):
        cfg = load(env_name, strict=True)
        assert cfg.monoova_maccount_token == "6279059726039800"


def test_make_deploy_is_the_strict_path() -> None:
    import subprocess

    dry_run = subprocess.run(
        ["make", "-n", "deploy", "ENV=prod"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (deploy,) = [line for line in dry_run.splitlines() if " deploy " in line and "cdk" in line]
    assert "-c strict=true" in deploy
    for command in ("synth", "test", "cost"):
        recipe = subprocess.run(
            ["make", "-n", command], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout
        assert "strict" not in recipe, command


def test_the_app_refuses_prod_when_strict(no_monoova_overrides: None) -> None:
    import aws_cdk as cdk

    from stacks import build

    with pytest.raises(ConfigError, match="refusing to deploy payouts/prod"):
        build(cdk.App(context={"env": "prod", "system": "payouts", "strict": "true"}))
