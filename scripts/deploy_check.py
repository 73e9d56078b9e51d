"""What `make diff` and `make deploy` need before the CDK CLI starts: AWS credentials, and
a real account for the environment. Each missing one is one line naming what to set.

    python -m scripts.deploy_check --action deploy --system payouts --env dev

Exits 2 on an unknown system or environment, no credentials, or a placeholder account.
"""

from __future__ import annotations

import argparse
import sys

import botocore.exceptions
import botocore.session

from config import ConfigError, engine, load, load_engine, payouts
from config.base import EnvironmentConfig, account_variables
from config.selection import PAYOUTS, chosen

PLACEHOLDERS = {
    PAYOUTS: {name: cfg.account for name, cfg in payouts.ENVIRONMENTS.items()},
    "engine": {name: cfg.account for name, cfg in engine.ENVIRONMENTS.items()},
}


def target(system: str, env_name: str) -> EnvironmentConfig:
    # The engine's deploy refusals (an LMS placeholder) come from the strict synth that
    # follows; a warning here would come before this tool's own line.
    return load(env_name) if system == PAYOUTS else load_engine(env_name, warn=False)


def account_hint(cfg: EnvironmentConfig) -> str:
    first, second = account_variables(cfg.system, cfg.env_name)
    placeholder = PLACEHOLDERS[cfg.system][cfg.env_name] == cfg.account
    account = f"{cfg.account} (the placeholder)" if placeholder else cfg.account
    where = f"{cfg.system}/{cfg.env_name} deploys to account {account} in {cfg.region}"
    return f"{where}: set {first} or {second} to the real account id"


def credentials_problem() -> str | None:
    """None when botocore's chain (env, profile, SSO, container, instance role) finds some."""
    try:
        found = botocore.session.get_session().get_credentials()
    except botocore.exceptions.BotoCoreError as error:
        return f"AWS credentials could not be loaded ({error})"
    if found is None:
        return (
            "no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, SSO or an "
            "instance role); sign in, e.g. `aws sso login --profile <p>` and AWS_PROFILE=<p>"
        )
    return None


def problems(system: str, env_name: str) -> list[str]:
    cfg = target(system, env_name)
    found = []
    missing = credentials_problem()
    if missing:
        found.append(f"{missing}; {account_hint(cfg)}")
    elif PLACEHOLDERS[system][env_name] == cfg.account:
        found.append(account_hint(cfg))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.deploy_check", description=__doc__)
    parser.add_argument("--action", default="deploy")
    parser.add_argument("--system", required=True)
    parser.add_argument("--env", required=True)
    args = parser.parse_args(argv)
    try:
        chosen(args.env, args.system)
        found = problems(args.system, args.env)
    except ConfigError as problem:
        found = [str(problem)]
    for problem in found:
        print(f"make {args.action}: {problem}", file=sys.stderr)
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
