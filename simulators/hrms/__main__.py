"""Run the HRMS simulator in the foreground, seeded with the demo staff (seed.sql's users).

    python -m simulators.hrms --port 8085 --api-user engine-local --api-password P --api-key K

Prints the base URL and the API user (never the password or the key), then serves until
interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.cli import serve_until_stopped
from simulators.hrms.demo import demo_employees
from simulators.hrms.server import HrmsSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.hrms", description="HRMS (DarwinBox) employee API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085, help="0 picks a free port")
    parser.add_argument("--api-user", required=True, help="HTTP Basic user")
    parser.add_argument("--api-password", required=True, help="HTTP Basic password")
    parser.add_argument("--api-key", required=True, help="X-Api-Key value")
    parser.add_argument("--hold-seconds", type=float, default=10.0, help="timeout-mode hold")
    parser.add_argument("--no-demo-staff", action="store_true", help="start with no employees")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    simulator = HrmsSimulator(
        args.api_user,
        args.api_password,
        args.api_key,
        employees=() if args.no_demo_staff else demo_employees(),
        hold_seconds=args.hold_seconds,
        host=args.host,
        port=args.port,
    )
    return serve_until_stopped(
        simulator,
        lambda base_url: [
            f"HRMS simulator listening on {base_url}",
            f"API user: {simulator.api_user}; employees: {len(simulator.employees())}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
