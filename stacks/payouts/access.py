"""What each payouts function may touch, and the environment it is given.

One entry per function in `payouts.declarations.FUNCTIONS`; the service stack
applies these and the infra tests assert the result independently.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.payouts import PayoutsConfig
from payouts import declarations as fn
from payouts.tables import CIRCUIT_BREAKER, CUSTOMERS, IDEMPOTENCY, TRANSACTIONS
from stacks.table_access import BATCH_GET, CONDITION_CHECK, GET, PUT, QUERY, UPDATE, TableGrant


@dataclass(frozen=True)
class FunctionAccess:
    tables: tuple[TableGrant, ...]
    decrypt_pii: bool = False
    # Seal a payout's destination snapshot: kms:GenerateDataKey on the PII key, for the
    # field crypto's encryption context only.
    encrypt_pii: bool = False
    read_api_secret: bool = False
    read_webhook_secret: bool = False
    send_to_webhook_dlq: bool = False
    monoova_client: bool = False
    extra_env: tuple[str, ...] = ()
    reserved_concurrency_field: str | None = None
    # Only the scheduled functions (Reconciler, RefundSweeper) are invoked asynchronously, so
    # only they have an async-invoke DLQ (ReconcilerDlq, the scheduled jobs' DLQ); every
    # other function says why it needs none.
    async_dlq: bool = False
    no_dlq_reason: str | None = None


_BREAKER = TableGrant(CIRCUIT_BREAKER, (GET, BATCH_GET, PUT, UPDATE))
_WEBHOOK_TABLES = (
    TableGrant(TRANSACTIONS, (UPDATE, GET)),
    TableGrant(IDEMPOTENCY, (PUT,)),
)
# Every function that moves a payout files its follow-up work (models/schedule.py).
_SCHEDULE_ENV = ("RECONCILE_THRESHOLD_SECONDS", "RETURN_CHECK_SECONDS", "REFUND_GRACE_SECONDS")
DUE_WORK_INDEX = "due-work-index"
_SYNC_ONLY = (
    "Invoked only synchronously by API Gateway: errors go back to the caller, and a "
    "DLQ only ever receives failed asynchronous invocations."
)

ACCESS: dict[str, FunctionAccess] = {
    fn.CREATE_PAYOUT.name: FunctionAccess(
        tables=(
            TableGrant(TRANSACTIONS, (PUT, UPDATE, GET, CONDITION_CHECK)),
            TableGrant(CUSTOMERS, (GET, BATCH_GET, UPDATE)),
            TableGrant(IDEMPOTENCY, (GET, BATCH_GET, PUT)),
            _BREAKER,
        ),
        decrypt_pii=True,
        encrypt_pii=True,
        read_api_secret=True,
        monoova_client=True,
        extra_env=(
            "PII_KEY_ARN",
            "TRANSACTION_RETENTION_DAYS",
            "IDEMPOTENCY_TTL_HOURS",
            "MONOOVA_CREATE_BUDGET_SECONDS",
            *_SCHEDULE_ENV,
        ),
        reserved_concurrency_field="create_payout_reserved_concurrency",
        no_dlq_reason=_SYNC_ONLY,
    ),
    fn.QUERY_PAYOUTS.name: FunctionAccess(
        tables=(
            # Only the index it reads: a customer's payouts, newest first.
            TableGrant(TRANSACTIONS, (GET, QUERY), query_indexes=("customer-created-index",)),
            TableGrant(CUSTOMERS, (GET,)),
        ),
        reserved_concurrency_field="query_payouts_reserved_concurrency",
        no_dlq_reason=_SYNC_ONLY,
    ),
    fn.MONOOVA_WEBHOOK.name: FunctionAccess(
        tables=_WEBHOOK_TABLES,
        read_webhook_secret=True,
        send_to_webhook_dlq=True,
        extra_env=(
            "WEBHOOK_DLQ_URL",
            "MONOOVA_WEBHOOK_SECRET_ARN",
            "MONOOVA_WEBHOOK_PUBLIC_KEYS",
            "TRANSACTION_RETENTION_DAYS",
            *_SCHEDULE_ENV,
        ),
        reserved_concurrency_field="monoova_webhook_reserved_concurrency",
        no_dlq_reason=_SYNC_ONLY
        + " The handler itself writes any webhook it cannot process to WebhookDlq.",
    ),
    fn.WEBHOOK_REPLAY.name: FunctionAccess(
        tables=_WEBHOOK_TABLES,
        extra_env=("TRANSACTION_RETENTION_DAYS", *_SCHEDULE_ENV),
        reserved_concurrency_field="webhook_replay_reserved_concurrency",
        no_dlq_reason=(
            "Invoked by an SQS event source mapping, not asynchronously: a failed message "
            "returns to WebhookReplayQueue, whose redrive policy moves it to WebhookDlq."
        ),
    ),
    fn.RECONCILER.name: FunctionAccess(
        # The customer's table is not needed: a resubmission sends the payout's own sealed
        # destination snapshot.
        tables=(
            TableGrant(
                TRANSACTIONS,
                (GET, UPDATE),
                query_indexes=("open-status-index", DUE_WORK_INDEX),
            ),
            _BREAKER,
        ),
        decrypt_pii=True,
        read_api_secret=True,
        monoova_client=True,
        extra_env=(
            "PII_KEY_ARN",
            "STUCK_UNKNOWN_SECONDS",
            "RECONCILE_BATCH_LIMIT",
            "RETURN_WINDOW_DAYS",
            "RETURN_CHECK_BATCH_LIMIT",
            "TRANSACTION_RETENTION_DAYS",
            *_SCHEDULE_ENV,
        ),
        reserved_concurrency_field="reconciler_reserved_concurrency",
        async_dlq=True,
    ),
    fn.REFUND_SWEEPER.name: FunctionAccess(
        tables=(
            TableGrant(TRANSACTIONS, (UPDATE,), query_indexes=(DUE_WORK_INDEX,)),
            TableGrant(CUSTOMERS, (UPDATE,)),
        ),
        extra_env=("REFUND_SWEEP_BATCH_LIMIT", *_SCHEDULE_ENV),
        reserved_concurrency_field="refund_sweeper_reserved_concurrency",
        async_dlq=True,
    ),
    fn.BALANCE_RESTORER.name: FunctionAccess(
        tables=(
            TableGrant(TRANSACTIONS, (UPDATE, CONDITION_CHECK)),
            TableGrant(CUSTOMERS, (UPDATE,)),
        ),
        reserved_concurrency_field="balance_restorer_reserved_concurrency",
        no_dlq_reason=(
            "Invoked by a DynamoDB stream event source mapping, not asynchronously: "
            "failed batches go to the mapping's on-failure destination BalanceRestoreDlq."
        ),
    ),
}

METRICS_NAMESPACE = "Payouts"

MONOOVA_ENV = (
    "MONOOVA_BASE_URL",
    "MONOOVA_API_SECRET_ARN",
    "MONOOVA_MACCOUNT_TOKEN",
    "MONOOVA_SOURCE_BSB",
    "MONOOVA_SOURCE_ACCOUNT_NUMBER",
    "MONOOVA_REMITTER_NAME",
    "MONOOVA_TIMEOUT_SECONDS",
    "BREAKER_MIN_VOLUME",
    "BREAKER_FAILURE_RATIO",
    "BREAKER_WINDOW_SECONDS",
    "BREAKER_OPEN_SECONDS",
)


def config_values(cfg: PayoutsConfig) -> dict[str, str]:
    """Environment values that come straight from config (no resource references)."""
    return {
        "MONOOVA_BASE_URL": cfg.monoova_base_url,
        "MONOOVA_MACCOUNT_TOKEN": cfg.monoova_maccount_token,
        "MONOOVA_SOURCE_BSB": cfg.monoova_source_bsb,
        "MONOOVA_SOURCE_ACCOUNT_NUMBER": cfg.monoova_source_account_number,
        "MONOOVA_REMITTER_NAME": cfg.monoova_remitter_name,
        "MONOOVA_TIMEOUT_SECONDS": str(cfg.monoova_timeout_seconds),
        "MONOOVA_CREATE_BUDGET_SECONDS": str(cfg.monoova_create_budget_seconds),
        "MONOOVA_WEBHOOK_PUBLIC_KEYS": ",".join(cfg.monoova_webhook_public_keys),
        "BREAKER_MIN_VOLUME": str(cfg.breaker_min_volume),
        "BREAKER_FAILURE_RATIO": str(cfg.breaker_failure_ratio),
        "BREAKER_WINDOW_SECONDS": str(cfg.breaker_window_seconds),
        "BREAKER_OPEN_SECONDS": str(cfg.breaker_open_seconds),
        "TRANSACTION_RETENTION_DAYS": str(cfg.transaction_retention_days),
        "IDEMPOTENCY_TTL_HOURS": str(cfg.idempotency_ttl_hours),
        "RECONCILE_THRESHOLD_SECONDS": str(cfg.reconcile_threshold_minutes * 60),
        "STUCK_UNKNOWN_SECONDS": str(cfg.stuck_unknown_minutes * 60),
        "RECONCILE_BATCH_LIMIT": str(cfg.reconcile_batch_limit),
        "RETURN_CHECK_SECONDS": str(cfg.return_check_interval_minutes * 60),
        "RETURN_WINDOW_DAYS": str(cfg.npp_return_window_days),
        "RETURN_CHECK_BATCH_LIMIT": str(cfg.return_check_batch_limit),
        "REFUND_GRACE_SECONDS": str(cfg.refund_sweep_grace_minutes * 60),
        "REFUND_SWEEP_BATCH_LIMIT": str(cfg.refund_sweep_batch_limit),
    }


def common_env(cfg: PayoutsConfig) -> dict[str, str]:
    return {
        "POWERTOOLS_SERVICE_NAME": cfg.system,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": cfg.powertools_log_level,
        "ENVIRONMENT": cfg.env_name,
    }


def env_names(access: FunctionAccess) -> tuple[str, ...]:
    """Names of the function-specific variables, in a stable order."""
    names = (MONOOVA_ENV if access.monoova_client else ()) + access.extra_env
    return tuple(dict.fromkeys(names))
