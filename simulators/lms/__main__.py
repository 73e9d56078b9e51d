"""Run the LMS simulator in the foreground, seeded with the demo loans (LN0000000001..5).

    python -m simulators.lms --port 8084 --client-id engine-local --client-secret S

Prints the base URL and the client id (never the secret), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.cli import serve_until_stopped
from simulators.lms.demo import demo_loans
from simulators.lms.server import LmsSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.lms", description="LMS API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8084, help="0 picks a free port")
    parser.add_argument("--client-id", required=True, help="OAuth2 client id")
    parser.add_argument("--client-secret", required=True, help="OAuth2 client secret")
    parser.add_argument("--token-seconds", type=int, default=3600, help="token lifetime")
    parser.add_argument("--hold-seconds", type=float, default=10.0, help="timeout-mode hold")
    parser.add_argument("--no-demo-loans", action="store_true", help="start with no loans")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    simulator = LmsSimulator(
        args.client_id,
        args.client_secret,
        loans=() if args.no_demo_loans else demo_loans(),
        token_seconds=args.token_seconds,
        hold_seconds=args.hold_seconds,
        host=args.host,
        port=args.port,
    )
    return serve_until_stopped(
        simulator,
        lambda base_url: [
            f"LMS simulator listening on {base_url}",
            f"Client id: {simulator.client_id}; loans: {len(simulator.loans())}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
