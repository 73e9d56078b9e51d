"""Which systems and environments exist, and one line naming the valid ones for any that doesn't.

The app (`-c system=… -c env=…`), the cost model and `make` (through
`python -m config.selection --env … --system …`, before it starts the CDK CLI) all choose
through here, so `ENV=` and `SYSTEM=` mean the same thing to every command.
"""

from __future__ import annotations

import argparse
import sys

from config import engine_environments, environments
from config.validation import ConfigError

PAYOUTS, ENGINE = "payouts", "engine"
SYSTEMS = (PAYOUTS, ENGINE)


def known_environments(system: str) -> tuple[str, ...]:
    return {PAYOUTS: environments, ENGINE: engine_environments}[system]()


def chosen_systems(system: str | None) -> tuple[str, ...]:
    """Every system when none is named; the named one if it exists."""
    if not system:
        return SYSTEMS
    if system not in SYSTEMS:
        raise ConfigError(f"unknown system {system!r}; valid systems: {', '.join(SYSTEMS)}")
    return (system,)


def chosen(env: str | None, system: str | None) -> list[tuple[str, str]]:
    """(system, environment) pairs selected by an optional environment and system.

    An environment only one system has (the engine's `qa`) selects that system alone; one
    that none of the chosen systems has is an error listing each system's names.
    """
    systems = chosen_systems(system)
    pairs = [(s, e) for s in systems for e in known_environments(s) if not env or e == env]
    if not pairs:
        valid = "; ".join(f"{s}: {', '.join(known_environments(s))}" for s in systems)
        raise ConfigError(f"unknown environment {env!r}; valid environments: {valid}")
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.selection", description=__doc__)
    parser.add_argument("--env", default="")
    parser.add_argument("--system", default="")
    args = parser.parse_args(argv)
    try:
        chosen(args.env or None, args.system or None)
    except ConfigError as problem:
        print(problem, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
