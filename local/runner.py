"""`make local`: every API of every system, each on its own local port, no AWS and no Docker.

    python -m local.runner [--port 3000] [--data-dir .local-data] [--fast]

The main port (--port) serves the payouts API and the runner's own routes (`POST /local/token`,
`GET /_local/endpoints`, `/_local/...`); the engine's portal and internal APIs and the
provider simulators (Monoova, RazorPay) listen on the ports after it. AWS is moto, in this
process; PostgreSQL is DATABASE_URL or a private server started here; the simulators call
the webhook routes back as the providers would.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from moto import mock_aws

from local import environ, moto_serial, state
from local.auth import LocalIssuer
from local.gateway import Functions, LocalGateway
from local.runner_routes import serve_safely
from local.systems import Api, Context, System
from local.workers import REGION, Worker

_FAKE_AWS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
_DISPLAY = {"razorpay": "RazorPay"}
# Each API's port, as an offset from --port when not given (0: every port picked free).
PORT_OPTIONS = {"payouts": 0, "monoova": 1, "portal": 2, "internal": 3, "razorpay": 4}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--simulator-port", type=int, help="Monoova's; default: --port + 1")
    parser.add_argument("--portal-port", type=int, help="the portal API's; default: --port + 2")
    parser.add_argument("--internal-port", type=int, help="the internal API's; default: --port + 3")
    parser.add_argument("--razorpay-port", type=int, help="RazorPay's; default: --port + 4")
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
        "--sweep-every", type=float, help="seconds between payment sweeps (schedule: 300)"
    )
    parser.add_argument(
        "--session-ttl", type=int, help="seconds a portal session lasts (setting: 900)"
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="reconcile and sweep every 5 s; Monoova's circuit open for 30 s",
    )
    args = parser.parse_args(argv)
    if args.fast:
        args.reconcile_every = args.reconcile_every or 5.0
        args.breaker_open = args.breaker_open or 30.0
        args.sweep_every = args.sweep_every or 5.0
    for name, offset in PORT_OPTIONS.items():
        option = "simulator_port" if name == "monoova" else f"{name}_port"
        if name != "payouts" and getattr(args, option) is None:
            setattr(args, option, args.port + offset if args.port else 0)
    return args


def default_systems() -> list[System]:
    # Imported here: each system pulls in its handlers' packages and its config.
    from local.systems.engine import EngineSystem  # noqa: PLC0415
    from local.systems.payouts import PayoutsSystem  # noqa: PLC0415

    return [PayoutsSystem(), EngineSystem()]


class Runner:
    def __init__(self, args: argparse.Namespace, systems: Sequence[System] | None = None) -> None:
        environ.install()
        # Fake credentials: nothing may ever reach a real AWS endpoint from here.
        os.environ.update(_FAKE_AWS)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.args = args
        self._mock = mock_aws()
        self._mock.start()
        moto_serial.install(all_services=True)
        self._stopped = threading.Event()
        self.systems = list(systems) if systems is not None else default_systems()
        self.apis = [api for system in self.systems for api in system.apis]
        self.main = self.apis[0]  # the main port: this API and the runner's own routes

    def start(self) -> str:
        args = self.args
        saved = state.load(args.data_dir) if args.data_dir else None
        # Fixed, like a user pool's issuer: tokens stay valid across restarts on any port.
        issuer_name = "https://cognito-idp.local/local-admins"
        self.issuer = (
            LocalIssuer.from_pem(issuer_name, saved["issuer_pem"].encode())
            if saved
            else LocalIssuer.create(issuer_name)
        )
        self.servers = {api.name: self._bind(api) for api in self.apis}
        self.urls = {
            name: f"http://{args.host}:{server.server_address[1]}"
            for name, server in self.servers.items()
        }
        seeded: list[str] = []
        systems_saved = (saved or {}).get("systems", {})
        for system in self.systems:
            context = Context(args, self.issuer, self.urls, systems_saved.get(system.name))
            system.start(context)
            seeded += context.seeded
        owners = {spec.name: system for system in self.systems for spec in system.functions}
        self.functions = Functions(
            [spec for system in self.systems for spec in system.functions],
            environment=lambda name: owners[name].environment(name),
        )
        self.gateways = {
            api.name: LocalGateway(
                list(api.routes),
                self.functions,
                self.issuer,
                errors=api.errors,
                api_key=api.api_key,
                keyless=api.keyless,
            )
            for api in self.apis
        }
        self.local_routes = {
            key: route for system in self.systems for key, route in system.local_routes().items()
        }
        self.workers = [
            *(w for system in self.systems for w in system.workers(self.functions)),
            Worker("moto housekeeping", 5.0, moto_serial.forget_model_instances),
        ]
        for worker in self.workers:
            worker.start()
        for name, server in self.servers.items():
            threading.Thread(target=server.serve_forever, name=f"http-{name}", daemon=True).start()
        self._print_banner(seeded, restored=saved is not None)
        return self.urls[self.main.name]

    def endpoints(self) -> dict[str, str]:
        """Every API's and simulator's base URL, by name (GET /_local/endpoints)."""
        found = dict(self.urls)
        for system in self.systems:
            found |= system.endpoints()
        return found

    def _bind(self, api: Api) -> _Server:
        args = self.args
        port = args.port if api is self.main else getattr(args, f"{api.name}_port", 0)
        return _Server((args.host, port), _handler_class(self, api))

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for worker in self.workers:
            worker.stop()
        for server in self.servers.values():
            server.shutdown()
        if self.args.data_dir:
            extra = {
                "issuer_pem": self.issuer.private_pem().decode(),
                "systems": {system.name: system.saved() for system in self.systems},
            }
            path = state.save(self.args.data_dir, extra)
            print(f"state saved to {path}", flush=True)
        for system in self.systems:
            system.stop()
        self._mock.stop()

    def _print_banner(self, seeded: list[str], restored: bool) -> None:
        base = self.urls[self.main.name]
        endpoints = self.endpoints()
        lines = [
            f"Local API:        {base}   (OpenAPI: {base}/openapi.json, docs: {base}/docs)",
            f"Monoova simulator: {endpoints['monoova']}"
            f"   (webhooks back to {base}/webhooks/monoova)",
        ]
        lines += [
            f"{name.capitalize() + ' API:':<18}{url}   (docs: {url}/docs)"
            for name, url in self.urls.items()
            if name != self.main.name
        ]
        lines += [
            f"{_DISPLAY.get(name, name.capitalize())} simulator: {url}"
            for name, url in endpoints.items()
            if name not in self.urls and name != "monoova"
        ]
        lines += [
            f"All endpoints:    {base}/_local/endpoints",
            "State:            "
            + (f"restored from {self.args.data_dir}" if restored else "fresh")
            + (f", saved to {self.args.data_dir} on exit" if self.args.data_dir else ", not kept"),
        ]
        if seeded:
            lines.append(f"Seeded:           {', '.join(seeded)}")
        for system in self.systems:
            lines += ["", *system.banner()]
        lines += ["", f"Listening on {base}"]
        print("\n".join(lines), flush=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: socketserver's default of 5 reset 41 of 100 concurrent clients.
    # The kernel caps it at net.core.somaxconn (4096 on current Linux).
    request_queue_size = 1024


def _handler_class(runner: Runner, api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                response = api.errors(400, "BadRequest", "invalid Content-Length")
                self._send(response.status, response.headers, response.body)
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            status, headers, payload = serve_safely(
                runner,
                api,
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
            status = args[1] if len(args) > 1 else ""
            sys.stderr.write(f"[{api.name}] {self.command} {self.path} -> {status}\n")

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
