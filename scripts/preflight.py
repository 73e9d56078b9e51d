"""Before a deploy: does this AWS account allow what one environment's stacks assume?

    make preflight ENV=prod [SYSTEM=engine]
    python -m scripts.preflight --env prod [--system engine] [--cdk-out cdk.out]

Reads the account's Lambda limits (reserved concurrency must leave Lambda's 100 unreserved;
new accounts often start with a limit of 10), the VPC, Elastic IP, NAT gateway and interface
endpoint quotas where the stacks build a network, the API Gateway account throttle, and, for a
system that sends SMS or e-mail, the SNS SMS sandbox and spend limit and the SES sandbox and
quota, in every Region the environment deploys to. It compares them with the synthesized
templates (synthesized here, or read from --cdk-out) and config, and prints one line per check:
`ok`, `REQUEST` (what to request, and how much), or `CHECK` (could not be read: look by hand).

Exit 0 when every check passed, 1 when something must be requested or checked, 2 when it could
not run (no credentials, credentials for another account, no templates for the environment).
It only reads; it changes nothing in the account.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambda_src") not in sys.path:
    sys.path.insert(0, str(ROOT / "lambda_src"))
# Read by jsii when aws_cdk first loads (config imports it): no built-in CloudFormation
# validation when synthesizing here, and no Node end-of-life banner around the report.
os.environ.setdefault("CDK_VALIDATION", "false")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from config import ConfigError, load, load_engine  # noqa: E402
from config.base import EnvironmentConfig  # noqa: E402
from config.selection import chosen  # noqa: E402
from cost_model import assembly  # noqa: E402
from scripts import quotas  # noqa: E402
from scripts.preflight_checks import CHECK, OK, REQUEST, Clients, Finding, check_region  # noqa: E402

SYSTEMS = ("payouts", "engine")
NO_CREDENTIALS = (
    "preflight: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, for the account to check); nothing was checked"
)
_RETRIES = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5)


def boto3_clients(session: boto3.Session) -> Clients:
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[service, region] = session.client(service, region_name=region, config=_RETRIES)
        return cache[service, region]

    return client


def main(argv: Sequence[str] | None = None, clients: Clients | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        chosen(args.env, args.system)
    except ConfigError as unknown:
        print(f"preflight: {unknown}", file=sys.stderr)
        return 2
    session = boto3.Session()
    if clients is None and session.get_credentials() is None:
        print(NO_CREDENTIALS, file=sys.stderr)
        return 2
    clients = clients or boto3_clients(session)
    cfg = _config(args.system, args.env)
    problem = _account_problem(cfg, clients)
    if problem:
        print(f"preflight: {problem}", file=sys.stderr)
        return 2
    regions = _needs(args.system, args.env, args.cdk_out)
    if not regions:
        print(f"preflight: no {args.system} {args.env} stacks in the templates", file=sys.stderr)
        return 2
    findings = [f for needs in regions for f in check_region(cfg, needs, clients)]
    print("\n".join(report(cfg, findings)))
    return 0 if all(f.status == OK for f in findings) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--system", choices=SYSTEMS, default="payouts")
    parser.add_argument("--cdk-out", type=Path, help="read this cloud assembly instead")
    return parser


def _config(system: str, env_name: str) -> EnvironmentConfig:
    return load_engine(env_name, warn=False) if system == "engine" else load(env_name)


def _account_problem(cfg: EnvironmentConfig, clients: Clients) -> str | None:
    try:
        account = clients("sts", cfg.region).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        return f"the credentials do not work ({exc})"
    if account != cfg.account:
        variable = f"CDK_ACCOUNT_{cfg.system.upper()}_{cfg.env_name.upper()}"
        return (
            f"the credentials are for account {account}, but {cfg.system} {cfg.env_name} "
            f"deploys to {cfg.account} (set {variable} to deploy it to {account})"
        )
    return None


def _needs(system: str, env_name: str, cdk_out: Path | None) -> list[quotas.RegionNeeds]:
    if cdk_out is None:
        with tempfile.TemporaryDirectory(prefix="preflight-") as outdir:
            synthesize(system, env_name, Path(outdir))
            return _select(assembly.read(Path(outdir)), system, env_name)
    return _select(assembly.read(cdk_out), system, env_name)


def _select(stacks: list[assembly.Stack], system: str, env_name: str) -> list[quotas.RegionNeeds]:
    chosen = [s for s in stacks if (s.system, s.environment) == (system, env_name)]
    return sorted(quotas.needs(chosen).values(), key=lambda n: n.region)


def synthesize(system: str, env_name: str, outdir: Path) -> None:
    """The environment's stacks as `cdk synth` builds them, without asset bundling."""
    import aws_cdk as cdk

    from stacks import build

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context |= {"env": env_name, "system": system, "aws:cdk:bundling-stacks": []}
    app = cdk.App(context=context, outdir=str(outdir), analytics_reporting=False)
    build(app)
    app.synth()


def report(cfg: EnvironmentConfig, findings: list[Finding]) -> list[str]:
    lines = [f"preflight: {cfg.system} {cfg.env_name} in account {cfg.account}"]
    for region in dict.fromkeys(f.region for f in findings):
        lines.append(region)
        lines += [
            f"  {f.status:<8} {f.subject}: {f.detail}" for f in findings if f.region == region
        ]
    requests = sum(f.status == REQUEST for f in findings)
    checks = sum(f.status == CHECK for f in findings)
    if requests or checks:
        lines.append(
            f"{requests} to request and {checks} to check by hand before deploying "
            "(the REQUEST and CHECK lines say what)"
        )
    else:
        lines.append("every check passed: the account allows what these stacks assume")
    return lines


if __name__ == "__main__":
    sys.exit(main())
