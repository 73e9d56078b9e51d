"""Fields every system's environment shares, and how an account id is overridden.

A system (payouts now, the payments engine later) subclasses `EnvironmentConfig`
with its own frozen dataclass; constructs never see these objects, only the values
a stack reads from them, so every difference between environments lives here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import aws_cdk as cdk

from config.cost import CostConfig
from config.validation import (
    ConfigError,
    check_account,
    check_availability_zones,
)


@dataclass(frozen=True, kw_only=True)
class MessagingLimits:
    """What the system's customer messages need of SNS and SES in each Region it runs in.

    `make preflight` reads the account's values. Out of the sandboxes, SNS sends SMS to any
    number and SES e-mail to any address; in them, only to verified ones (SES: 200 a day).
    The SMS spend limit is a monthly ceiling (new accounts: 1 USD), not a price.
    """

    sms_production: bool = False
    sms_monthly_spend_limit_usd: int = 0
    email_production: bool = False
    emails_per_day: int = 0

    def problems(self) -> list[str]:
        if self.sms_monthly_spend_limit_usd < 0 or self.emails_per_day < 0:
            return ["messaging limits must not be negative"]
        return []


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    system: str
    env_name: str
    # Documented placeholder so `cdk synth` needs no credentials; the real id comes
    # from context `account-<env>` or the environment variable `CDK_ACCOUNT_<ENV>`.
    account: str
    region: str
    availability_zones: tuple[str, ...]
    owner: str
    data_classification: str
    cost_centre: str
    # Stateful resources (tables, keys, secrets, queues, user pool, log groups) are
    # destroyed with the stack only where the data is disposable. Elsewhere they are kept
    # on updates and stack deletion, but not after a failed first create (see removal_policy).
    retain_data: bool
    deletion_protection: bool
    termination_protection: bool
    # Dev alarms still evaluate and show on dashboards, but page nobody.
    alarm_actions_enabled: bool
    # Volume and monthly budget for the cost model (`make cost`, config/cost.py).
    cost: CostConfig
    # SMS and e-mail the system sends (none by default); checked by `make preflight`.
    messaging: MessagingLimits = MessagingLimits()

    @property
    def tags(self) -> dict[str, str]:
        return {
            "system": self.system,
            "environment": self.env_name,
            "owner": self.owner,
            "data-classification": self.data_classification,
            "cost-centre": self.cost_centre,
        }

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """RetainExceptOnCreate where data is kept: a create that rolls back removes what it
        made, so the retry does not fail on the fixed names (cdk_constructs/removal.py)."""
        if self.retain_data:
            return cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        return cdk.RemovalPolicy.DESTROY

    @property
    def cdk_environment(self) -> cdk.Environment:
        return cdk.Environment(account=self.account, region=self.region)

    @property
    def runtime_regions(self) -> tuple[str, ...]:
        """Where the system's functions run (and send messages from)."""
        return (self.region,)

    def stack_name(self, role: str) -> str:
        return f"{self.system}-{self.env_name}-{role}"

    def resource_name(self, suffix: str) -> str:
        return f"{self.system}-{self.env_name}-{suffix}"

    def problems(self) -> list[str]:
        """Every problem found; subclasses extend the list with their own checks."""
        found = [
            check_account(self.account),
            check_availability_zones(self.region, self.availability_zones),
        ]
        found += self.cost.problems()
        found += self.messaging.problems()
        missing_tags = [key for key, value in self.tags.items() if not value]
        if missing_tags:
            found.append(f"tags {missing_tags} must not be empty")
        return [problem for problem in found if problem]

    def validate(self) -> Self:
        problems = self.problems()
        if problems:
            listing = "\n  - ".join(problems)
            raise ConfigError(f"invalid config for {self.system}/{self.env_name}:\n  - {listing}")
        return self

    def with_account_override(self, context: Mapping[str, Any] | None = None) -> Self:
        account = resolve_account(self.system, self.env_name, self.account, context or {})
        return dataclasses.replace(self, account=account)


def resolve_account(system: str, env_name: str, default: str, context: Mapping[str, Any]) -> str:
    """Context wins over the environment variable, which wins over the placeholder.

    The system-qualified keys come first so that two systems sharing an environment
    name (payouts `dev`, engine `dev`) can still live in different accounts.
    """
    candidates = (
        context.get(f"account-{system}-{env_name}"),
        context.get(f"account-{env_name}"),
        *(os.environ.get(name) for name in account_variables(system, env_name)),
    )
    for candidate in candidates:
        if candidate:
            return str(candidate).strip()
    return default


def account_variables(system: str, env_name: str) -> tuple[str, str]:
    """The environment variables that set an environment's account, the one that wins first."""
    return (f"CDK_ACCOUNT_{system.upper()}_{env_name.upper()}", f"CDK_ACCOUNT_{env_name.upper()}")


__all__ = [
    "ConfigError",
    "EnvironmentConfig",
    "MessagingLimits",
    "account_variables",
    "resolve_account",
]
