"""Stacks compose constructs and read config; `build` assembles the whole app.

`app.py` and the infra tests both call `build`, so the tests synthesize exactly
what the CLI deploys.
"""

from __future__ import annotations

import aws_cdk as cdk

from cdk_constructs import nag
from config import environments, load
from stacks.payouts import PayoutsStage

ENV_CONTEXT_KEY = "env"


def selected_environments(app: cdk.App) -> tuple[str, ...]:
    """`-c env=<name>` builds one environment; without it, all of them."""
    chosen = app.node.try_get_context(ENV_CONTEXT_KEY)
    if not chosen:
        return environments()
    return (str(chosen),)


def build(app: cdk.App) -> list[PayoutsStage]:
    nag.register_packs(app)
    context = _context(app)
    return [PayoutsStage(app, load(name, context)) for name in selected_environments(app)]


def _context(app: cdk.App) -> dict[str, object]:
    keys = {f"account-{name}" for name in environments()}
    keys |= {f"account-payouts-{name}" for name in environments()}
    return {key: value for key in keys if (value := app.node.try_get_context(key)) is not None}
