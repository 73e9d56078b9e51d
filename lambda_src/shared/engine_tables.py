"""The payments engine's DynamoDB tables, declared once (see shared/tables.py).

Here rather than in `engine/` for now: the runtime package `engine/` is being
written concurrently; when it settles these declarations can move next to it.
The CDK data stack, the moto fixtures and the local runner all read these.

Every table below is a global table where DR is enabled (a Singapore replica).
The idempotency and outbox tables, when they come, must stay single-Region per
processing Region: a conditional put on a global table is atomic only within one
Region, so two Regions could both "win" the same idempotency key (providers.md
§7.2 caveat). Declare them in a separate tuple that the data stack never replicates.
"""

from __future__ import annotations

from shared.tables import Index, Key, TableSpec

# Seed §6.3.1: one item per repayment transaction; the stream feeds the
# DynamoDB -> PostgreSQL sync (seed §6.4.1).
TRANSACTIONS = TableSpec(
    logical_name="Transactions",
    partition_key=Key("transaction_id"),
    indexes=(
        Index("LoanAccountIndex", Key("loan_account_number"), Key("created_date")),
        Index("StatusIndex", Key("status"), Key("created_date")),
    ),
    stream="NEW_AND_OLD_IMAGES",
    env_var="TRANSACTIONS_TABLE",
)

# Seed §6.3.2: work waiting for a retry, found by type and due time; expires by TTL.
TRANSACTION_QUEUE = TableSpec(
    logical_name="TransactionQueue",
    partition_key=Key("queue_id"),
    indexes=(Index("RetryIndex", Key("queue_type"), Key("retry_timestamp", "N")),),
    ttl_attribute="ttl",
    env_var="TRANSACTION_QUEUE_TABLE",
)

# Customer-portal sessions (replaces the seed's ElastiCache session store).
SESSIONS = TableSpec(
    logical_name="Sessions",
    partition_key=Key("session_id"),
    ttl_attribute="expires_at",
    env_var="SESSIONS_TABLE",
)

# Append-only audit trail per entity, and by actor for "what did this user do".
AUDIT = TableSpec(
    logical_name="Audit",
    partition_key=Key("entity_id"),
    sort_key=Key("event_at"),
    indexes=(Index("ActorIndex", Key("actor_id"), Key("event_at")),),
    env_var="AUDIT_TABLE",
)

# Customer notifications (SMS, e-mail, push), per recipient, expiring.
NOTIFICATIONS = TableSpec(
    logical_name="Notifications",
    partition_key=Key("notification_id"),
    indexes=(Index("RecipientIndex", Key("recipient_id"), Key("created_at")),),
    ttl_attribute="expires_at",
    env_var="NOTIFICATIONS_TABLE",
)

# Replicated to the DR Region where DR is enabled.
GLOBAL_TABLES: tuple[TableSpec, ...] = (
    TRANSACTIONS,
    TRANSACTION_QUEUE,
    SESSIONS,
    AUDIT,
    NOTIFICATIONS,
)
