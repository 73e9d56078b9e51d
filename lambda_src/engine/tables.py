"""The payments engine's DynamoDB tables, declared once (see shared/tables.py).

The CDK data stack, the moto fixtures, the local runner and the tests all read these.

GLOBAL_TABLES get a Singapore replica where DR is enabled. REGIONAL_TABLES never do: a
conditional write on a global table is atomic only within one Region (replication is
asynchronous), so two Regions could both "win" the same idempotency key, receipt number or
outbox item. Each Region that processes keeps its own copy of those.
"""

from __future__ import annotations

from shared.tables import Index, Key, TableSpec

# One item per repayment; its stream keeps PostgreSQL's payments table and loan balances
# in step (engine.handlers.consumers.transactions_stream).
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

# The outbox: work for another system (LMS receipt posting, ...), found by type and due
# time; expires by TTL. Regional: an item is claimed by a conditional write. RetryIndex is
# sparse: only live items (pending or claimed) have a retry_timestamp. The stream hands each
# new item to its poster at once (engine.handlers.consumers.lms_poster).
TRANSACTION_QUEUE = TableSpec(
    logical_name="TransactionQueue",
    partition_key=Key("queue_id"),
    indexes=(
        Index("RetryIndex", Key("queue_type"), Key("retry_timestamp", "N")),
        # The manual-intervention list: items by status, oldest first.
        Index("StatusIndex", Key("status"), Key("created_at")),
    ),
    ttl_attribute="ttl",
    stream="NEW_IMAGE",
    env_var="TRANSACTION_QUEUE_TABLE",
)

# Customer-portal sessions (replaces the seed's ElastiCache session store).
SESSIONS = TableSpec(
    logical_name="Sessions",
    partition_key=Key("session_id"),
    ttl_attribute="expires_at",
    env_var="SESSIONS_TABLE",
)

# Append-only audit trail per entity, by actor for "what did this user do", and by day:
# ChainIndex holds each day's hash chains (one per branch, `chain_pos` = "{branch}#{seq}"),
# so one query reads them in order (engine.dal.ddb.audit). The chains' head items carry
# neither index's keys.
AUDIT = TableSpec(
    logical_name="Audit",
    partition_key=Key("entity_id"),
    sort_key=Key("event_at"),
    indexes=(
        Index("ActorIndex", Key("actor_id"), Key("event_at")),
        Index("ChainIndex", Key("chain_date"), Key("chain_pos")),
    ),
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

# API idempotency keys (the first answer, replayed) and webhook event ids, with a TTL.
IDEMPOTENCY = TableSpec(
    logical_name="Idempotency",
    partition_key=Key("id"),
    ttl_attribute="expires_at",
    env_var="IDEMPOTENCY_TABLE",
)

# Atomic counters: receipt numbers per branch and financial year (`receipt#BR001#2026-27`)
# and each loan's captured-not-yet-synced total (`loan#<account>`), both by ADD.
COUNTERS = TableSpec(
    logical_name="Counters",
    partition_key=Key("counter_id"),
    # Only the LMS circuit breaker's minute buckets (`lms#bucket#<minute>`) carry it: the
    # counters themselves never expire.
    ttl_attribute="expires_at",
    env_var="COUNTERS_TABLE",
)

# Replicated to the DR Region where DR is enabled.
GLOBAL_TABLES: tuple[TableSpec, ...] = (TRANSACTIONS, SESSIONS, AUDIT, NOTIFICATIONS)

# One copy per processing Region, never replicated (see the module docstring).
REGIONAL_TABLES: tuple[TableSpec, ...] = (TRANSACTION_QUEUE, IDEMPOTENCY, COUNTERS)

ALL_TABLES: tuple[TableSpec, ...] = GLOBAL_TABLES + REGIONAL_TABLES
