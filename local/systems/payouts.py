"""The payouts system on a laptop: its resources in moto, its demo data, its background work.

The function environment comes from the dev config through the same code the service stack
uses (stacks/payouts/access.py), so a setting cannot differ between the runner and AWS; only
the Monoova URL and key (the simulator's) and the schedule's pace are the runner's own.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config

from config import load as load_config
from local.gateway import Functions
from local.payouts_resources import PayoutsResources, provision
from local.streams import StreamPump
from local.workers import Worker
from payouts import declarations, wiring
from payouts.models.payout import Destination
from stacks.payouts import access

REGION = "ap-southeast-2"
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


class PayoutsLocal:
    name = "payouts"
    routes = declarations.ROUTES
    functions = declarations.FUNCTIONS

    def __init__(
        self,
        webhook_token: str,
        reconcile_every: float | None,
        breaker_open_seconds: float | None = None,
        monoova_timeout_seconds: float | None = None,
    ) -> None:
        self.cfg = load_config("dev")
        self.webhook_token = webhook_token
        self.reconcile_every = reconcile_every or self.cfg.reconcile_interval_minutes * 60
        self.breaker_open_seconds = breaker_open_seconds
        self.monoova_timeout_seconds = monoova_timeout_seconds
        self.resources: PayoutsResources | None = None

    def provision(self) -> None:
        self.resources = provision(
            client, prefix="local", api_key=API_KEY, webhook_token=self.webhook_token
        )

    def restore(self, saved: dict[str, Any]) -> None:
        self.resources = PayoutsResources(**saved)

    def saved(self) -> dict[str, Any]:
        assert self.resources is not None
        return asdict(self.resources)

    def environment(self, monoova_url: str, monoova_public_key: str) -> dict[str, str]:
        assert self.resources is not None
        env = access.common_env(self.cfg) | access.config_values(self.cfg)
        env |= self.resources.env()
        env |= {
            "ENVIRONMENT": "local",
            "MONOOVA_BASE_URL": monoova_url,
            "MONOOVA_WEBHOOK_PUBLIC_KEYS": monoova_public_key,
        }
        if self.breaker_open_seconds:
            env["BREAKER_OPEN_SECONDS"] = str(int(self.breaker_open_seconds))
        if self.monoova_timeout_seconds:
            env["MONOOVA_TIMEOUT_SECONDS"] = str(self.monoova_timeout_seconds)
        if self.reconcile_every < self.cfg.reconcile_interval_minutes * 60:
            # A sped-up schedule looks at payouts as soon as it runs.
            env["RECONCILE_THRESHOLD_SECONDS"] = str(int(self.reconcile_every))
        return env

    def seed(self) -> list[str]:
        customers = wiring.customers()
        for customer_id, balance, destinations in DEMO_CUSTOMERS:
            customers.create(customer_id, Decimal(balance), list(destinations))
        return [c[0] for c in DEMO_CUSTOMERS]

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
            _consume_queue(functions, resources.replay_queue_url, declarations.WEBHOOK_REPLAY.name)

        def reconcile() -> None:
            functions.invoke(declarations.RECONCILER.name, {"source": "local.schedule"})

        def check_returns() -> None:
            event = {"source": "local.schedule", "job": declarations.RETURN_CHECK_JOB}
            functions.invoke(declarations.RECONCILER.name, event)

        def sweep_refunds() -> None:
            functions.invoke(declarations.REFUND_SWEEPER.name, {"source": "local.schedule"})

        cfg = self.cfg
        return [
            Worker("balance-restorer (table stream)", 0.5, restore_balances),
            Worker("webhook-replay (queue)", 1.0, replay_webhooks),
            Worker("reconciler (schedule)", self.reconcile_every, reconcile),
            Worker(
                "return-check (schedule)", cfg.return_check_interval_minutes * 60, check_returns
            ),
            Worker(
                "refund-sweep (schedule)", cfg.refund_sweep_interval_minutes * 60, sweep_refunds
            ),
        ]

    def banner(self, base: str, simulator: str) -> list[str]:
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


def _consume_queue(functions: Functions, queue_url: str, function_name: str) -> None:
    sqs = client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        AttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    if not messages:
        return
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:000000000000:{queue_url.rsplit('/', 1)[-1]}",
            "awsRegion": REGION,
        }
        for m in messages
    ]
    result = functions.invoke(function_name, {"Records": records})
    failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:  # as Lambda's SQS poller deletes successes
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
