"""Harness for the portal payment tests: moto for AWS, a migrated PostgreSQL, the RazorPay
simulator over HTTP delivering its webhooks to our webhook handler.

The `portal` fixture is this folder's (conftest.py imports it with the PostgreSQL ones).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engine.clients.razorpay import hmac_hex
from local import moto_serial
from local.events import LambdaContext, rest_event
from simulators.razorpay import RazorpaySimulator
from tests.engine_pg import EngineDb
from tests.integration.engine.razorpay_support import KEY_ID, KEY_SECRET, WEBHOOK_SECRET
from tests.support import ApiResponse, invoke

REGION = "ap-south-1"
PREVIOUS_WEBHOOK_SECRET = "webhook-secret-before-rotation"
WEBHOOK_PATH = "/api/v1/webhooks/razorpay"
PAYMENTS = "/api/v1/customer/payments"


class AwsCalls:
    """Every AWS API call made, by the thread that made it: a background webhook delivery
    never counts towards the operation the test thread is measuring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, list[str]] = {}

    def record(self, event_name: str, **_: Any) -> None:
        # before-call.<service>.<Operation>
        _, service, operation = event_name.split(".", 2)
        with self._lock:
            self._calls.setdefault(threading.get_ident(), []).append(f"{service}.{operation}")

    def mine(self) -> list[str]:
        with self._lock:
            return list(self._calls.get(threading.get_ident(), []))

    def measure(self, work: Callable[[], Any]) -> tuple[Any, list[str]]:
        before = len(self.mine())
        result = work()
        return result, self.mine()[before:]


class WebhookEndpoint:
    """Hands each POST to the webhook handler as API Gateway would (raw body, headers)."""

    def __init__(self) -> None:
        from engine.handlers.webhooks import razorpay as webhook

        answers = self.answers = []  # type: list[ApiResponse]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = rest_event(
                    "POST", WEBHOOK_PATH, headers=dict(self.headers.items()), body=raw, binary=True
                )
                answer = invoke(webhook.handler, event, "RazorpayWebhook")
                answers.append(answer)
                payload = json.dumps(answer.body, default=str).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{WEBHOOK_PATH}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def aws(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def provision(prefix: str) -> dict[str, str]:
    """Tables, queues, bucket, bus and secrets as the service stack makes them; the env."""
    from engine.queues import QUEUES
    from engine.tables import ALL_TABLES

    env: dict[str, str] = {}
    dynamodb = aws("dynamodb")
    for spec in ALL_TABLES:
        name = f"{prefix}-{spec.logical_name}"
        dynamodb.create_table(**spec.create_table_kwargs(name))
        env[spec.env_var] = name
    sqs = aws("sqs")
    urls: dict[str, str] = {}
    for queue in QUEUES:
        attributes = {"VisibilityTimeout": str(queue.visibility_timeout_seconds)}
        if queue.dead_letter_queue:
            target = sqs.get_queue_attributes(
                QueueUrl=urls[queue.dead_letter_queue], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            policy = {"deadLetterTargetArn": target, "maxReceiveCount": queue.max_receive_count}
            attributes["RedrivePolicy"] = json.dumps(policy)
        urls[queue.name] = sqs.create_queue(
            QueueName=f"{prefix}-{queue.name}", Attributes=attributes
        )["QueueUrl"]
        env[queue.env_var] = urls[queue.name]
    bucket = f"{prefix}-documents"
    aws("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    env["DOCUMENTS_BUCKET"] = bucket
    env["EVENT_BUS_NAME"] = f"{prefix}-bus"
    aws("events").create_event_bus(Name=env["EVENT_BUS_NAME"])
    env["CAPTURED_EVENTS_URL"] = _captured_events_queue(prefix, env["EVENT_BUS_NAME"])
    secrets = aws("secretsmanager")

    def secret(name: str, value: dict[str, str]) -> str:
        arn: str = secrets.create_secret(Name=f"{prefix}-{name}", SecretString=json.dumps(value))[
            "ARN"
        ]
        return arn

    env["RAZORPAY_SECRET_ARN"] = secret("razorpay", {"key_id": KEY_ID, "key_secret": KEY_SECRET})
    env["RAZORPAY_WEBHOOK_SECRET_ARN"] = secret(
        "razorpay-webhook", {"current": WEBHOOK_SECRET, "previous": PREVIOUS_WEBHOOK_SECRET}
    )
    env["OTP_HASH_KEY_ARN"] = secret("otp-hash", {"key": "k" * 40})
    return env


def _captured_events_queue(prefix: str, bus: str) -> str:
    """payment.captured events, routed to a queue the tests read."""
    sqs = aws("sqs")
    url: str = sqs.create_queue(QueueName=f"{prefix}-captured-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = aws("events")
    pattern = {"source": ["engine.payments"], "detail-type": ["payment.captured"]}
    events.put_rule(Name="captured", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="captured", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


class Portal:
    def __init__(
        self, env: dict[str, str], sim: RazorpaySimulator, calls: AwsCalls, db: EngineDb
    ) -> None:
        self.env = env
        self.sim = sim
        self.calls = calls
        self.db = db
        self.webhook: WebhookEndpoint | None = None

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL as the server's admin (arranging and inspecting PostgreSQL)."""
        with self.db.admin() as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    # ------------------------------------------------------------------ sessions

    def session(self, loan_account_number: str = "LN0000000001", ttl: int = 900) -> str:
        """A live session for the loan, written as the sessions service writes one."""
        from engine import wiring
        from engine.logic import otp
        from shared import ddb

        token = otp.new_session_token()
        now = int(time.time())
        item = {
            "session_id": "session#" + wiring.hasher().digest("session", token),
            "kind": "session",
            "loan_account_number": loan_account_number,
            "expires_at": now + ttl,
            "created_at": "2026-12-03T06:40:00.000Z",
        }
        aws("dynamodb").put_item(TableName=self.env["SESSIONS_TABLE"], Item=ddb.to_item(item))
        return token

    # ------------------------------------------------------------------ API calls

    def call(
        self,
        method: str,
        resource: str,
        *,
        token: str | None,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> ApiResponse:
        from engine.handlers.portal import payments, receipts

        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["X-Session-Token"] = token
        path = resource
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", value)
        text = (
            raw
            if raw is not None
            else (json.dumps(body, default=str) if body is not None else None)
        )
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters=params,
            headers=all_headers,
            body=text,
        )
        handler = receipts.handler if resource.endswith("/receipt") else payments.handler
        name = "PortalReceipts" if resource.endswith("/receipt") else "PortalPayments"
        return invoke(handler, event, name)

    def create(
        self,
        amount: Any = "2500.00",
        *,
        token: str | None,
        key: str | None = "key-0000000001",
        loan: str = "LN0000000001",
    ) -> ApiResponse:
        headers = {"Idempotency-Key": key} if key is not None else {}
        body = {"loan_account_number": loan, "amount": amount}
        return self.call("POST", PAYMENTS, token=token, body=body, headers=headers)

    def notify(
        self, payment_id: str, paid: dict[str, Any], *, token: str, **over: Any
    ) -> ApiResponse:
        body = {
            "payment_id": payment_id,
            "razorpay_order_id": paid["razorpay_order_id"],
            "razorpay_payment_id": paid["razorpay_payment_id"],
            "razorpay_signature": paid["razorpay_signature"],
            **over,
        }
        return self.call("POST", "/api/v1/customer/payment-notification", token=token, body=body)

    def status(self, payment_id: str, *, token: str) -> ApiResponse:
        return self.call(
            "GET", PAYMENTS + "/{payment_id}", token=token, params={"payment_id": payment_id}
        )

    def receipt(self, payment_id: str, *, token: str, pdf: bool = False) -> ApiResponse:
        headers = {"Accept": "application/pdf"} if pdf else {}
        return self.call(
            "GET",
            PAYMENTS + "/{payment_id}/receipt",
            token=token,
            params={"payment_id": payment_id},
            headers=headers,
        )

    def post_webhook(self, raw: bytes, headers: dict[str, str]) -> ApiResponse:
        from engine.handlers.webhooks import razorpay as webhook

        event = rest_event("POST", WEBHOOK_PATH, headers=headers, body=raw, binary=True)
        return invoke(webhook.handler, event, "RazorpayWebhook")

    # ------------------------------------------------------------------ the store

    def payment(self, payment_id: str) -> Any:
        from engine import wiring_payments

        return wiring_payments.payments().get(payment_id)

    def all_payments(self) -> list[dict[str, Any]]:
        from shared import ddb

        items = aws("dynamodb").scan(TableName=self.env["TRANSACTIONS_TABLE"])["Items"]
        return [ddb.from_item(i) or {} for i in items]

    def table_items(self, env_var: str) -> list[dict[str, Any]]:
        from shared import ddb

        items = aws("dynamodb").scan(TableName=self.env[env_var])["Items"]
        return [ddb.from_item(i) or {} for i in items]

    def queue_items(self) -> list[dict[str, Any]]:
        return self.table_items("TRANSACTION_QUEUE_TABLE")

    def counter(self, counter_id: str) -> dict[str, Any] | None:
        return next(
            (c for c in self.table_items("COUNTERS_TABLE") if c["counter_id"] == counter_id),
            None,
        )

    def messages(self, env_var: str) -> list[dict[str, Any]]:
        sqs = aws("sqs")
        found = sqs.receive_message(
            QueueUrl=self.env[env_var], MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return found

    def captured_events(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.messages("CAPTURED_EVENTS_URL")]

    # ------------------------------------------------------------------ jobs

    def sweep(self) -> dict[str, int]:
        from engine.handlers.jobs import payment_sweeper

        context = LambdaContext(function_name="PaymentSweeper", timeout_seconds=120)
        result: dict[str, int] = payment_sweeper.handler({}, context)
        return result

    def replay(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        from engine.handlers.webhooks import razorpay_replay

        records = [
            {
                "messageId": m.get("MessageId", str(uuid.uuid4())),
                "receiptHandle": m.get("ReceiptHandle", "r"),
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-south-1:123456789012:replay",
                "awsRegion": REGION,
            }
            for m in messages
        ]
        context = LambdaContext(function_name="RazorpayWebhookReplayer", timeout_seconds=60)
        result: dict[str, Any] = razorpay_replay.handler({"Records": records}, context)
        return result

    def checkout(self, order_id: str, **options: Any) -> dict[str, Any]:
        return self.sim.checkout(order_id, **options)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("condition not met in time")


def signed(body: dict[str, Any], secret: str = WEBHOOK_SECRET, event_id: str = "evt_test1") -> Any:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Razorpay-Signature": hmac_hex(secret, raw),
        "x-razorpay-event-id": event_id,
    }
    return raw, headers


def unknown_capture(serial: int, event_id: str) -> tuple[bytes, dict[str, str]]:
    """A signed payment.captured for an order and a payment we never made (unappliable)."""
    entity = {
        "id": f"pay_UNKNOWN{serial:06d}",
        "order_id": f"order_UNKNOWN{serial:05d}",
        "amount": 10000,
        "currency": "INR",
        "status": "captured",
        "method": "upi",
        "notes": {"payment_id": "pay_" + "a" * 19 + chr(ord("a") + serial % 26)},
    }
    return signed(  # type: ignore[no-any-return]
        {"event": "payment.captured", "payload": {"payment": {"entity": entity}}},
        event_id=event_id,
    )


def decimal(text: Any) -> Decimal:
    return Decimal(str(text))


def pdf_of(response: ApiResponse) -> bytes:
    assert response.headers.get("Content-Type") == "application/pdf", response.headers
    assert isinstance(response.body, str)
    return base64.b64decode(response.body, validate=True)


def count(calls: list[str]) -> Counter[str]:
    return Counter(calls)


@pytest.fixture
def portal(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Portal]:
    with running_portal(engine_db, monkeypatch) as harness:
        yield harness


@contextmanager
def running_portal(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Portal]:
    """The `portal` fixture's harness, for callers outside pytest too (`make bench`: pass
    `pytest.MonkeyPatch.context()`); everything it sets is undone by `monkeypatch`."""
    from engine import wiring
    from engine.clients import razorpay as razorpay_client
    from shared import ddb_writes

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    base = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": "engine",
        "POWERTOOLS_METRICS_NAMESPACE": "FivestarPaymentsEngine",
        "DATABASE_URL": engine_db.app_url,
        "RAZORPAY_AUTO_CAPTURE": "true",
        "MAX_PAYMENT_AMOUNT": "500000.00",
        "ORDER_EXPIRY_MINUTES": "30",
        "PAYMENT_SWEEP_AFTER_SECONDS": "0",
        "RAZORPAY_TIMEOUT_SECONDS": "0.5",
    }
    for key, value in base.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(moto_serial.DynamoHandler, "call_action", moto_serial._serialised)
    monkeypatch.setattr(razorpay_client, "_sleep", lambda _s: None)
    monkeypatch.setattr(ddb_writes, "_sleep", lambda _s: None)
    calls = AwsCalls()
    with mock_aws():
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", calls.record)
        env = provision(f"t{uuid.uuid4().hex[:8]}")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        endpoint = WebhookEndpoint()
        sim = RazorpaySimulator(
            KEY_ID,
            KEY_SECRET,
            WEBHOOK_SECRET,
            webhook_url=endpoint.url,
            webhook_delay=0.05,
            webhook_retry_delays=(0.1, 0.2, 0.4),
            late_capture_delay=0.3,
            hold_seconds=1.0,
        )
        monkeypatch.setenv("RAZORPAY_BASE_URL", "")
        with sim:
            monkeypatch.setenv("RAZORPAY_BASE_URL", sim.base_url or "")
            wiring.reset()
            harness = Portal(env, sim, calls, engine_db)
            harness.webhook = endpoint
            try:
                yield harness
            finally:
                sim.set_webhook_url(None)
                endpoint.close()
                wiring.reset()
        boto3.DEFAULT_SESSION = None
