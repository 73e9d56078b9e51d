"""Typed environment config: one frozen dataclass per system and environment.

`load("dev", context)` returns the validated payouts config with the account
override applied, `load_engine("qa", context)` the payments engine's;
`environments()` and `engine_environments()` list each system's environment
names in deploy order.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TypeVar

from config.base import EnvironmentConfig
from config.engine import ENVIRONMENTS as ENGINE_ENVIRONMENTS
from config.engine import EngineConfig
from config.payouts import ENVIRONMENTS as PAYOUTS_ENVIRONMENTS
from config.payouts import PayoutsConfig
from config.validation import ConfigError

C = TypeVar("C", bound=EnvironmentConfig)


def environments() -> tuple[str, ...]:
    return tuple(PAYOUTS_ENVIRONMENTS)


def load(
    env_name: str, context: Mapping[str, Any] | None = None, *, strict: bool = False
) -> PayoutsConfig:
    """`strict` (the deploy path) refuses what must never be deployed; otherwise that is one
    warning line on stderr, so that synth and the tests pass on a fresh clone."""
    try:
        base = PAYOUTS_ENVIRONMENTS[env_name]
    except KeyError:
        known = ", ".join(environments())
        raise ConfigError(f"unknown environment {env_name!r}; expected one of: {known}") from None
    cfg = validate(base.with_account_override(context).with_monoova_override(context))
    problems = cfg.deploy_problems()
    if problems and strict:
        listing = "\n  - ".join(problems)
        raise ConfigError(
            f"refusing to deploy {cfg.system}/{env_name}: it still holds Monoova's sandbox "
            f"values:\n  - {listing}\n{cfg.how_to_set_monoova_account()}"
        )
    if problems and env_name not in _WARNED:
        _WARNED.add(env_name)
        print(
            f"warning: {cfg.system}/{env_name}: {'; '.join(problems)}; make deploy refuses "
            f"it until you {cfg.how_to_set_monoova_account()}",
            file=sys.stderr,
        )
    return cfg


# What has been warned about: payouts' environment names, the engine's "engine/<env>".
_WARNED: set[str] = set()


def engine_environments() -> tuple[str, ...]:
    return tuple(ENGINE_ENVIRONMENTS)


def load_engine(
    env_name: str,
    context: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
    warn: bool = True,
) -> EngineConfig:
    """`strict` (the deploy path) refuses what must never be deployed (an LMS or HRMS placeholder);
    otherwise that is one warning line on stderr, as for payouts, unless `warn` is off (the
    tools that run before the CDK CLI and print their own one-line answers)."""
    try:
        base = ENGINE_ENVIRONMENTS[env_name]
    except KeyError:
        known = ", ".join(engine_environments())
        raise ConfigError(
            f"unknown engine environment {env_name!r}; expected one of: {known}"
        ) from None
    cfg = validate(base.with_account_override(context))
    problems = cfg.deploy_problems()
    if problems and strict:
        listing = "\n  - ".join(problems)
        raise ConfigError(
            f"refusing to deploy {cfg.system}/{env_name}: it still holds placeholder values:"
            f"\n  - {listing}\n{cfg.how_to_set_placeholders()}"
        )
    label = f"{cfg.system}/{env_name}"
    if problems and warn and label not in _WARNED:
        _WARNED.add(label)
        print(
            f"warning: {label}: {'; '.join(problems)}; make deploy refuses it until you "
            f"{cfg.how_to_set_placeholders()}",
            file=sys.stderr,
        )
    return cfg


def validate(cfg: C) -> C:
    """Raise ConfigError listing every problem; return the config unchanged if none."""
    return cfg.validate()


__all__ = [
    "ConfigError",
    "EngineConfig",
    "EnvironmentConfig",
    "PayoutsConfig",
    "engine_environments",
    "environments",
    "load",
    "load_engine",
    "validate",
]
