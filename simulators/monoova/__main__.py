"""Run the Monoova simulator in the foreground.

    python -m simulators.monoova --port 8081 --api-key KEY --webhook-url URL --webhook-delay 1

Prints the base URL and the webhook public key hex, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.cli import serve_until_stopped
from simulators.monoova.server import MonoovaSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.monoova", description="Monoova Payments API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--api-key", required=True, help="Basic auth username (password empty)")
    parser.add_argument("--webhook-url", default=None, help="where to POST webhooks")
    parser.add_argument(
        "--webhook-token",
        default="Basic c2ltdWxhdG9yOnRva2Vu",
        help="sent verbatim as the webhook Authorization header",
    )
    parser.add_argument("--webhook-delay", type=float, default=0.2, help="seconds")
    parser.add_argument("--webhook-retry-delay", type=float, default=30.0, help="seconds")
    parser.add_argument("--hold-seconds", type=float, default=10.0, help="timeout/hang hold")
    parser.add_argument(
        "--no-strict", action="store_true", help="allow properties the spec does not declare"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    simulator = MonoovaSimulator(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_token=args.webhook_token,
        webhook_delay=args.webhook_delay,
        webhook_retry_delay=args.webhook_retry_delay,
        hold_seconds=args.hold_seconds,
        strict=not args.no_strict,
        host=args.host,
        port=args.port,
    )
    return serve_until_stopped(
        simulator,
        lambda base_url: [
            f"Monoova simulator listening on {base_url}",
            f"Webhook public key (DER PKCS#1 hex): {simulator.public_key_hex}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
