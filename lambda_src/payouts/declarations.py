"""The payouts system's functions and routes, declared once.

The service stack builds its Lambdas and API Gateway methods from these; the local
runner serves the same routes by calling the same handlers.
"""

from __future__ import annotations

from payouts.models.api import CREATE_PAYOUT_REQUEST
from shared.declarations import FunctionSpec, Route

CREATE_PAYOUT = FunctionSpec(
    name="CreatePayout",
    handler="payouts.handlers.create_payout.handler",
    description="POST /payouts: debit, call Monoova execute, answer 202",
    memory_mb=512,
    timeout_seconds=30,
)
QUERY_PAYOUTS = FunctionSpec(
    name="QueryPayouts",
    handler="payouts.handlers.query_payouts.handler",
    description="GET a payout, and a customer's payouts",
    memory_mb=256,
    timeout_seconds=10,
)
MONOOVA_WEBHOOK = FunctionSpec(
    name="MonoovaWebhook",
    handler="payouts.handlers.monoova_webhook.handler",
    description="POST /webhooks/monoova: verify, dedupe, move the payout forward",
    memory_mb=256,
    timeout_seconds=10,
)
WEBHOOK_REPLAY = FunctionSpec(
    name="WebhookReplay",
    handler="payouts.handlers.webhook_replay.handler",
    description="Re-processes webhook payloads re-driven from the DLQ",
    memory_mb=256,
    timeout_seconds=30,
)
RECONCILER = FunctionSpec(
    name="Reconciler",
    handler="payouts.handlers.reconciler.handler",
    description="Resolves Pending/UNKNOWN payouts and finds lost returns (Monoova status API)",
    memory_mb=512,
    timeout_seconds=300,
)
# The Reconciler's second schedule sends {"job": RETURN_CHECK_JOB}: look for lost returns.
RETURN_CHECK_JOB = "return-check"
REFUND_SWEEPER = FunctionSpec(
    name="RefundSweeper",
    handler="payouts.handlers.refund_sweeper.handler",
    description="Credits Rejected/Returned payouts the table stream has not credited",
    memory_mb=256,
    timeout_seconds=120,
)
BALANCE_RESTORER = FunctionSpec(
    name="BalanceRestorer",
    handler="payouts.handlers.balance_restorer.handler",
    description="Credits the balance back when a payout ends Rejected or Returned (table stream)",
    memory_mb=256,
    timeout_seconds=30,
)

FUNCTIONS = (
    CREATE_PAYOUT,
    QUERY_PAYOUTS,
    MONOOVA_WEBHOOK,
    WEBHOOK_REPLAY,
    RECONCILER,
    BALANCE_RESTORER,
    REFUND_SWEEPER,
)

ROUTES = (
    Route(
        "POST",
        "/payouts",
        CREATE_PAYOUT.name,
        auth="cognito",
        summary="Create a payout",
        request_model=CREATE_PAYOUT_REQUEST,
        required_headers=("Idempotency-Key",),
        responses={
            202: "Accepted",
            400: "Invalid request",
            404: "Customer not found",
            409: "Idempotency-Key reused with a different body",
            422: "Insufficient balance or no active destination",
            503: "Monoova unavailable (circuit open)",
        },
    ),
    Route(
        "GET",
        "/payouts/{transaction_id}",
        QUERY_PAYOUTS.name,
        auth="cognito",
        summary="Get a payout",
        responses={200: "The payout", 404: "Not found"},
    ),
    Route(
        "GET",
        "/customers/{customer_id}",
        QUERY_PAYOUTS.name,
        auth="cognito",
        summary="Get a customer's available balance and payout destinations (masked)",
        responses={200: "The customer", 404: "Customer not found"},
    ),
    Route(
        "GET",
        "/customers/{customer_id}/payouts",
        QUERY_PAYOUTS.name,
        auth="cognito",
        summary="List a customer's payouts, newest first",
        responses={200: "A page of payouts", 400: "Bad cursor or limit", 404: "Customer not found"},
    ),
    Route(
        "POST",
        "/webhooks/monoova",
        MONOOVA_WEBHOOK.name,
        auth="none",
        summary="Monoova NppPaymentStatus and NppReturn webhooks",
        responses={200: "Received", 400: "Malformed", 401: "Bad token or signature"},
    ),
)
