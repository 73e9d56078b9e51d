"""The payouts system on a laptop: its API, its resources in moto, Monoova's simulator, its
demo data and its background work.

The function environment comes from the dev config through the same code the service stack
uses (stacks/payouts/access.py), so a setting cannot differ between the runner and AWS; only
the Monoova URL and key (the simulator's) and the schedule's pace are the runner's own.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config

from config import load as load_config
from local import environ, openapi
from local.gateway import Functions, gateway_error
from local.payouts_resources import PayoutsResources, provision
from local.streams import StreamPump
from local.systems import Api, Context, LocalRoute
from local.workers import REGION, Worker, consume_queue
from payouts import declarations, wiring
from payouts.models.payout import Destination
from shared.declarations import Schedule
from simulators.monoova.server import MonoovaSimulator
from stacks.payouts import access

API_KEY = "local-sandbox-api-key"
DEMO_CUSTOMERS = (
    (
        "cust-demo-payid",
        "1000.00",
        [
            Destination(
                "PayId", "Demo Customer", pay_id="demo.customer@example.com", pay_id_type="Email"
            )
        ],
    ),
    (
        "cust-demo-bank",
        "500.00",
        [
            Destination(
                "BankAccount", "Demo Bank Customer", bsb="062-000", account_number="12345678"
            )
        ],
    ),
    (
        "cust-demo-both",
        "2500.00",
        [
            Destination("PayId", "Demo Both", pay_id="+61-412345678", pay_id_type="PhoneNumber"),
            Destination("BankAccount", "Demo Both", bsb="083-004", account_number="987654321"),
        ],
    ),
)


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def _rate(minutes: int) -> str:
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def declared_schedules(cfg: Any) -> tuple[Schedule, ...]:
    """The three rules stacks/payouts/service.py builds (`_schedules`), as declarations."""
    return (
        Schedule(
            name="Reconcile",
            function=declarations.RECONCILER.name,
            expression=_rate(cfg.reconcile_interval_minutes),
            description="Resolves Pending and UNKNOWN payouts through Monoova's status API",
        ),
        Schedule(
            name="ReturnCheck",
            function=declarations.RECONCILER.name,
            expression=_rate(cfg.return_check_interval_minutes),
            description="Asks Monoova about completed payouts inside the NPP return window",
            payload={"job": declarations.RETURN_CHECK_JOB},
        ),
        Schedule(
            name="RefundSweep",
            function=declarations.REFUND_SWEEPER.name,
            expression=_rate(cfg.refund_sweep_interval_minutes),
            description="Credits Rejected/Returned payouts the table stream did not credit",
        ),
    )


class PayoutsSystem:
    name = "payouts"
    functions = declarations.FUNCTIONS
    apis = (
        Api(
            "payouts",
            "Payouts API",
            declarations.ROUTES,
            gateway_error,
            lambda base: openapi.build_document(server_url=base),
        ),
    )

    def __init__(self) -> None:
        self.cfg = load_config("dev")
        self.schedules = declared_schedules(self.cfg)
        self.resources: PayoutsResources | None = None
        self.webhook_token = ""
        self._env: dict[str, str] = {}
        self.simulator: MonoovaSimulator | None = None

    def start(self, context: Context) -> None:
        args, saved = context.args, context.saved
        self.reconcile_every = args.reconcile_every or self.cfg.reconcile_interval_minutes * 60
        self.webhook_token = (
            saved["webhook_token"] if saved else "Basic " + secrets.token_urlsafe(24)
        )
        self.simulator = MonoovaSimulator(
            api_key=API_KEY,
            webhook_token=self.webhook_token,
            webhook_delay=args.webhook_delay,
            webhook_retry_delay=30.0,
            host=args.host,
            port=args.simulator_port,
        )
        self.simulator_url = self.simulator.start()
        if saved:
            self.resources = PayoutsResources(**saved["resources"])
        else:
            self.resources = provision(
                client, prefix="local", api_key=API_KEY, webhook_token=self.webhook_token
            )
        self._env = self._environment(args)
        self.simulator.set_webhook_url(f"{context.urls['payouts']}/webhooks/monoova")
        self.base = context.urls["payouts"]
        if not saved:
            with environ.scoped(self._env):
                wiring.reset()
                context.seeded += self._seed()

    def _environment(self, args: Any) -> dict[str, str]:
        assert self.resources is not None and self.simulator is not None
        env = access.common_env(self.cfg) | access.config_values(self.cfg)
        env |= self.resources.env()
        env |= {
            "ENVIRONMENT": "local",
            "MONOOVA_BASE_URL": self.simulator_url,
            "MONOOVA_WEBHOOK_PUBLIC_KEYS": self.simulator.public_key_hex,
        }
        if args.breaker_open:
            env["BREAKER_OPEN_SECONDS"] = str(int(args.breaker_open))
        if args.monoova_timeout:
            env["MONOOVA_TIMEOUT_SECONDS"] = str(args.monoova_timeout)
        if self.reconcile_every < self.cfg.reconcile_interval_minutes * 60:
            # A sped-up schedule looks at payouts as soon as it runs.
            env["RECONCILE_THRESHOLD_SECONDS"] = str(int(self.reconcile_every))
        return env

    def environment(self, function: str) -> dict[str, str]:
        return self._env

    def schedule_every(self, schedule: Schedule) -> float | None:
        # --reconcile-every (and --fast) pace the reconciler; the others keep their rates.
        return float(self.reconcile_every) if schedule.name == "Reconcile" else None

    def _seed(self) -> list[str]:
        customers = wiring.customers()
        for customer_id, balance, destinations in DEMO_CUSTOMERS:
            customers.create(customer_id, Decimal(balance), list(destinations))
        return [c[0] for c in DEMO_CUSTOMERS]

    def saved(self) -> dict[str, Any]:
        assert self.resources is not None
        return {"webhook_token": self.webhook_token, "resources": asdict(self.resources)}

    def endpoints(self) -> dict[str, str]:
        return {"monoova": self.simulator_url}

    def local_routes(self) -> dict[tuple[str, str], LocalRoute]:
        return {("POST", "/_local/breaker/reset"): self._reset_breaker}

    def _reset_breaker(self, _query: str, _body: bytes) -> tuple[int, Any]:
        """Close Monoova's circuit and forget its failure counts: the state is every item of
        the breaker table (the open marker and the per-minute buckets)."""
        assert self.resources is not None
        table = self.resources.tables["CircuitBreaker"]
        dynamodb = client("dynamodb")
        items = dynamodb.scan(TableName=table, ProjectionExpression="pk").get("Items", [])
        for item in items:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"]})
        return 200, {"breaker": "closed", "cleared": len(items)}

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()

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
            resources.tables["Transactions"],
        )

        def restore_balances() -> None:
            pump.drain(lambda event: functions.invoke(declarations.BALANCE_RESTORER.name, event))

        def replay_webhooks() -> None:
            consume_queue(
                resources.replay_queue_url,
                lambda event: functions.invoke(declarations.WEBHOOK_REPLAY.name, event),
            )

        return [
            Worker("balance-restorer (table stream)", 0.5, restore_balances),
            Worker("webhook-replay (queue)", 1.0, replay_webhooks),
        ]

    def banner(self) -> list[str]:
        base, simulator = self.base, self.simulator_url
        token = (
            f"TOKEN=$(curl -s -X POST {base}/local/token"
            " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')"
        )
        body = json.dumps(
            {"customer_id": "cust-demo-payid", "amount": 25.50, "payout_method": "PayId"}
        )
        return [
            "Demo customers: " + ", ".join(f"{c} ({b} AUD)" for c, b, _ in DEMO_CUSTOMERS),
            "",
            "Try it:",
            f"  {token}",
            f'  curl -s -X POST {base}/payouts -H "Authorization: $TOKEN" '
            f"-H \"Idempotency-Key: demo-$(date +%s)\" -H 'Content-Type: application/json' "
            f"-d '{body}'",
            f'  curl -s {base}/payouts/<transaction_id> -H "Authorization: $TOKEN"',
            f'  curl -s {base}/customers/cust-demo-payid -H "Authorization: $TOKEN"',
            "",
            "Make Monoova fail: ok reject return decline error_5xx unavailable timeout hang"
            " unauthorized",
            f"  curl -s -X POST {simulator}/_simulator/mode"
            ' -d \'{"mode": "reject", "count": 1}\'',
        ]
