"""The payouts system's tables, declared once (see shared/tables.py)."""

from __future__ import annotations

from shared.tables import Index, Key, TableSpec

# Keyed by the Monoova uniqueReference itself (transaction_id == uniqueReference), so a
# webhook's UniqueReference addresses the item directly: no index query on that path.
TRANSACTIONS = TableSpec(
    logical_name="Transactions",
    partition_key=Key("transaction_id"),
    indexes=(
        Index("customer-created-index", Key("customer_id"), Key("created_at")),
        # Sparse: `open_status` exists only while a payout is Pending or UNKNOWN.
        Index("open-status-index", Key("open_status"), Key("created_at")),
        # Sparse: `due_work` (reconcile | return_check | refund, models/status.py) exists only
        # while a payout has follow-up work, and `due_at` says when it is next due. Each job
        # reads only what is due, soonest first, and pushes `due_at` on after each look, so a
        # stuck payout never keeps newer ones from being looked at; completed payouts leave
        # the index when their return window closes, refunded ones when they are credited.
        Index("due-work-index", Key("due_work"), Key("due_at")),
    ),
    ttl_attribute="expires_at",
    stream="NEW_AND_OLD_IMAGES",
    env_var="TRANSACTIONS_TABLE",
)

CUSTOMERS = TableSpec(
    logical_name="Customers",
    partition_key=Key("customer_id"),
    env_var="CUSTOMERS_TABLE",
)

# API idempotency keys and webhook dedupe ids, both with a TTL.
IDEMPOTENCY = TableSpec(
    logical_name="Idempotency",
    partition_key=Key("id"),
    ttl_attribute="expiration",
    env_var="IDEMPOTENCY_TABLE",
)

# Shared circuit-breaker state: one item per minute bucket plus a state item.
CIRCUIT_BREAKER = TableSpec(
    logical_name="CircuitBreaker",
    partition_key=Key("pk"),
    ttl_attribute="expiration",
    env_var="BREAKER_TABLE",
)

ALL_TABLES = (TRANSACTIONS, CUSTOMERS, IDEMPOTENCY, CIRCUIT_BREAKER)
