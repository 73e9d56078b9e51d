"""Run the RazorPay simulator in the foreground.

    python -m simulators.razorpay --port 8082 --key-id rzp_test_local --key-secret S \
        --webhook-secret W --webhook-url URL

Prints the base URL and the key id (never the secrets), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulators.common.cli import serve_until_stopped
from simulators.razorpay.server import RazorpaySimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.razorpay", description="RazorPay API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082, help="0 picks a free port")
    parser.add_argument("--key-id", required=True, help="Basic auth username (rzp_test_...)")
    parser.add_argument("--key-secret", required=True, help="Basic auth password")
    parser.add_argument("--webhook-secret", required=True, help="signs X-Razorpay-Signature")
    parser.add_argument("--webhook-url", default=None, help="where to POST webhooks")
    parser.add_argument("--webhook-delay", type=float, default=0.2, help="seconds")
    parser.add_argument("--late-capture-delay", type=float, default=1.0, help="seconds")
    parser.add_argument("--hold-seconds", type=float, default=10.0, help="timeout-mode hold")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    simulator = RazorpaySimulator(
        args.key_id,
        args.key_secret,
        args.webhook_secret,
        webhook_url=args.webhook_url,
        webhook_delay=args.webhook_delay,
        late_capture_delay=args.late_capture_delay,
        hold_seconds=args.hold_seconds,
        host=args.host,
        port=args.port,
    )
    return serve_until_stopped(
        simulator,
        lambda base_url: [
            f"RazorPay simulator listening on {base_url}",
            f"Key id: {simulator.key_id}; account: {simulator.account_id}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
