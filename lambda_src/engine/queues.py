"""The payments engine's SQS queues, declared once (CDK, moto, the local runner, tests).

Every queue is encrypted with the engine's Data key and regional: what it holds is work for
the Region it sits in (jobs and consumers run only in the active Region).
"""

from __future__ import annotations

from shared.declarations import QueueSpec

# Authenticated RazorPay events that could not be applied, each with its raw body and headers
# as received, so a re-drive verifies and applies exactly what RazorPay sent.
RAZORPAY_WEBHOOK_DLQ = QueueSpec(
    name="RazorpayWebhookDLQ",
    env_var="RAZORPAY_WEBHOOK_DLQ_URL",
    description="RazorPay webhooks that verified but could not be applied (raw body kept)",
)

# `make redrive-webhooks SYSTEM=engine ENV=...` moves the DLQ's messages here; the replay
# function applies them as the webhook function would, and failures return to the DLQ.
# Visibility: six times the replayer's 60-second timeout (AWS's guidance for a queue that
# feeds a Lambda event source), so a batch still being retried is not delivered twice.
RAZORPAY_WEBHOOK_REPLAY = QueueSpec(
    name="RazorpayWebhookReplay",
    env_var="RAZORPAY_WEBHOOK_REPLAY_URL",
    description="RazorPay webhooks re-driven from the DLQ, applied by the replay function",
    visibility_timeout_seconds=360,
    dead_letter_queue=RAZORPAY_WEBHOOK_DLQ.name,
)

# Transactions stream records the sync consumer could not apply after bisecting: the
# stream's on-failure destination (shard, sequence numbers; the repair job re-syncs them).
TRANSACTIONS_SYNC_DLQ = QueueSpec(
    name="TransactionsSyncDLQ",
    env_var="TRANSACTIONS_SYNC_DLQ_URL",
    description="Transactions stream batches the PostgreSQL sync could not apply",
)

# TransactionQueue stream batches the LMS poster failed on (a bug, a crash): the stream's
# on-failure destination. The items themselves stay in the table, where the sweep takes them.
LMS_POSTER_DLQ = QueueSpec(
    name="LmsPosterDLQ",
    env_var="LMS_POSTER_DLQ_URL",
    description="TransactionQueue stream batches the LMS poster failed on (items stay queued)",
)

QUEUES: tuple[QueueSpec, ...] = (
    RAZORPAY_WEBHOOK_DLQ,
    RAZORPAY_WEBHOOK_REPLAY,
    TRANSACTIONS_SYNC_DLQ,
    LMS_POSTER_DLQ,
)
