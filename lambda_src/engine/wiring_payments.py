"""Builds the payment functions' stores and clients (engine.wiring builds the shared parts).

Nothing here is cached on its own: boto3 clients, secrets and the database connection are
cached by engine.wiring and shared.aws/secrets, and the RazorPay client's connection pool by
its module, so `engine.wiring.reset()` forgets all of it.

Each builder imports what it builds (as engine.wiring's do), so a route pays on a cold start
only for what it uses: a receipt or a loan's history never loads the settlement or the
RazorPay client, and PostgreSQL (psycopg) is loaded only when a create first reads it; the
webhook, replay and sweep functions, a notification and a status read never do. A handler
imports what its every invocation uses itself (the webhook its processor, the sweep its
sweeper), so `make bench`'s import figure is its lightest invocation's, not less.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine import settings, wiring
from engine.dal.ddb.counters import CounterStore
from engine.dal.ddb.idempotency import IdempotencyStore
from engine.dal.ddb.payments import PaymentStore
from engine.dal.ddb.queue import QueueStore
from shared import aws, secrets

if TYPE_CHECKING:
    from engine.clients.documents import DocumentStore
    from engine.clients.razorpay import Credentials, RazorpayClient
    from engine.dal.pg.payable import LoanPosition
    from engine.logic.payments import PaymentService
    from engine.logic.settlement import Settlement
    from engine.logic.sweep import Sweeper
    from engine.logic.webhooks import WebhookProcessor

# Per call to RazorPay (retries included). An API call makes at most two (a fetch and a
# capture) inside PortalPayments' 20 s; the sweeper has minutes and keeps a longer backoff.
API_BUDGET_SECONDS = 6.0
JOB_BUDGET_SECONDS = 12.0


def dynamodb() -> Any:
    return aws.client("dynamodb")


def _table(name: str, value: str) -> str:
    return settings.require(name, value)


def counters() -> CounterStore:
    return CounterStore(dynamodb(), _table("COUNTERS_TABLE", settings.get().counters_table))


def idempotency() -> IdempotencyStore:
    config = settings.get()
    return IdempotencyStore(dynamodb(), _table("IDEMPOTENCY_TABLE", config.idempotency_table))


def payments() -> PaymentStore:
    config = settings.get()
    return PaymentStore(
        dynamodb(),
        _table("TRANSACTIONS_TABLE", config.transactions_table),
        idempotency_table=_table("IDEMPOTENCY_TABLE", config.idempotency_table),
        counters=counters(),
        queue=QueueStore(_table("TRANSACTION_QUEUE_TABLE", config.transaction_queue_table)),
    )


def razorpay_credentials() -> Credentials:
    from engine.clients.razorpay import Credentials  # noqa: PLC0415 - see engine.wiring

    arn = settings.require("RAZORPAY_SECRET_ARN", settings.get().razorpay_secret_arn)
    secret = secrets.get_json_secret(arn)
    return Credentials(str(secret["key_id"]), str(secret["key_secret"]))


def razorpay(*, job: bool = False) -> RazorpayClient:
    """RAZORPAY_TIMEOUT_SECONDS bounds each attempt (default 3 s: RazorPay answers in well
    under a second when it is well)."""
    from engine.clients.razorpay import RazorpayClient  # noqa: PLC0415

    timeout = float(os.environ.get("RAZORPAY_TIMEOUT_SECONDS") or "3")
    base_url = settings.get().razorpay_base_url
    if job:
        return RazorpayClient(
            base_url,
            razorpay_credentials,
            timeout_seconds=timeout,
            budget_seconds=JOB_BUDGET_SECONDS,
        )
    return RazorpayClient(
        base_url,
        razorpay_credentials,
        timeout_seconds=timeout,
        backoff=(0.25,),
        budget_seconds=API_BUDGET_SECONDS,
    )


def webhook_secrets() -> list[str]:
    """The current secret and, during a rotation, the previous one."""
    arn = settings.require(
        "RAZORPAY_WEBHOOK_SECRET_ARN", settings.get().razorpay_webhook_secret_arn
    )
    secret = secrets.get_json_secret(arn)
    return [str(secret[k]) for k in ("current", "previous") if secret.get(k)]


def settlement() -> Settlement:
    from engine.clients.events import EventPublisher  # noqa: PLC0415
    from engine.logic.outcomes import OutcomeMetrics, count  # noqa: PLC0415
    from engine.logic.settlement import Settlement  # noqa: PLC0415

    bus = settings.require("EVENT_BUS_NAME", settings.get().event_bus_name)
    publisher = EventPublisher(aws.client("events"), bus, lambda: count("event_publish_failed"))
    return Settlement(payments(), counters(), publisher, OutcomeMetrics())


class _Positions:
    """PostgreSQL's view of a loan, its store built (and psycopg imported) on the first
    lookup: only a create reads it, never a notification."""

    def position(self, loan_account_number: str) -> LoanPosition | None:
        from engine.dal.pg.payable import PayableStore  # noqa: PLC0415 - see the docstring

        return PayableStore(wiring.database()).position(loan_account_number)


def payment_service() -> PaymentService:
    from engine.logic.payments import PaymentService  # noqa: PLC0415

    config = settings.get()
    client = razorpay()
    return PaymentService(
        payments=payments(),
        idempotency=idempotency(),
        positions=_Positions(),
        razorpay=client,
        settlement=settlement(),
        max_amount=config.max_payment_amount,
        auto_capture=config.razorpay_auto_capture,
    )


def webhook_processor(*, job: bool = False) -> WebhookProcessor:
    from engine.logic.webhooks import WebhookProcessor  # noqa: PLC0415

    return WebhookProcessor(payments(), settlement(), razorpay(job=job))


def sweeper() -> Sweeper:
    """SWEEP_AFTER_SECONDS: how long a payment is left to its webhook before the sweep asks."""
    from engine.logic.sweep import Sweeper  # noqa: PLC0415

    after = int(os.environ.get("PAYMENT_SWEEP_AFTER_SECONDS", "300"))
    return Sweeper(
        payments(),
        settlement(),
        razorpay(job=True),
        after=timedelta(seconds=after),
        expiry=timedelta(minutes=settings.get().order_expiry_minutes),
    )


def documents() -> DocumentStore:
    from engine.clients.documents import DocumentStore  # noqa: PLC0415

    bucket = settings.require("DOCUMENTS_BUCKET", settings.get().documents_bucket)
    return DocumentStore(aws.client("s3"), bucket)
