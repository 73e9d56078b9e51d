"""`make local`: every API route of every system on one local port, no AWS and no Docker.

    python -m local.runner [--port 3000] [--data-dir .local-data] [--fast]

AWS is moto, in this process; Monoova is the simulator on the next port, calling the webhook
route back as Monoova would; tokens come from a local issuer (POST /local/token).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from moto import mock_aws

from local import moto_serial, state
from local.auth import LocalIssuer
from local.gateway import Functions, LocalGateway, gateway_error
from local.payouts_local import API_KEY, PayoutsLocal
from local.runner_routes import serve_safely
from local.workers import Worker
from payouts import wiring
from simulators.monoova.server import MonoovaSimulator

REGION = "ap-southeast-2"
_FAKE_AWS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--simulator-port", type=int, help="default: --port + 1")
    parser.add_argument("--data-dir", type=Path, help="keep state here across restarts")
    parser.add_argument(
        "--webhook-delay", type=float, default=2.0, help="seconds before Monoova calls back"
    )
    parser.add_argument("--reconcile-every", type=float, help="seconds between reconciler runs")
    parser.add_argument(
        "--breaker-open", type=float, help="seconds the Monoova circuit stays open (config: 600)"
    )
    parser.add_argument(
        "--monoova-timeout",
        type=float,
        help="seconds to wait for each Monoova answer (config: 4); tests use 1",
    )
    parser.add_argument(
        "--fast", action="store_true", help="reconcile every 5 s; circuit open for 30 s"
    )
    args = parser.parse_args(argv)
    if args.fast:
        args.reconcile_every = args.reconcile_every or 5.0
        args.breaker_open = args.breaker_open or 30.0
    if args.simulator_port is None:
        args.simulator_port = args.port + 1 if args.port else 0
    return args


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        # Fake credentials: nothing may ever reach a real AWS endpoint from here.
        os.environ.update(_FAKE_AWS)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.args = args
        self._mock = mock_aws()
        self._mock.start()
        moto_serial.install(all_services=True)
        self._stopped = threading.Event()

    def start(self) -> str:
        args = self.args
        saved = state.load(args.data_dir) if args.data_dir else None
        token = saved["webhook_token"] if saved else "Basic " + secrets.token_urlsafe(24)
        self.system = PayoutsLocal(
            token, args.reconcile_every, args.breaker_open, args.monoova_timeout
        )
        self.server = _Server((args.host, args.port), _handler_class(self))
        base = f"http://{args.host}:{self.server.server_address[1]}"
        # Fixed, like a user pool's issuer: tokens stay valid across restarts on any port.
        issuer_name = "https://cognito-idp.local/local-admins"
        self.issuer = (
            LocalIssuer.from_pem(issuer_name, saved["issuer_pem"].encode())
            if saved
            else LocalIssuer.create(issuer_name)
        )
        self.simulator = MonoovaSimulator(
            api_key=API_KEY,
            webhook_token=token,
            webhook_delay=args.webhook_delay,
            webhook_retry_delay=30.0,
            host=args.host,
            port=args.simulator_port,
        )
        simulator_url = self.simulator.start()
        if saved:
            self.system.restore(saved["payouts"])
        else:
            self.system.provision()
        os.environ.update(self.system.environment(simulator_url, self.simulator.public_key_hex))
        wiring.reset()
        seeded = [] if saved else self.system.seed()
        self.functions = Functions(list(self.system.functions))
        self.gateway = LocalGateway(list(self.system.routes), self.functions, self.issuer)
        self.simulator.set_webhook_url(f"{base}/webhooks/monoova")
        self.workers = [
            *self.system.workers(self.functions),
            Worker("moto housekeeping", 5.0, moto_serial.forget_model_instances),
        ]
        for worker in self.workers:
            worker.start()
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        self._print_banner(base, simulator_url, seeded, restored=saved is not None)
        return base

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for worker in self.workers:
            worker.stop()
        self.server.shutdown()
        self.simulator.stop()
        if self.args.data_dir:
            extra = {
                "webhook_token": self.system.webhook_token,
                "issuer_pem": self.issuer.private_pem().decode(),
                "payouts": self.system.saved(),
            }
            path = state.save(self.args.data_dir, extra)
            print(f"state saved to {path}", flush=True)
        self._mock.stop()

    def _print_banner(self, base: str, simulator: str, seeded: list[str], restored: bool) -> None:
        lines = [
            f"Local API:        {base}   (OpenAPI: {base}/openapi.json, docs: {base}/docs)",
            f"Monoova simulator: {simulator}   (webhooks back to {base}/webhooks/monoova)",
            "State:            "
            + (f"restored from {self.args.data_dir}" if restored else "fresh")
            + (f", saved to {self.args.data_dir} on exit" if self.args.data_dir else ", not kept"),
            f"Reconciler:       every {self.system.reconcile_every:g} s",
        ]
        if seeded:
            lines.append(f"Seeded:           {', '.join(seeded)}")
        lines += ["", *self.system.banner(base, simulator), "", f"Listening on {base}"]
        print("\n".join(lines), flush=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's default of 5 reset 41 of 100 concurrent clients.
    # The kernel caps it at net.core.somaxconn (4096 on current Linux).
    request_queue_size = 1024


def _handler_class(runner: Runner) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                response = gateway_error(400, "BadRequest", "invalid Content-Length")
                self._send(response.status, response.headers, response.body)
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            status, headers, payload = serve_safely(
                runner,
                self.command,
                parts.path,
                query=parts.query,
                headers=dict(self.headers.items()),
                body=body,
            )
            self._send(status, headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def __getattr__(self, name: str) -> Any:
            # Every method, TRACE and inventions included, goes to the gateway, which answers
            # what API Gateway does for a method a resource lacks (403 Missing Authentication
            # Token, in the error shape), instead of http.server's 501 HTML page.
            if name.startswith("do_"):
                return self._any
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    runner = Runner(parse_args(argv))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    runner.start()
    done.wait()
    runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
