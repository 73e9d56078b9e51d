"""What the collection tests share: a request body, and fakes of the DynamoDB side and the
counters for tests whose subject is PostgreSQL or the rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.models.audit import AuditEntry
from engine.models.collections import COLLECT, Collection, CollectRequest
from shared.store_errors import Conflict as StoreConflict


def body(**changes: Any) -> CollectRequest:
    document: dict[str, Any] = {
        "loan_account_number": "LN0000000001",
        "amount": "500.00",
        "mode": "CASH",
        "purpose": "EMI",
        "collected_at": "2026-12-03T11:40:00+05:30",
    }
    document.update(changes)
    return COLLECT.parse(json.dumps(document))


@dataclass
class FakeRecords:
    written: list[tuple[str, Collection, AuditEntry]] = field(default_factory=list)
    failing: int = 0  # how many next writes fail as DynamoDB busy

    def record(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        return self._write("capture", collection, entry)

    def record_cancel(self, collection: Collection, entry: AuditEntry, now_epoch: int) -> bool:
        return self._write("cancel", collection, entry)

    def _write(self, kind: str, collection: Collection, entry: AuditEntry) -> bool:
        if self.failing:
            self.failing -= 1
            raise StoreConflict("busy")
        self.written.append((kind, collection, entry))
        return True


@dataclass
class FakeCounters:
    captured_total: Decimal = Decimal(0)
    sequence: int = 0

    def next_receipt_sequence(self, branch_code: str, financial_year: str) -> int:
        self.sequence += 1
        return self.sequence

    def captured(self, loan_account_number: str) -> Decimal:
        return self.captured_total
