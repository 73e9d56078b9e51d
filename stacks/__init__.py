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
from config.selection import PAYOUTS, SYSTEMS, chosen, chosen_systems
from stacks.engine import EngineStage
from stacks.payouts import PayoutsStage

ENV_CONTEXT_KEY = "env"
SYSTEM_CONTEXT_KEY = "system"
# Set by `make deploy`: refuse what must never be deployed (config `deploy_problems`).
STRICT_CONTEXT_KEY = "strict"
_TRUE = ("1", "true", "yes")


def _chosen(app: cdk.App, key: str) -> str | None:
    value = app.node.try_get_context(key)
    return str(value) if value else None


def selected_environments(app: cdk.App, system: str = PAYOUTS) -> tuple[str, ...]:
    """`-c env=<name>` builds one environment; without it, all of them."""
    env = _chosen(app, ENV_CONTEXT_KEY)
    try:
        pairs = chosen(env, system)
    except ConfigError:
        return ()
    return tuple(name for _, name in pairs)


def selected_systems(app: cdk.App) -> tuple[str, ...]:
    return chosen_systems(_chosen(app, SYSTEM_CONTEXT_KEY))


def build(app: cdk.App) -> list[cdk.Stage]:
    """Raises ConfigError, naming the valid ones, for an unknown environment or system."""
    nag.register_packs(app)
    context = _context(app)
    pairs = chosen(_chosen(app, ENV_CONTEXT_KEY), _chosen(app, SYSTEM_CONTEXT_KEY))
    strict = str(app.node.try_get_context(STRICT_CONTEXT_KEY) or "").lower() in _TRUE
    stages: list[cdk.Stage] = []
    for system, name in pairs:
        if system == PAYOUTS:
            stages.append(PayoutsStage(app, load(name, context, strict=strict)))
        else:
            stages.append(EngineStage(app, load_engine(name, context, strict=strict)))
    return stages


def _context(app: cdk.App) -> dict[str, object]:
    names = set(environments()) | set(engine_environments())
    keys = {f"account-{name}" for name in names}
    keys |= {f"account-{system}-{name}" for system in SYSTEMS for name in names}
    keys |= {f"{key}-{name}" for key, _, _ in MONOOVA_OVERRIDES for name in environments()}
    return {key: value for key in keys if (value := app.node.try_get_context(key)) is not None}
