"""Runtime settings from the function's environment (set by the service stack)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from functools import cache


@dataclass(frozen=True)
class Tables:
    transactions: str
    customers: str
    idempotency: str
    breaker: str


@dataclass(frozen=True)
class MonoovaSettings:
    base_url: str
    api_secret_arn: str
    maccount_token: str
    source_bsb: str
    source_account_number: str
    remitter_name: str
    timeout_seconds: float


@dataclass(frozen=True)
class BreakerSettings:
    min_volume: int
    failure_ratio: Decimal
    window_seconds: int
    open_seconds: int


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@cache
def tables() -> Tables:
    return Tables(
        transactions=_env("TRANSACTIONS_TABLE", ""),
        customers=_env("CUSTOMERS_TABLE", ""),
        idempotency=_env("IDEMPOTENCY_TABLE", ""),
        breaker=_env("BREAKER_TABLE", ""),
    )


@cache
def monoova() -> MonoovaSettings:
    return MonoovaSettings(
        base_url=_env("MONOOVA_BASE_URL").rstrip("/"),
        api_secret_arn=_env("MONOOVA_API_SECRET_ARN"),
        maccount_token=_env("MONOOVA_MACCOUNT_TOKEN"),
        source_bsb=_env("MONOOVA_SOURCE_BSB"),
        source_account_number=_env("MONOOVA_SOURCE_ACCOUNT_NUMBER"),
        remitter_name=_env("MONOOVA_REMITTER_NAME"),
        timeout_seconds=float(_env("MONOOVA_TIMEOUT_SECONDS", "4")),
    )


@cache
def breaker() -> BreakerSettings:
    return BreakerSettings(
        min_volume=int(_env("BREAKER_MIN_VOLUME", "10")),
        failure_ratio=Decimal(_env("BREAKER_FAILURE_RATIO", "0.5")),
        window_seconds=int(_env("BREAKER_WINDOW_SECONDS", "300")),
        open_seconds=int(_env("BREAKER_OPEN_SECONDS", "600")),
    )


def pii_key_arn() -> str:
    return _env("PII_KEY_ARN")


def retention_seconds() -> int:
    return int(_env("TRANSACTION_RETENTION_DAYS", "2557")) * 86400


def idempotency_ttl_seconds() -> int:
    return int(_env("IDEMPOTENCY_TTL_HOURS", "24")) * 3600


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    for fn in (tables, monoova, breaker):
        fn.cache_clear()
