"""Runtime settings from the function's environment (set by the service stack)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from payouts.models.schedule import Schedule
from shared.breaker import BreakerSettings


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
    # POST /payouts waits for Monoova at most this long (one attempt and one short retry),
    # then answers 202 and leaves the payout to the reconciler under the same reference.
    create_budget_seconds: float = 6.0


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
        create_budget_seconds=float(_env("MONOOVA_CREATE_BUDGET_SECONDS", "6")),
    )


@cache
def breaker() -> BreakerSettings:
    return BreakerSettings(
        min_volume=int(_env("BREAKER_MIN_VOLUME", "10")),
        failure_ratio=Decimal(_env("BREAKER_FAILURE_RATIO", "0.5")),
        window_seconds=int(_env("BREAKER_WINDOW_SECONDS", "300")),
        open_seconds=int(_env("BREAKER_OPEN_SECONDS", "600")),
    )


@cache
def schedule() -> Schedule:
    return Schedule(
        reconcile_seconds=int(_env("RECONCILE_THRESHOLD_SECONDS", "600")),
        return_check_seconds=int(_env("RETURN_CHECK_SECONDS", "3600")),
        refund_grace_seconds=int(_env("REFUND_GRACE_SECONDS", "300")),
    )


@dataclass(frozen=True)
class Jobs:
    stuck_seconds: int
    reconcile_batch_limit: int
    return_window_seconds: int
    return_check_batch_limit: int
    refund_sweep_batch_limit: int


@cache
def jobs() -> Jobs:
    return Jobs(
        stuck_seconds=int(_env("STUCK_UNKNOWN_SECONDS", "3600")),
        reconcile_batch_limit=int(_env("RECONCILE_BATCH_LIMIT", "100")),
        return_window_seconds=int(_env("RETURN_WINDOW_DAYS", "7")) * 86400,
        return_check_batch_limit=int(_env("RETURN_CHECK_BATCH_LIMIT", "200")),
        refund_sweep_batch_limit=int(_env("REFUND_SWEEP_BATCH_LIMIT", "100")),
    )


def pii_key_arn() -> str:
    return _env("PII_KEY_ARN")


def retention_seconds() -> int:
    return int(_env("TRANSACTION_RETENTION_DAYS", "2557")) * 86400


def idempotency_ttl_seconds() -> int:
    return int(_env("IDEMPOTENCY_TTL_HOURS", "24")) * 3600


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    for fn in (tables, monoova, breaker, schedule, jobs):
        fn.cache_clear()
