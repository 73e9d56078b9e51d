"""The payments engine on a laptop: the portal and internal APIs, their resources in moto,
PostgreSQL (migrated and seeded), the RazorPay simulator, the SMS outbox and the engine's
background work (the Transactions stream, the webhook replay queue, the sweeper and the
repair job on their schedules)."""

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
from engine.queues import RAZORPAY_WEBHOOK_REPLAY, TRANSACTIONS_SYNC_DLQ
from engine.tables import TRANSACTIONS
from local import engine_demo, openapi_engine, sms_outbox
from local.engine_resources import EngineResources, ensure_unsaved, provision
from local.gateway import Functions, engine_gateway_error
from local.streams import StreamPump
from local.systems import Api, Context, LocalRoute
from local.workers import REGION, Worker, consume_queue
from simulators.razorpay.server import RazorpaySimulator
from stacks.engine import access

PORTAL_API_KEY = "local-portal-api-key"
RAZORPAY_KEY_ID = "rzp_test_local"
WEBHOOK_PATH = "/api/v1/webhooks/razorpay"
# Reachable without the key, as in the stacks: Route 53 cannot send one to /health, and
# RazorPay authenticates its webhooks by their signature.
PORTAL_KEYLESS = frozenset({"GET /health", f"POST {WEBHOOK_PATH}"})
SCHEDULE_SECONDS = {"sweep": 300.0, "repair": 3600.0}
FAST_REPAIR_SECONDS = 30.0
# Settings that are config in AWS, from the dev environment's config through the code the
# service stacks use (stacks/engine/access.py), so they cannot differ from a deployment's.
CONFIG = access.config_values(ENGINE_ENVIRONMENTS["dev"]) | {
    "POWERTOOLS_SERVICE_NAME": "engine",
    "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    "ENVIRONMENT": "local",
}


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


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
        self._env: dict[str, str] = {}
        self._secrets: dict[str, str] = {}

    def start(self, context: Context) -> None:
        args, saved = context.args, context.saved
        self._secrets = dict(saved["razorpay"]) if saved else _new_secrets()
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
        self.database = engine_demo.prepare(args.data_dir)
        if saved:
            self.resources = EngineResources(**saved["resources"])
            ensure_unsaved(client, self.resources)
        else:
            self.resources = provision(
                client,
                key_id=RAZORPAY_KEY_ID,
                key_secret=self._secrets["key_secret"],
                webhook_secret=self._secrets["webhook_secret"],
            )
        sms_outbox.install()
        self._env = self._environment(args)
        self.args = args
        context.seeded.append(f"engine demo loans ({self.database.source} PostgreSQL)")

    def _environment(self, args: Any) -> dict[str, str]:
        assert self.resources is not None and self.database is not None
        env = dict(CONFIG) | self.resources.env()
        env |= {
            "RAZORPAY_BASE_URL": self.razorpay,
            "DATABASE_URL": self.database.app_url,
            "DB_NAME": engine_demo.DATABASE,
            "DB_USER": engine_demo.APP_ROLE,
            # The health functions probe the Transactions table, as the stacks configure them.
            "HEALTH_TABLE": self.resources.tables[TRANSACTIONS.logical_name],
            "HEALTH_TABLE_KEY": TRANSACTIONS.partition_key.name,
        }
        if args.session_ttl:
            env["SESSION_TTL_SECONDS"] = str(args.session_ttl)
        if args.sweep_every and args.sweep_every < SCHEDULE_SECONDS["sweep"]:
            # A sped-up sweep looks at payments as soon as two of its runs have passed.
            env["PAYMENT_SWEEP_AFTER_SECONDS"] = str(max(1, int(args.sweep_every * 2)))
        return env

    def environment(self, function: str) -> dict[str, str]:
        return self._env

    def workers(self, functions: Functions) -> list[Worker]:
        assert self.resources is not None
        resources = self.resources
        pump = StreamPump(
            client("dynamodb"),
            boto3.client(
                "dynamodbstreams",
                region_name=REGION,
                # moto 5.2.5 routes only the classic endpoint, not the account-based one.
                config=Config(account_id_endpoint_mode="disabled"),
            ),
            resources.tables[TRANSACTIONS.logical_name],
            batch_size=100,  # the event source mapping's
            on_failure=self._dead_letter_records,
        )

        def invoke(name: str) -> Any:
            return lambda event: functions.invoke(name, event)

        def schedule(name: str) -> Any:
            return lambda: functions.invoke(name, {"source": "local.schedule"})

        def sync() -> None:
            pump.drain(invoke(declarations.TRANSACTIONS_SYNC.name))

        sweep_every = self.args.sweep_every or SCHEDULE_SECONDS["sweep"]
        repair_every = FAST_REPAIR_SECONDS if self.args.fast else SCHEDULE_SECONDS["repair"]
        replay_url = resources.queues[RAZORPAY_WEBHOOK_REPLAY.name]
        return [
            Worker("transactions-sync (table stream)", 0.5, sync),
            Worker(
                "razorpay-webhook-replay (queue)",
                1.0,
                lambda: consume_queue(
                    replay_url, invoke(declarations.RAZORPAY_WEBHOOK_REPLAYER.name)
                ),
            ),
            Worker(
                "payment-sweeper (schedule)",
                sweep_every,
                schedule(declarations.PAYMENT_SWEEPER.name),
            ),
            Worker(
                "transactions-repair (schedule)",
                repair_every,
                schedule(declarations.TRANSACTIONS_REPAIR.name),
            ),
        ]

    def _dead_letter_records(self, records: list[dict[str, Any]]) -> None:
        """What the stream's on-failure destination receives: where the records are, not
        what they hold (the repair job re-reads the table)."""
        assert self.resources is not None
        keys = [
            {"keys": r["dynamodb"].get("Keys"), "sequence": r["dynamodb"]["SequenceNumber"]}
            for r in records
        ]
        client("sqs").send_message(
            QueueUrl=self.resources.queues[TRANSACTIONS_SYNC_DLQ.name],
            MessageBody=json.dumps({"records": keys}, default=str),
        )
        print(f"[stream] {len(records)} record(s) to the sync DLQ", file=sys.stderr)

    def endpoints(self) -> dict[str, str]:
        return {"razorpay": self.razorpay}

    def local_routes(self) -> dict[tuple[str, str], LocalRoute]:
        return {("GET", "/_local/demo"): self._demo, ("GET", "/_local/sms"): self._sms}

    def _demo(self, _query: str, _body: bytes) -> tuple[int, Any]:
        assert self.database is not None
        return 200, {
            "portal": self.portal,
            "portal_api_key": PORTAL_API_KEY,
            "razorpay": {"url": self.razorpay, "key_id": RAZORPAY_KEY_ID},
            "loans": engine_demo.demo_loans(self.database.admin_url),
        }

    def _sms(self, query: str, _body: bytes) -> tuple[int, Any]:
        to = parse_qs(query).get("to", [None])[0]
        return 200, sms_outbox.messages(to)

    def banner(self) -> list[str]:
        portal, key = self.portal, PORTAL_API_KEY
        body = json.dumps({"loan_account_number": "LN0000000001", "mobile_number": "9876543210"})
        return [
            f"Engine: portal API key {key}; demo loans {self.main}/_local/demo,"
            f" SMS sent {self.main}/_local/sms",
            "Try it (docs/local.md walks through a whole repayment):",
            f"  curl -s -X POST {portal}/api/v1/customer/validate-loan -H 'x-api-key: {key}'"
            f" -H 'Content-Type: application/json' -d '{body}'",
            f"  RazorPay simulator: {self.razorpay}   (webhooks back to {portal}{WEBHOOK_PATH})",
        ]

    def saved(self) -> dict[str, Any]:
        assert self.resources is not None
        return {"razorpay": self._secrets, "resources": asdict(self.resources)}

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
        if self.database is not None:
            self.database.stop()


def _new_secrets() -> dict[str, str]:
    return {
        "key_secret": secrets.token_urlsafe(24),
        "webhook_secret": secrets.token_urlsafe(24),
    }
