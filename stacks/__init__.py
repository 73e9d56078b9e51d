"""Stacks compose constructs and read config; `build` assembles the whole app.

`app.py` and the infra tests both call `build`, so the tests synthesize exactly
what the CLI deploys. Two systems share the app: payouts (Stages named after the
environment: `dev`, `staging`, `prod`) and the payments engine (Stages
`engine-dev`, `engine-qa`, `engine-staging`, `engine-prod`). cdk-nag's packs are
registered once, on the App, and so apply to every stack of both.

Context: `-c env=<name>` builds that environment of every system that has it;
`-c system=payouts|engine` builds one system only.
"""

from __future__ import annotations

import aws_cdk as cdk

from cdk_constructs import nag
from config import ConfigError, engine_environments, environments, load, load_engine
from config.payouts import MONOOVA_OVERRIDES
from stacks.engine import EngineStage
from stacks.payouts import PayoutsStage

ENV_CONTEXT_KEY = "env"
SYSTEM_CONTEXT_KEY = "system"
# Set by `make deploy`: refuse what must never be deployed (config `deploy_problems`).
STRICT_CONTEXT_KEY = "strict"
PAYOUTS, ENGINE = "payouts", "engine"
SYSTEMS = (PAYOUTS, ENGINE)


def known_environments(system: str = PAYOUTS) -> tuple[str, ...]:
    return {PAYOUTS: environments, ENGINE: engine_environments}[system]()


def selected_environments(app: cdk.App, system: str = PAYOUTS) -> tuple[str, ...]:
    """`-c env=<name>` builds one environment; without it, all of them."""
    known = known_environments(system)
    chosen = app.node.try_get_context(ENV_CONTEXT_KEY)
    if not chosen:
        return known
    return (str(chosen),) if str(chosen) in known else ()


def selected_systems(app: cdk.App) -> tuple[str, ...]:
    chosen = app.node.try_get_context(SYSTEM_CONTEXT_KEY)
    if not chosen:
        return SYSTEMS
    if chosen not in SYSTEMS:
        raise ConfigError(f"unknown system {chosen!r}; expected one of: {', '.join(SYSTEMS)}")
    return (str(chosen),)


def build(app: cdk.App) -> list[cdk.Stage]:
    nag.register_packs(app)
    context = _context(app)
    systems = selected_systems(app)
    _check_env_exists(app, systems)
    stages: list[cdk.Stage] = []
    strict = str(app.node.try_get_context(STRICT_CONTEXT_KEY) or "").lower() in _TRUE
    if PAYOUTS in systems:
        stages += [
            PayoutsStage(app, load(name, context, strict=strict))
            for name in selected_environments(app, PAYOUTS)
        ]
    if ENGINE in systems:
        stages += [
            EngineStage(app, load_engine(name, context))
            for name in selected_environments(app, ENGINE)
        ]
    return stages


def _check_env_exists(app: cdk.App, systems: tuple[str, ...]) -> None:
    chosen = app.node.try_get_context(ENV_CONTEXT_KEY)
    known = {name for system in systems for name in known_environments(system)}
    if chosen and str(chosen) not in known:
        raise ConfigError(
            f"unknown environment {chosen!r} for {', '.join(systems)}; "
            f"expected one of: {', '.join(sorted(known))}"
        )


_TRUE = ("1", "true", "yes")


def _context(app: cdk.App) -> dict[str, object]:
    names = set(environments()) | set(engine_environments())
    keys = {f"account-{name}" for name in names}
    keys |= {f"account-{system}-{name}" for system in SYSTEMS for name in names}
    keys |= {f"{key}-{name}" for key, _, _ in MONOOVA_OVERRIDES for name in environments()}
    return {key: value for key in keys if (value := app.node.try_get_context(key)) is not None}
