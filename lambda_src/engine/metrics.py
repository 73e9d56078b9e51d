"""The engine's business metrics, with the functions that publish them.

Every metric is published in NAMESPACE twice: with its declared dimensions, and without any
(the aggregate series every alarm and graph reads, since the dimensions split a metric into
series no single alarm can aggregate); engine/telemetry.py does both. `producers` lists the
declared functions (engine.declarations) whose code emits the metric: the monitoring stacks
alarm on a metric only where one of its producers is deployed (none may page for a metric
nothing deployed emits). A function that starts publishing a metric adds itself here.
"""

from __future__ import annotations

from shared.metrics import MetricSpec

NAMESPACE = "FivestarPaymentsEngine"

# 100 per payment captured, 0 per payment failed or expired, from every path that settles one.
PAYMENT_SUCCESS_RATE = MetricSpec(
    "payment_success_rate",
    "Percent",
    producers=("PortalPayments", "RazorpayWebhook", "RazorpayWebhookReplayer", "PaymentSweeper"),
    dimensions=("channel", "payment_method"),
    statistic="Average",
)
# A heartbeat (1: LMS reachable, 0: not) published every minute by a scheduled job that
# runs only in the active Region.
LMS_CONNECTIVITY_STATUS = MetricSpec(
    "lms_connectivity_status", "Count", producers=("LmsHeartbeat",), statistic="Minimum"
)
TRANSACTION_PROCESSING_TIME = MetricSpec(
    "transaction_processing_time",
    "Milliseconds",
    dimensions=("service", "operation"),
    statistic="p90",
)
# Live outbox items (due or claimed) per queue type, and how long the oldest due one has
# waited since it was queued: published by the LMS sweep every minute.
QUEUE_DEPTH = MetricSpec(
    "queue_depth",
    "Count",
    producers=("LmsSweeper",),
    dimensions=("queue_type",),
    statistic="Maximum",
)
LMS_QUEUE_OLDEST_AGE = MetricSpec(
    "lms_queue_oldest_age", "Seconds", producers=("LmsSweeper",), statistic="Maximum"
)
# Receipts the LMS took (a first post, a repeat it recognised, or one found by reference
# after an unknown outcome), and items moved to EXCEPTION (refused, or out of attempts).
LMS_RECEIPTS_POSTED = MetricSpec(
    "lms_receipts_posted", "Count", producers=("LmsPoster", "LmsSweeper")
)
LMS_POSTING_EXCEPTIONS = MetricSpec(
    "lms_posting_exceptions", "Count", producers=("LmsPoster", "LmsSweeper")
)
LMS_CIRCUIT_OPENED = MetricSpec(
    "lms_circuit_opened", "Count", producers=("LmsPoster", "LmsSweeper")
)
API_RESPONSE_TIME = MetricSpec(
    "api_response_time",
    "Milliseconds",
    # Every function behind engine.handlers.common.api_handler (the staff's routes too).
    producers=(
        "PortalSessions",
        "PortalLoans",
        "PortalPayments",
        "PortalReceipts",
        "InternalLms",
        "InternalCollections",
        "InternalDcr",
        "InternalAudit",
        "InternalUsers",
    ),
    dimensions=("endpoint", "method", "status_code"),
    statistic="p90",
)
ERROR_RATE = MetricSpec(
    "error_rate", "Percent", dimensions=("service", "error_type"), statistic="Average"
)
DATABASE_CONNECTION_POOL = MetricSpec(
    "database_connection_pool", "Percent", dimensions=("database", "pool"), statistic="Maximum"
)
# Records the PostgreSQL sync could not apply: stream records handed back as failures
# (retried, then dead-lettered) and transactions the repair job could not re-sync.
STREAM_SYNC_FAILED_RECORDS = MetricSpec(
    "stream_sync_failed_records", "Count", producers=("TransactionsSync", "TransactionsRepair")
)
# Transactions the repair job found missing or stale in PostgreSQL and re-synced: each one
# is a batch the stream lost or has not applied yet.
TRANSACTIONS_REPAIRED = MetricSpec(
    "transactions_repaired", "Count", producers=("TransactionsRepair",)
)

# RazorPay webhooks refused for their signature (a forged call, or a secret out of step).
WEBHOOK_REJECTED = MetricSpec("webhook_rejected", "Count", producers=("RazorpayWebhook",))
# Authenticated webhooks that could not be applied and went to the DLQ with their raw body.
WEBHOOK_DEAD_LETTERED = MetricSpec(
    "webhook_dead_lettered", "Count", producers=("RazorpayWebhook", "RazorpayWebhookReplayer")
)
# Payments the sweeper moved (a lost webhook, a closed browser, an expired order).
PAYMENTS_SWEPT = MetricSpec("payments_swept", "Count", producers=("PaymentSweeper",))
# payment.captured events not published on the bus (the capture itself is recorded).
EVENT_PUBLISH_FAILED = MetricSpec(
    "event_publish_failed",
    "Count",
    producers=("PortalPayments", "RazorpayWebhook", "RazorpayWebhookReplayer", "PaymentSweeper"),
)
# OTP SMS that SNS did not take. validate-loan answers as usual (an error would reveal that
# the pair matched), so this is the only sign that customers are not getting their codes.
OTP_SMS_FAILED = MetricSpec("otp_sms_failed", "Count", producers=("PortalSessions",))

METRICS: tuple[MetricSpec, ...] = (
    PAYMENT_SUCCESS_RATE,
    LMS_CONNECTIVITY_STATUS,
    TRANSACTION_PROCESSING_TIME,
    QUEUE_DEPTH,
    LMS_QUEUE_OLDEST_AGE,
    LMS_RECEIPTS_POSTED,
    LMS_POSTING_EXCEPTIONS,
    LMS_CIRCUIT_OPENED,
    API_RESPONSE_TIME,
    ERROR_RATE,
    DATABASE_CONNECTION_POOL,
    STREAM_SYNC_FAILED_RECORDS,
    TRANSACTIONS_REPAIRED,
    WEBHOOK_REJECTED,
    WEBHOOK_DEAD_LETTERED,
    PAYMENTS_SWEPT,
    EVENT_PUBLISH_FAILED,
    OTP_SMS_FAILED,
)
