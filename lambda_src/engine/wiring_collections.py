"""Builds the staff collections' service from settings (engine.wiring builds the shared parts).

Nothing is cached here: the database connection, boto3 clients and settings are cached by
engine.wiring and shared.aws, so `engine.wiring.reset()` forgets all of it. Every invocation
of InternalCollections reads PostgreSQL (the caller's users row), so its stores are imported
with it.
"""

from __future__ import annotations

from decimal import Decimal

from engine import settings, wiring, wiring_audit, wiring_payments
from engine.dal.ddb.collections import CollectionRecords
from engine.dal.ddb.queue import QueueStore
from engine.dal.pg.collections import CollectionLedger
from engine.logic.collections import CollectionService, Limits
from engine.models.audit import AuditEntry
from engine.models.collections import Collection


def ledger() -> CollectionLedger:
    return CollectionLedger(wiring.database())


def records() -> CollectionRecords:
    config = settings.get()
    return CollectionRecords(
        wiring.dynamodb(),
        settings.require("TRANSACTIONS_TABLE", config.transactions_table),
        counters=wiring_payments.counters(),
        queue=QueueStore(
            settings.require("TRANSACTION_QUEUE_TABLE", config.transaction_queue_table)
        ),
        audit=wiring_audit.audit_log(),
    )


def limits() -> Limits:
    config = settings.get()
    return Limits(
        cash_per_payer_per_day=config.cash_limit_per_payer_per_day,
        max_age_days=config.collection_max_age_days,
    )


class _Records:
    """The DynamoDB stores, built on first use: the repair job asks the ledger on every run,
    and builds them (and needs their tables) only when something is left to complete."""

    def record(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        return records().record(collection, entry, now_epoch)

    def record_cancel(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        return records().record_cancel(collection, entry, now_epoch)


class _Counters:
    def next_receipt_sequence(self, branch_code: str, financial_year: str) -> int:
        return wiring_payments.counters().next_receipt_sequence(branch_code, financial_year)

    def captured(self, loan_account_number: str) -> Decimal:
        return wiring_payments.counters().captured(loan_account_number)


def service() -> CollectionService:
    return CollectionService(ledger(), _Records(), _Counters(), limits())
