"""The payments engine on a laptop: the portal and internal APIs, their resources in moto,
PostgreSQL (migrated and seeded), the RazorPay and LMS simulators, the SMS outbox and the
engine's background work: every stream and queue engine.declarations.EVENT_SOURCES declares
(the Transactions stream to the sync, the TransactionQueue stream to the LMS poster, through
the stacks' filter, the webhook replay queue) and, through the runner, its SCHEDULES."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config

from config.engine import ENVIRONMENTS as ENGINE_ENVIRONMENTS
from engine import declarations
from engine.metrics import NAMESPACE
from engine.tables import TRANSACTIONS
from local import engine_demo, lms_view, openapi_engine, sms_outbox
from local.auth import CLIENT_ID
from local.engine_resources import (
    EngineResources,
    ensure_lms_secret,
    ensure_staff,
    ensure_unsaved,
    provision,
)
from local.gateway import Functions, engine_gateway_error
from local.schedules import rate_seconds
from local.streams import StreamPump
from local.systems import Api, Context, LocalRoute, RouteError
from local.workers import REGION, Worker, consume_queue
from shared.declarations import EventSource, Schedule
from simulators.hrms import HrmsSimulator, demo_employees
from simulators.lms import LmsSimulator, demo_loans
from simulators.lms.server import MODES as LMS_MODES
from simulators.razorpay.server import RazorpaySimulator
from stacks.engine import access

PORTAL_API_KEY = "local-portal-api-key"
RAZORPAY_KEY_ID = "rzp_test_local"
WEBHOOK_PATH = "/api/v1/webhooks/razorpay"
# Reachable without the key, as in the stacks: Route 53 cannot send one to /health, and
# RazorPay authenticates its webhooks by their signature.
PORTAL_KEYLESS = frozenset({"GET /health", f"POST {WEBHOOK_PATH}"})
LMS_CLIENT_ID = "engine-local"
HRMS_API_USER = "engine-local"
# With --fast every rate schedule runs at least this often, but those named here.
FAST_SCHEDULE_SECONDS = 5.0
FAST_SECONDS = {declarations.TRANSACTIONS_REPAIR.name: 30.0}
# With --fast: the LMS circuit open 10 s (config: 60) and retries from 2 s (config: 30).
FAST_LMS_BREAKER_OPEN = 10
FAST_LMS_BACKOFF = 2
# How often the runner polls an event source: a stream (as Lambda's poller, about 4 a
# second per shard, with its batching window) and a queue.
POLL_SECONDS = {"dynamodb-stream": 0.5, "sqs": 1.0}
# Settings that are config in AWS, from the dev environment's config through the code the
# service stacks use (stacks/engine/access.py), so they cannot differ from a deployment's.
CONFIG = access.config_values(ENGINE_ENVIRONMENTS["dev"]) | {
    "POWERTOOLS_SERVICE_NAME": "engine",
    "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    "ENVIRONMENT": "local",
}


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def _streams_client() -> Any:
    # moto 5.2.5 routes only the classic endpoint, not the account-based one.
    return boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )


def _declared_seconds(function: str) -> float | None:
    """The declared rate of the schedule that runs `function`."""
    schedule = next((s for s in declarations.SCHEDULES if s.function == function), None)
    return rate_seconds(schedule.expression) if schedule else None


def _portal_document(base: str) -> dict[str, Any]:
    return openapi_engine.build_document(
        "Customer portal API",
        declarations.PORTAL_ROUTES,
        server_url=base,
        keyless=PORTAL_KEYLESS,
    )


def _internal_document(base: str) -> dict[str, Any]:
    return openapi_engine.build_document(
        "Internal engine API", declarations.INTERNAL_ROUTES, server_url=base, keyless=frozenset()
    )


class EngineSystem:
    name = "engine"
    functions = declarations.FUNCTIONS
    schedules = declarations.SCHEDULES
    apis = (
        Api(
            "portal",
            "Customer portal API",
            declarations.PORTAL_ROUTES,
            engine_gateway_error,
            _portal_document,
            api_key=PORTAL_API_KEY,
            keyless=PORTAL_KEYLESS,
        ),
        Api(
            "internal",
            "Internal engine API",
            declarations.INTERNAL_ROUTES,
            engine_gateway_error,
            _internal_document,
        ),
    )

    def __init__(self) -> None:
        self.resources: EngineResources | None = None
        self.database: engine_demo.EngineDatabase | None = None
        self.simulator: RazorpaySimulator | None = None
        self.lms_simulator: LmsSimulator | None = None
        self.hrms_simulator: HrmsSimulator | None = None
        self._hrms_client: dict[str, str] = {}
        self._env: dict[str, str] = {}
        self._secrets: dict[str, str] = {}
        self._lms_client: dict[str, str] = {}
        self._functions: Functions | None = None

    def start(self, context: Context) -> None:
        args, saved = context.args, context.saved
        self._secrets = dict(saved["razorpay"]) if saved else _new_secrets()
        # Kept with --data-dir like RazorPay's; state saved before the LMS has none yet.
        self._lms_client = dict(saved["lms"]) if saved and saved.get("lms") else _new_lms()
        self.portal = context.urls["portal"]
        self.main = next(iter(context.urls.values()))  # the main port: the runner's routes
        self.simulator = RazorpaySimulator(
            RAZORPAY_KEY_ID,
            self._secrets["key_secret"],
            self._secrets["webhook_secret"],
            webhook_url=self.portal + WEBHOOK_PATH,
            host=args.host,
            port=args.razorpay_port,
        )
        self.razorpay = self.simulator.start()
        # The LMS holds the same demo loans as PostgreSQL (local/engine_demo/seed.sql).
        self.lms_simulator = LmsSimulator(
            self._lms_client["client_id"],
            self._lms_client["client_secret"],
            loans=demo_loans(),
            host=args.host,
            port=args.lms_port,
        )
        self.lms = self.lms_simulator.start()
        # DarwinBox's employees are the seeded staff (local/engine_demo/seed.sql).
        self._hrms_client = dict(saved["hrms"]) if saved and saved.get("hrms") else _new_hrms()
        self.hrms_simulator = HrmsSimulator(
            self._hrms_client["api_user"],
            self._hrms_client["api_password"],
            self._hrms_client["api_key"],
            employees=demo_employees(),
            host=args.host,
            port=args.hrms_port,
        )
        self.hrms = self.hrms_simulator.start()
        self.database = engine_demo.prepare(args.data_dir)
        if saved:
            restored = EngineResources(**saved["resources"])
            self.resources = ensure_lms_secret(client, restored, self._lms_client)
        else:
            self.resources = provision(
                client,
                key_id=RAZORPAY_KEY_ID,
                key_secret=self._secrets["key_secret"],
                webhook_secret=self._secrets["webhook_secret"],
                lms_client=self._lms_client,
            )
        self.resources = ensure_staff(client, self.resources, self._hrms_client)
        ensure_unsaved(client, self.resources)
        sms_outbox.install()
        self._env = self._environment(args)
        self.args = args
        context.seeded.append(f"engine demo loans ({self.database.source} PostgreSQL)")

    def _environment(self, args: Any) -> dict[str, str]:
        assert self.resources is not None and self.database is not None
        env = dict(CONFIG) | self.resources.env()
        env |= {
            "RAZORPAY_BASE_URL": self.razorpay,
            "LMS_BASE_URL": self.lms,
            "HRMS_BASE_URL": self.hrms,
            "DATABASE_URL": self.database.app_url,
            "DB_NAME": engine_demo.DATABASE,
            "DB_USER": engine_demo.APP_ROLE,
            # The health functions probe the Transactions table, as the stacks configure them.
            "HEALTH_TABLE": self.resources.tables[TRANSACTIONS.logical_name],
            "HEALTH_TABLE_KEY": TRANSACTIONS.partition_key.name,
        }
        if args.session_ttl:
            env["SESSION_TTL_SECONDS"] = str(args.session_ttl)
        declared_sweep = _declared_seconds(declarations.PAYMENT_SWEEPER.name) or 0.0
        if args.sweep_every and args.sweep_every < declared_sweep:
            # A sped-up sweep looks at payments as soon as two of its runs have passed.
            env["PAYMENT_SWEEP_AFTER_SECONDS"] = str(max(1, int(args.sweep_every * 2)))
        return env | self._lms_pace(args)

    @staticmethod
    def _lms_pace(args: Any) -> dict[str, str]:
        """--lms-breaker-open and --lms-backoff (--fast: 10 s and 2 s). The backoff's cap
        keeps config's proportion to its base (30 s -> 1 h), so retries still spread out."""
        env: dict[str, str] = {}
        breaker_open = args.lms_breaker_open or (FAST_LMS_BREAKER_OPEN if args.fast else None)
        if breaker_open:
            env["LMS_BREAKER_OPEN_SECONDS"] = str(breaker_open)
        backoff = args.lms_backoff or (FAST_LMS_BACKOFF if args.fast else None)
        if backoff:
            base = int(CONFIG.get("LMS_BACKOFF_BASE_SECONDS", "30"))
            cap = int(CONFIG.get("LMS_BACKOFF_CAP_SECONDS", "3600"))
            env["LMS_BACKOFF_BASE_SECONDS"] = str(backoff)
            env["LMS_BACKOFF_CAP_SECONDS"] = str(max(backoff, backoff * cap // base))
        return env

    def environment(self, function: str) -> dict[str, str]:
        return self._env

    def schedule_every(self, schedule: Schedule) -> float | None:
        args = self.args
        if schedule.function == declarations.PAYMENT_SWEEPER.name and args.sweep_every:
            return float(args.sweep_every)
        declared = rate_seconds(schedule.expression)
        if not args.fast or declared is None:
            return None  # its own rate, or its cron's times
        return min(declared, FAST_SECONDS.get(schedule.function, FAST_SCHEDULE_SECONDS))

    def workers(self, functions: Functions) -> list[Worker]:
        """One poller per declared event source, as its mapping in the stacks."""
        self._functions = functions
        tables = [s.source for s in declarations.EVENT_SOURCES if s.kind == "dynamodb-stream"]
        shared = sorted({t for t in tables if tables.count(t) > 1})
        if shared:
            # StreamPump drops what it delivered from moto's shard: one reader per stream.
            raise ValueError(f"the runner delivers a table's stream to one consumer: {shared}")
        return [self._poller(source, functions) for source in declarations.EVENT_SOURCES]

    def _poller(self, source: EventSource, functions: Functions) -> Worker:
        assert self.resources is not None
        resources = self.resources

        def invoke(event: dict[str, Any]) -> Any:
            return functions.invoke(source.function, event)

        if source.kind == "sqs":
            url = resources.queues[source.source]
            return Worker(
                f"{source.function} ({source.source} queue)",
                POLL_SECONDS["sqs"],
                lambda: consume_queue(url, invoke, batch_size=source.batch_size),
            )
        dead_letters = resources.queues[source.on_failure] if source.on_failure else None
        pump = StreamPump(
            client("dynamodb"),
            _streams_client(),
            resources.tables[source.source],
            batch_size=source.batch_size,
            max_retries=source.retry_attempts,
            on_failure=lambda records: self._dead_letter_records(dead_letters, records),
            filter_pattern=source.filter_pattern,
        )

        def drain() -> None:
            pump.drain(invoke)

        return Worker(
            f"{source.function} ({source.source} stream)", POLL_SECONDS["dynamodb-stream"], drain
        )

    def _dead_letter_records(self, queue_url: str | None, records: list[dict[str, Any]]) -> None:
        """What a stream's on-failure destination receives: where the records are, not
        what they hold (the repair job re-reads the table; the sweep finds queue items)."""
        keys = [
            {"keys": r["dynamodb"].get("Keys"), "sequence": r["dynamodb"]["SequenceNumber"]}
            for r in records
        ]
        if queue_url is None:
            print(f"[stream] {len(records)} record(s) dropped: no DLQ", file=sys.stderr)
            return
        client("sqs").send_message(
            QueueUrl=queue_url, MessageBody=json.dumps({"records": keys}, default=str)
        )
        print(f"[stream] {len(records)} record(s) to {queue_url}", file=sys.stderr)

    def endpoints(self) -> dict[str, str]:
        return {"razorpay": self.razorpay, "lms": self.lms, "hrms": self.hrms}

    def staff_sign_in(self, username: str) -> dict[str, Any] | None:
        """A seeded staff member signed in as the staff pool would: the post-authentication
        trigger runs (it audits the sign-in and refuses an inactive user), and the token
        carries their role as their group. None for a name the users table lacks."""
        assert self.database is not None
        found = engine_demo.staff_member(self.database.admin_url, username)
        if found is None:
            return None
        email, role = found
        if self._functions is not None:
            event = engine_demo.post_authentication_event(username, email, CLIENT_ID)
            try:
                self._functions.invoke(declarations.STAFF_SIGN_IN.name, event)
            except Exception as refused:  # the trigger's refusal, as Cognito's
                raise RouteError(
                    403, "Forbidden", "the staff pool refused the sign-in"
                ) from refused
        return {"email": email, "cognito:groups": [role] if role else []}

    def local_routes(self) -> dict[tuple[str, str], LocalRoute]:
        return {
            ("GET", "/_local/demo"): self._demo,
            ("GET", "/_local/sms"): self._sms,
            ("GET", "/_local/lms/postings"): self._postings,
            ("POST", "/_local/lms/breaker/reset"): self._reset_lms_breaker,
        }

    def _postings(self, query: str, _body: bytes) -> tuple[int, Any]:
        assert self.resources is not None
        return lms_view.postings(client("dynamodb"), self.resources.tables, parse_qs(query))

    def _reset_lms_breaker(self, _query: str, _body: bytes) -> tuple[int, Any]:
        assert self.resources is not None
        return lms_view.reset_breaker(client("dynamodb"), self.resources.tables)

    def _demo(self, _query: str, _body: bytes) -> tuple[int, Any]:
        assert self.database is not None
        return 200, {
            "portal": self.portal,
            "portal_api_key": PORTAL_API_KEY,
            "razorpay": {"url": self.razorpay, "key_id": RAZORPAY_KEY_ID},
            "lms": {"url": self.lms, "client_id": self._lms_client["client_id"]},
            "loans": engine_demo.demo_loans(self.database.admin_url),
        }

    def _sms(self, query: str, _body: bytes) -> tuple[int, Any]:
        to = parse_qs(query).get("to", [None])[0]
        return 200, sms_outbox.messages(to)

    def banner(self) -> list[str]:
        portal, key = self.portal, PORTAL_API_KEY
        body = json.dumps({"loan_account_number": "LN0000000001", "mobile_number": "9876543210"})
        down = json.dumps({"mode": "down"})
        return [
            f"Engine: portal API key {key}; demo loans {self.main}/_local/demo,"
            f" SMS sent {self.main}/_local/sms",
            "Try it (docs/local.md walks through a whole repayment):",
            f"  curl -s -X POST {portal}/api/v1/customer/validate-loan -H 'x-api-key: {key}'"
            f" -H 'Content-Type: application/json' -d '{body}'",
            f"  RazorPay simulator: {self.razorpay}   (webhooks back to {portal}{WEBHOOK_PATH})",
            f"  LMS simulator: {self.lms}   (client {self._lms_client['client_id']};"
            f" modes: {' '.join(LMS_MODES)})",
            f"  curl -s -X POST {self.lms}/_simulator/mode -d '{down}'"
            f"   # then pay, and watch {self.main}/_local/lms/postings",
            f"  curl -s -X POST {self.main}/_local/jobs/LmsSweep"
            "   # post what is due now (GET /_local/jobs lists every job)",
            f"  Staff: curl -s -X POST '{self.main}/local/token?user=cashier.br001'"
            "   # also manager., officer.(.br001|.br002), finance.ho, admin.ho",
            f"  HRMS (DarwinBox) simulator: {self.hrms}"
            "   (POST /_simulator/employees, then job HrmsSync)",
        ]

    def saved(self) -> dict[str, Any]:
        assert self.resources is not None
        return {
            "razorpay": self._secrets,
            "lms": self._lms_client,
            "hrms": self._hrms_client,
            "resources": asdict(self.resources),
        }

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
        if self.lms_simulator is not None:
            self.lms_simulator.stop()
        if self.hrms_simulator is not None:
            self.hrms_simulator.stop()
        if self.database is not None:
            self.database.stop()


def _new_lms() -> dict[str, str]:
    return {"client_id": LMS_CLIENT_ID, "client_secret": secrets.token_urlsafe(24)}


def _new_hrms() -> dict[str, str]:
    """The HRMS credentials (docs/hrms-api.yml: Basic auth and an X-Api-Key header)."""
    return {
        "api_user": HRMS_API_USER,
        "api_password": secrets.token_urlsafe(24),
        "api_key": secrets.token_urlsafe(24),
    }


def _new_secrets() -> dict[str, str]:
    return {
        "key_secret": secrets.token_urlsafe(24),
        "webhook_secret": secrets.token_urlsafe(24),
    }
