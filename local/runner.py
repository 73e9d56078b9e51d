"""`make local`: every API of every system, each on its own local port, no AWS and no Docker.

    python -m local.runner [--port 3000] [--data-dir .local-data] [--fast]

The main port (--port) serves the payouts API and the runner's own routes (`POST /local/token`,
`GET /_local/endpoints`, `GET|POST /_local/jobs[/{name}]`, `/_local/...`); the engine's portal
and internal APIs and the simulators (Monoova, RazorPay, the LMS) listen on the ports after
it. AWS is moto, in this process; PostgreSQL is DATABASE_URL or a private server started here;
the simulators call the webhook routes back as the providers would. Every system's declared
schedules run on their timers (local/schedules.py) and on demand.
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
from local.schedules import Job, parse_every
from local.systems import Api, Context, System
from local.workers import REGION, Worker

_FAKE_AWS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
_DISPLAY = {"razorpay": "RazorPay", "lms": "LMS"}
# Each API's port, as an offset from --port when not given (0: every port picked free).
PORT_OPTIONS = {
    "payouts": 0,
    "monoova": 1,
    "portal": 2,
    "internal": 3,
    "razorpay": 4,
    "lms": 5,
    "hrms": 6,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--simulator-port", type=int, help="Monoova's; default: --port + 1")
    parser.add_argument("--portal-port", type=int, help="the portal API's; default: --port + 2")
    parser.add_argument("--internal-port", type=int, help="the internal API's; default: --port + 3")
    parser.add_argument("--razorpay-port", type=int, help="RazorPay's; default: --port + 4")
    parser.add_argument("--lms-port", type=int, help="the LMS simulator's; default: --port + 5")
    parser.add_argument(
        "--hrms-port", type=int, help="the HRMS (DarwinBox) simulator's; default: --port + 6"
    )
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
        "--lms-breaker-open",
        type=_positive,
        help="seconds the LMS circuit stays open (config: 60; --fast: 10)",
    )
    parser.add_argument(
        "--lms-backoff",
        type=_positive,
        help="seconds before an LMS post's first retry, doubling (config: 30; --fast: 2)",
    )
    parser.add_argument(
        "--every",
        action="append",
        metavar="JOB=SECONDS",
        help="run a declared schedule every SECONDS here (0: only by POST /_local/jobs/JOB);"
        " repeatable; GET /_local/jobs lists the jobs",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="reconcile and every rate schedule every 5 s (the repair job 30 s); Monoova's"
        " circuit open 30 s, the LMS's 10 s, LMS retries from 2 s",
    )
    args = parser.parse_args(argv)
    try:
        args.every = parse_every(args.every)
    except ValueError as exc:
        parser.error(str(exc))
    if args.fast:
        args.reconcile_every = args.reconcile_every or 5.0
        args.breaker_open = args.breaker_open or 30.0
        args.sweep_every = args.sweep_every or 5.0
    for name, offset in PORT_OPTIONS.items():
        option = "simulator_port" if name == "monoova" else f"{name}_port"
        if name != "payouts" and getattr(args, option) is None:
            setattr(args, option, args.port + offset if args.port else 0)
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("a whole number of seconds, at least 1")
    return value


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
        declared = sorted(s.name for system in self.systems for s in system.schedules)
        unknown = sorted(set(args.every) - set(declared))
        if unknown:  # before anything starts
            self._mock.stop()
            names = ", ".join(declared)
            raise SystemExit(f"--every: no job {', '.join(unknown)}; the jobs: {names}")

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
        self.jobs = self._jobs()
        self.workers = [
            *(w for system in self.systems for w in system.workers(self.functions)),
            *(self._timer(job) for job in self.jobs.values() if job.delay() is not None),
            Worker("moto housekeeping", 5.0, moto_serial.forget_model_instances),
        ]
        for worker in self.workers:
            worker.start()
        for name, server in self.servers.items():
            threading.Thread(target=server.serve_forever, name=f"http-{name}", daemon=True).start()
        self._print_banner(seeded, restored=saved is not None)
        return self.urls[self.main.name]

    def _jobs(self) -> dict[str, Job]:
        """Every system's declared schedules by name, each at the pace chosen here."""
        jobs: dict[str, Job] = {}
        for system in self.systems:
            for schedule in system.schedules:
                if schedule.name in jobs:
                    raise ValueError(f"two schedules are named {schedule.name}")
                every = self.args.every.get(schedule.name, system.schedule_every(schedule))
                jobs[schedule.name] = Job(system.name, schedule, every)
        return dict(sorted(jobs.items()))

    def _timer(self, job: Job) -> Worker:
        def run() -> None:
            self.functions.invoke(job.function, job.event())

        return Worker(f"{job.name} (schedule)", 0.0, run, delay=job.delay())

    def run_job(self, name: str) -> dict[str, Any]:
        """POST /_local/jobs/{name}: the job's function now, as its rule would invoke it (a
        container of its own when its warm one is busy); KeyError for no such job."""
        job = self.jobs[name]
        result = self.functions.invoke(job.function, job.event(), scale_out=True)
        return {"job": job.name, "function": job.function, "result": result}

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
            *_wrapped("Jobs:", [f"{job.name} ({job.pace()})" for job in self.jobs.values()]),
            f"{'':18}run one now: curl -s -X POST {base}/_local/jobs/<name>",
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


def _wrapped(label: str, entries: list[str], width: int = 100) -> list[str]:
    """`label` then the entries, comma-separated, on lines of at most `width` (an entry is
    never split), each line indented as the banner's values are."""
    lines, line = [], f"{label:<18}"
    for index, entry in enumerate(entries):
        piece = entry + ("," if index < len(entries) - 1 else "")
        if len(line) + len(piece) + 1 > width and line.strip() != label:
            lines.append(line.rstrip())
            line = " " * 18
        line += piece + " "
    return [*lines, line.rstrip()]


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
