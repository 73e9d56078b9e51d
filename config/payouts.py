"""The payouts system: one frozen config per environment (dev, staging, prod).

Every number the stacks or the Lambda runtime depend on is a field here, so an
environment's behaviour can be read off this file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Self

from aws_cdk import aws_logs as logs

from config.base import EnvironmentConfig
from config.cost import CostConfig
from config.validation import (
    check_account_number,
    check_bsb,
    check_https_url,
    check_maccount_token,
    check_positive,
    check_rsa_public_key_hex,
)

SYSTEM = "payouts"
REGION = "ap-southeast-2"
AVAILABILITY_ZONES = ("ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c")

MONOOVA_SANDBOX_URL = "https://api.m-pay.com.au"
MONOOVA_PRODUCTION_URL = "https://api.mpay.com.au"

# Monoova's published sandbox mAccount and source account: right for dev and staging (the
# sandbox), never for production, which must pay from its own (see `deploy_problems`).
# 802-985 is Monoova's own BSB (Cuscal), the same in both.
MONOOVA_SANDBOX_MACCOUNT = "6279059726039800"
MONOOVA_SANDBOX_SOURCE_ACCOUNT = "654378888"
MONOOVA_SOURCE_BSB = "802-985"

# The Monoova account values set without a code edit: context `<key>-<env>` wins over the
# environment variable `<VARIABLE>_<ENV>`, which wins over the config below.
MONOOVA_OVERRIDES = (
    ("monoova-maccount", "PAYOUTS_MONOOVA_MACCOUNT", "monoova_maccount_token"),
    ("monoova-source-account", "PAYOUTS_MONOOVA_SOURCE_ACCOUNT", "monoova_source_account_number"),
    ("monoova-source-bsb", "PAYOUTS_MONOOVA_SOURCE_BSB", "monoova_source_bsb"),
)

# Placeholder webhook-signing key: a 2048-bit RSA public key (hex DER PKCS#1) made
# once with `cryptography` for this repository; its private half was discarded, so
# no webhook can ever verify against it. It is public by nature and safe to commit.
# Replace it with the key Monoova publishes; to rotate, list the old and new keys
# together until Monoova has switched, then drop the old one.
PLACEHOLDER_WEBHOOK_PUBLIC_KEY = (
    "3082010a028201010097ffe9887d6d82e337b4afbd4914ecef870cca7ab5ff4cc9b64a2d063b9130"
    "cb35a2179d9fdb51e0d414d4ccaab3e6e93b7dded84a01cf313ea674e032ab5904b7dbeefb726eb7"
    "76febbd0ceac15040866353b3a4ba83f0eedf62d4150f0acd4dd4ce7087b1460b49dcabf3695013c"
    "da99c229052c74eebc5b91a51a1e0a5c024f8a362042ff934e3a197865d23bd03f3913524985c7b0"
    "0d806e28a04564c67b528343f24ea1de287a92d671a89c7d7e4480ed09e199a6d72692eed7a191b3"
    "07b68f69986befd7d194537fcc951638997f432b0ceaa3148adb2a16409bcde504ea9e0ff6f9052d"
    "90fc87c07400e84887c82c69edf1cd50c6dc31aec2e95cb1a10203010001"
)

ApiLoggingLevel = Literal["ERROR", "INFO"]


@dataclass(frozen=True, kw_only=True)
class PayoutsConfig(EnvironmentConfig):
    system: str = SYSTEM
    region: str = REGION
    availability_zones: tuple[str, ...] = AVAILABILITY_ZONES
    owner: str = "payments-platform"
    data_classification: str = "confidential"
    cost_centre: str = "CC-PAYOUTS"

    # Monoova
    monoova_base_url: str
    monoova_maccount_token: str = MONOOVA_SANDBOX_MACCOUNT
    monoova_source_bsb: str = MONOOVA_SOURCE_BSB
    monoova_source_account_number: str = MONOOVA_SANDBOX_SOURCE_ACCOUNT
    # False where real money moves: a deploy with the sandbox's example values is refused.
    monoova_example_values_allowed: bool = True
    monoova_remitter_name: str = "Payouts Sandbox"
    monoova_webhook_public_keys: tuple[str, ...] = (PLACEHOLDER_WEBHOOK_PUBLIC_KEY,)
    monoova_timeout_seconds: int = 4
    # POST /payouts waits for Monoova at most this long (one attempt and one short retry),
    # then answers 202; the reconciler finishes the payout under the same reference.
    # With the DynamoDB calls around it the create stays under 8 s (`make bench`).
    monoova_create_budget_seconds: int = 6

    # Edge
    api_throttle_rate_limit: int = 100
    api_throttle_burst_limit: int = 200
    waf_rate_limit_per_5min_per_ip: int
    api_execution_logging_level: ApiLoggingLevel

    # Concurrency: 5 reserved for CreatePayout; one reconciler at a time
    # keeps the status sweeps from overlapping. Every function has a limit
    # (NIST 800-53 R5 SC-6, cdk-nag LambdaConcurrency), so that no one of them can
    # starve the account's pool.
    create_payout_reserved_concurrency: int = 5
    reconciler_reserved_concurrency: int = 1
    refund_sweeper_reserved_concurrency: int = 1
    # Admin reads: a handful of operators at a time.
    query_payouts_reserved_concurrency: int = 10
    # Generous on purpose: Monoova retries a failed webhook only once, so a throttled
    # delivery is close to a lost one (it would then wait for the reconciler).
    monoova_webhook_reserved_concurrency: int = 20
    # SQS and stream consumers: a small limit only slows draining; messages wait.
    webhook_replay_reserved_concurrency: int = 2
    balance_restorer_reserved_concurrency: int = 2

    # Reconciliation of Pending and UNKNOWN payouts
    reconcile_interval_minutes: int = 5
    reconcile_threshold_minutes: int = 10
    stuck_unknown_minutes: int = 60
    reconcile_batch_limit: int = 100

    # Returns whose NppReturn webhook was lost: completed payouts are asked about through
    # the status API on this slower schedule until the NPP return window has closed. The
    # window is the receiving institutions' to keep (confirm the figure with Monoova).
    return_check_interval_minutes: int = 60
    npp_return_window_days: int = 7
    return_check_batch_limit: int = 200

    # Credits the table stream missed: a sweep credits Rejected/Returned payouts still
    # uncredited this long after they became final (the stream takes seconds).
    refund_sweep_interval_minutes: int = 5
    refund_sweep_grace_minutes: int = 5
    refund_sweep_batch_limit: int = 100

    # Circuit breaker in front of Monoova (>50% failures over 5 minutes opens it for 10)
    breaker_min_volume: int
    breaker_failure_ratio: float = 0.5
    breaker_window_seconds: int = 300
    breaker_open_seconds: int = 600

    # Retention
    lambda_log_retention: logs.RetentionDays
    api_log_retention: logs.RetentionDays
    # Transaction records are kept 7 years (financial compliance), not the 90-day TTL
    # first asked for on the same table: 2557 days where the records are real, and 90
    # only in dev, which holds test data.
    transaction_retention_days: int = 2557
    idempotency_ttl_hours: int = 24
    dlq_retention_days: int = 14
    webhook_replay_max_receive_count: int = 3

    # Alarms (error rates, DLQ depth, API 5xx and throttles, plus DLQ age and stuck UNKNOWN)
    create_payout_error_rate_percent: float = 5.0
    create_payout_error_window_minutes: int = 5
    webhook_error_count: int = 3
    webhook_error_window_minutes: int = 10
    api_5xx_count: int = 10
    api_5xx_window_minutes: int = 5
    lambda_throttle_count: int = 5
    dlq_max_visible_messages: int = 0
    dlq_max_age_alarm_seconds: int
    stuck_unknown_max: int = 0

    powertools_log_level: str = "INFO"

    def problems(self) -> list[str]:
        found: list[str | None] = [
            *super().problems(),
            check_https_url(self.monoova_base_url),
            check_maccount_token(self.monoova_maccount_token),
            check_bsb(self.monoova_source_bsb),
            check_account_number(self.monoova_source_account_number),
            self._check_remitter(),
            self._check_webhook_keys(),
            self._check_breaker(),
            self._check_create_budget(),
            self._check_retention(),
        ]
        found += [check_positive(name, getattr(self, name)) for name in _POSITIVE_FIELDS]
        return [problem for problem in found if problem]

    def with_monoova_override(self, context: Mapping[str, Any] | None = None) -> Self:
        """The Monoova account values from context or the environment (no code edit)."""
        context = context or {}
        changes: dict[str, Any] = {}
        for key, variable, name in MONOOVA_OVERRIDES:
            value = context.get(f"{key}-{self.env_name}") or os.environ.get(
                f"{variable}_{self.env_name.upper()}"
            )
            if value:
                changes[name] = str(value).strip()
        return dataclasses.replace(self, **changes) if changes else self

    def deploy_problems(self) -> list[str]:
        """What a deploy of this environment must refuse (synth and tests only warn)."""
        if self.monoova_example_values_allowed:
            return []
        found = []
        if self.monoova_maccount_token == MONOOVA_SANDBOX_MACCOUNT:
            found.append(f"the mAccount is Monoova's sandbox example {MONOOVA_SANDBOX_MACCOUNT}")
        if self.monoova_source_account_number == MONOOVA_SANDBOX_SOURCE_ACCOUNT:
            found.append(
                f"the source account is Monoova's sandbox example {MONOOVA_SANDBOX_SOURCE_ACCOUNT}"
            )
        return found

    def how_to_set_monoova_account(self) -> str:
        env, upper = self.env_name, self.env_name.upper()
        (maccount, maccount_var, _), (source, source_var, _), (bsb, bsb_var, _) = MONOOVA_OVERRIDES
        return (
            "set the real ones without a code edit: export "
            f"{maccount_var}_{upper}=<16-digit mAccount> and "
            f"{source_var}_{upper}=<account number> before make deploy ENV={env} (or pass "
            f"-c {maccount}-{env}=... -c {source}-{env}=... to cdk), and "
            f"{bsb_var}_{upper} (-c {bsb}-{env}) if the BSB is not {MONOOVA_SOURCE_BSB}"
        )

    def _check_remitter(self) -> str | None:
        name = self.monoova_remitter_name
        return None if 0 < len(name) <= 140 else "monoova_remitter_name must be 1 to 140 characters"

    def _check_webhook_keys(self) -> str | None:
        keys = self.monoova_webhook_public_keys
        if not keys:
            return "monoova_webhook_public_keys must list at least one key"
        if len(set(keys)) != len(keys):
            return "monoova_webhook_public_keys lists the same key twice"
        return next((problem for key in keys if (problem := check_rsa_public_key_hex(key))), None)

    def _check_breaker(self) -> str | None:
        if 0 < self.breaker_failure_ratio <= 1:
            return None
        return f"breaker_failure_ratio must be in (0, 1], got {self.breaker_failure_ratio}"

    def _check_create_budget(self) -> str | None:
        budget = self.monoova_create_budget_seconds
        if self.monoova_timeout_seconds <= budget <= 20:
            return None
        return (
            f"monoova_create_budget_seconds ({budget}) must be at least "
            f"monoova_timeout_seconds ({self.monoova_timeout_seconds}) and at most 20, well "
            "inside API Gateway's 29 s integration timeout"
        )

    def _check_retention(self) -> str | None:
        if self.reconcile_threshold_minutes >= self.stuck_unknown_minutes:
            return "reconcile_threshold_minutes must be shorter than stuck_unknown_minutes"
        if self.dlq_max_age_alarm_seconds >= self.dlq_retention_days * 86400:
            return "dlq_max_age_alarm_seconds must fire before the DLQ retention drops messages"
        return None


_POSITIVE_FIELDS = (
    "monoova_timeout_seconds",
    "monoova_create_budget_seconds",
    "api_throttle_rate_limit",
    "api_throttle_burst_limit",
    "waf_rate_limit_per_5min_per_ip",
    "create_payout_reserved_concurrency",
    "reconciler_reserved_concurrency",
    "query_payouts_reserved_concurrency",
    "monoova_webhook_reserved_concurrency",
    "webhook_replay_reserved_concurrency",
    "balance_restorer_reserved_concurrency",
    "reconcile_interval_minutes",
    "reconcile_threshold_minutes",
    "stuck_unknown_minutes",
    "reconcile_batch_limit",
    "refund_sweeper_reserved_concurrency",
    "return_check_interval_minutes",
    "npp_return_window_days",
    "return_check_batch_limit",
    "refund_sweep_interval_minutes",
    "refund_sweep_grace_minutes",
    "refund_sweep_batch_limit",
    "breaker_min_volume",
    "breaker_window_seconds",
    "breaker_open_seconds",
    "transaction_retention_days",
    "idempotency_ttl_hours",
    "dlq_retention_days",
    "webhook_replay_max_receive_count",
    "create_payout_error_rate_percent",
    "webhook_error_count",
    "api_5xx_count",
    "lambda_throttle_count",
    "dlq_max_age_alarm_seconds",
)

DEV = PayoutsConfig(
    env_name="dev",
    cost=CostConfig(operations_per_day=20, monthly_budget_usd=Decimal(40), active_staff_users=5),
    account="111111111111",
    retain_data=False,
    deletion_protection=False,
    termination_protection=False,
    alarm_actions_enabled=False,
    monoova_base_url=MONOOVA_SANDBOX_URL,
    waf_rate_limit_per_5min_per_ip=300,
    api_execution_logging_level="INFO",
    breaker_min_volume=3,
    lambda_log_retention=logs.RetentionDays.ONE_WEEK,
    api_log_retention=logs.RetentionDays.THREE_DAYS,
    transaction_retention_days=90,
    dlq_max_age_alarm_seconds=24 * 3600,
)

STAGING = PayoutsConfig(
    env_name="staging",
    cost=CostConfig(operations_per_day=20, monthly_budget_usd=Decimal(40), active_staff_users=5),
    account="222222222222",
    retain_data=True,
    deletion_protection=True,
    termination_protection=True,
    alarm_actions_enabled=True,
    monoova_base_url=MONOOVA_SANDBOX_URL,
    waf_rate_limit_per_5min_per_ip=500,
    api_execution_logging_level="INFO",
    breaker_min_volume=5,
    lambda_log_retention=logs.RetentionDays.ONE_MONTH,
    api_log_retention=logs.RetentionDays.ONE_MONTH,
    dlq_max_age_alarm_seconds=4 * 3600,
)

# Production keeps a year of logs: PCI DSS 10.7 asks for a year of audit history,
# and the payout trail is what an auditor asks for first.
PROD = PayoutsConfig(
    env_name="prod",
    # The expected volume: 100-200 payouts a day.
    cost=CostConfig(operations_per_day=200, monthly_budget_usd=Decimal(50), active_staff_users=10),
    account="333333333333",
    retain_data=True,
    deletion_protection=True,
    termination_protection=True,
    alarm_actions_enabled=True,
    monoova_base_url=MONOOVA_PRODUCTION_URL,
    monoova_remitter_name="Payouts",
    # The real mAccount and source account come from context or the environment at deploy
    # (PAYOUTS_MONOOVA_MACCOUNT_PROD, PAYOUTS_MONOOVA_SOURCE_ACCOUNT_PROD): `make deploy`
    # refuses the sandbox's example values; synth and tests warn once.
    monoova_example_values_allowed=False,
    waf_rate_limit_per_5min_per_ip=1000,
    api_execution_logging_level="ERROR",
    breaker_min_volume=10,
    lambda_log_retention=logs.RetentionDays.ONE_YEAR,
    api_log_retention=logs.RetentionDays.ONE_YEAR,
    dlq_max_age_alarm_seconds=3600,
)

ENVIRONMENTS: dict[str, PayoutsConfig] = {cfg.env_name: cfg for cfg in (DEV, STAGING, PROD)}
