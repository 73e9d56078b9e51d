"""Test harness for the payouts handlers: moto for AWS, the Monoova simulator over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config

from local.events import LambdaContext, rest_event
from local.payouts_resources import PayoutsResources
from local.streams import StreamPump

ADMIN_CLAIMS = {"sub": "admin-1", "cognito:groups": "payout-admins", "email": "ops@example.com"}
REGION = "ap-southeast-2"


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


def invoke(handler: Callable[..., Any], event: dict[str, Any], name: str = "fn") -> ApiResponse:
    raw = handler(event, LambdaContext(function_name=name))
    headers = dict((raw.get("headers") or {}).items())
    for key, values in (raw.get("multiValueHeaders") or {}).items():
        headers.setdefault(key, values[-1])
    text = raw.get("body") or ""
    try:
        body = json.loads(text, parse_float=Decimal) if text else None
    except json.JSONDecodeError:
        body = text
    return ApiResponse(raw["statusCode"], body, headers)


class WebhookReceiver:
    """A local HTTP endpoint that hands each request to the webhook handler as API Gateway would."""

    def __init__(self) -> None:
        from payouts.handlers import monoova_webhook

        handler_fn = monoova_webhook.handler
        received = self.received = []  # type: list[ApiResponse]

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = rest_event(
                    "POST",
                    "/webhooks/monoova",
                    headers=dict(self.headers.items()),
                    body=raw,
                    binary=True,
                )
                response = invoke(handler_fn, event, "MonoovaWebhook")
                received.append(response)
                payload = json.dumps(response.body).encode()
                self.send_response(response.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/monoova"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Payouts:
    resources: PayoutsResources
    simulator: Any
    sleeps: list[float] = field(default_factory=list)
    webhook_url: str | None = None

    def client(self, name: str) -> Any:
        return boto3.client(name, region_name=REGION)

    def post_payout(
        self, body: Any, key: str | None = "key-00000001", raw: str | None = None
    ) -> ApiResponse:
        from payouts.handlers import create_payout

        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        text = raw if raw is not None else json.dumps(body, default=str)
        event = rest_event("POST", "/payouts", headers=headers, body=text, claims=ADMIN_CLAIMS)
        return invoke(create_payout.handler, event, "CreatePayout")

    def get(self, path: str, query: dict[str, str] | None = None) -> ApiResponse:
        from payouts.handlers import query_payouts

        parts = path.strip("/").split("/")
        if parts[0] == "payouts":
            resource, params = "/payouts/{transaction_id}", {"transaction_id": parts[1]}
        elif len(parts) == 2:
            resource, params = "/customers/{customer_id}", {"customer_id": parts[1]}
        else:
            resource, params = "/customers/{customer_id}/payouts", {"customer_id": parts[1]}
        event = rest_event(
            "GET",
            path,
            resource=resource,
            path_parameters=params,
            query=query,
            claims=ADMIN_CLAIMS,
        )
        return invoke(query_payouts.handler, event, "QueryPayouts")

    def seed_customer(
        self,
        customer_id: str,
        balance: str = "1000.00",
        *,
        pay_id: str | None = "jane@example.com",
        bank: bool = True,
    ) -> None:
        from payouts import wiring
        from payouts.models.payout import Destination

        destinations = []
        if pay_id:
            destinations.append(
                Destination("PayId", "Jane Citizen", pay_id=pay_id, pay_id_type="Email")
            )
        if bank:
            destinations.append(
                Destination("BankAccount", "Jane Citizen", bsb="062-205", account_number="12345678")
            )
        wiring.customers().create(customer_id, Decimal(balance), destinations)

    def top_up(self, customer_id: str, amount: str) -> None:
        """Credit a customer's balance the only way balances move: a conditional update."""
        from payouts import wiring

        store = wiring.customers(with_crypto=False)
        self.client("dynamodb").update_item(
            **store.credit_op(customer_id, Decimal(amount))["Update"]
        )

    def customer_item(self, customer_id: str) -> dict[str, Any]:
        from payouts import wiring

        item = wiring.customers(with_crypto=False).get(customer_id)
        assert item is not None
        return item

    def balance(self, customer_id: str) -> Decimal:
        return Decimal(self.customer_item(customer_id)["available_balance"])

    def payout(self, transaction_id: str) -> dict[str, Any]:
        from payouts import wiring

        item = wiring.transactions().get(transaction_id)
        assert item is not None, transaction_id
        return item

    def all_payouts(self) -> list[dict[str, Any]]:
        from shared import ddb

        table = self.resources.tables["Transactions"]
        items = self.client("dynamodb").scan(TableName=table)["Items"]
        return [ddb.from_item(i) or {} for i in items]

    def pump_stream(self) -> int:
        from payouts.handlers import balance_restorer

        if not hasattr(self, "_pump"):
            self._pump = StreamPump(
                self.client("dynamodb"),
                boto3.client(
                    "dynamodbstreams",
                    region_name=REGION,
                    # moto 5.2.5 routes only the classic endpoint, not the account-based one.
                    config=Config(account_id_endpoint_mode="disabled"),
                ),
                self.resources.tables["Transactions"],
            )

        def deliver(event: dict[str, Any]) -> None:
            result = balance_restorer.handler(event, LambdaContext(function_name="BalanceRestorer"))
            assert result == {"batchItemFailures": []}, result

        return self._pump.drain(deliver)

    def run_reconciler(self, job: str | None = None) -> dict[str, Any]:
        from payouts.handlers import reconciler

        event = {"job": job} if job else {}
        return reconciler.handler(
            event, LambdaContext(function_name="Reconciler", timeout_seconds=300)
        )

    def run_refund_sweep(self) -> dict[str, Any]:
        from payouts.handlers import refund_sweeper

        return refund_sweeper.handler(
            {}, LambdaContext(function_name="RefundSweeper", timeout_seconds=120)
        )

    def dlq_messages(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.resources.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class ConflictInjector:
    """A DynamoDB client whose writes touching `table` fail as a conflicting write would.

    moto never produces a TransactionConflict by itself. Here a TransactWriteItems with an item
    on `table` is cancelled with reason `TransactionConflict` on that item (`None` on the
    others), and an UpdateItem on `table` raises TransactionConflictException, `times` times
    (None: every time). Everything else goes to the real client.
    """

    def __init__(self, client: Any, table: str, times: int | None = None) -> None:
        self._client = client
        self.table = table
        self.remaining = times
        self.injected = 0

    def _take(self) -> bool:
        if self.remaining is not None:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
        self.injected += 1
        return True

    def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        items = kwargs["TransactItems"]
        tables = [next(iter(item.values()))["TableName"] for item in items]
        if self.table in tables and self._take():
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                if table == self.table
                else {"Code": "None"}
                for table in tables
            ]
            error = {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": reasons,
            }
            raise ClientError(error, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if kwargs["TableName"] == self.table and self._take():
            error = {"Error": {"Code": "TransactionConflictException", "Message": "ongoing"}}
            raise ClientError(error, "UpdateItem")
        return self._client.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
