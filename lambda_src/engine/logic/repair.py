"""Re-sync the Transactions items PostgreSQL is missing or holds at a lower version.

The stream can lose a batch: its retries spent, the positions go to TransactionsSyncDLQ and
the records age out of the stream after 24 hours. The table itself still holds every
payment's latest state, so comparing it with PostgreSQL finds what was lost, and applying
it through the same unit of work as the stream (version-guarded, exactly once) repairs it;
a stream record arriving late afterwards changes nothing.

Two ways in. `run` compares a window of recent payments (the StatusIndex by creation time),
which finds a lost batch of anything created in it. `drain` reads TransactionsSyncDLQ: each
message names a lost batch's stream positions, and the transactions there are re-read from
the table as they are now, however old they are (a refund of a months-old payment).

Items changed in the last SETTLE_SECONDS are left to the stream by `run`, which is most likely
still applying them: repairing them would be harmless but would count normal lag as repairs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.dal.ddb.sync_dead_letters import DeadLetter, PositionsGone
from engine.dal.pg.payments import PaymentRow
from engine.logic.sync import STATUSES, MalformedRecord, StreamSync, row_from_item

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 300
# Stop starting pages with less than this left, so the run ends with its report, not a timeout.
MARGIN_SECONDS = 30.0

Pages = Callable[[str, str, str], Iterator[list[dict[str, Any]]]]  # status, since, until
Versions = Callable[[Sequence[str]], dict[str, int]]
# Compares after every ISO-8601 time: dead-lettered transactions are repaired however recent.
ANY_TIME = "9999"


class DeadLetters(Protocol):
    def receive(self) -> list[DeadLetter]: ...
    def delete(self, letter: DeadLetter) -> None: ...
    def transaction_ids(self, letter: DeadLetter) -> list[str]: ...
    def current_items(self, transaction_ids: list[str]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Window:
    since: str  # created_date bounds, ISO-8601 UTC
    until: str
    settled_before: str  # only items last updated before this


@dataclass
class RepairReport:
    examined: int = 0
    repaired: int = 0
    failed: list[str] = field(default_factory=list)  # transaction ids that could not be synced
    complete: bool = True
    dead_letters: int = 0  # DLQ messages resolved (and deleted)


class Repairer:
    def __init__(self, pages: Pages, versions: Versions, sync: StreamSync) -> None:
        self._pages = pages
        self._versions = versions
        self._sync = sync

    def run(self, window: Window, seconds_left: Callable[[], float], report: RepairReport) -> None:
        for status in sorted(STATUSES):
            for page in self._pages(status, window.since, window.until):
                self.repair(page, window.settled_before, report)
                if seconds_left() < MARGIN_SECONDS:
                    report.complete = False
                    return

    def drain(
        self, letters: DeadLetters, report: RepairReport, seconds_left: Callable[[], float]
    ) -> None:
        """Repair what each dead-lettered batch named; delete a message once all of it is in
        PostgreSQL. One left (a failure) comes back after its visibility timeout."""
        while seconds_left() >= MARGIN_SECONDS:
            batch = letters.receive()
            if not batch:
                return
            for letter in batch:
                self._repair_letter(letters, letter, report)
        report.complete = False

    def _repair_letter(
        self, letters: DeadLetters, letter: DeadLetter, report: RepairReport
    ) -> None:
        try:
            ids = letters.transaction_ids(letter)
        except PositionsGone as exc:
            # Only the window comparison (or a run with a wider window) can cover these now.
            logger.error("dead-lettered stream positions unreadable: %s", exc)
            report.failed.append(f"positions-gone:{exc}")
            letters.delete(letter)
            return
        failed_before = len(report.failed)
        self.repair(letters.current_items(ids), ANY_TIME, report)
        if len(report.failed) == failed_before:
            letters.delete(letter)
            report.dead_letters += 1

    def repair(
        self, items: Iterable[Mapping[str, Any]], settled_before: str, report: RepairReport
    ) -> None:
        """Compare one page of items with PostgreSQL and sync those behind."""
        rows = self._rows([i for i in items if _settled(i, settled_before)], report)
        if not rows:
            return
        report.examined += len(rows)
        stored = self._versions([row.transaction_id for row in rows])
        behind = [row for row in rows if stored.get(row.transaction_id, 0) < row.version]
        if not behind:
            return
        synced = self._sync.apply_rows(behind)
        report.failed += synced.failed
        report.repaired += len(behind) - len(synced.failed)
        for row in behind:
            if row.transaction_id not in synced.failed:
                logger.warning(
                    "transaction re-synced",
                    extra={
                        "transaction_id": row.transaction_id,
                        "version": row.version,
                        "postgres_version": stored.get(row.transaction_id),
                    },
                )

    @staticmethod
    def _rows(items: Iterable[Mapping[str, Any]], report: RepairReport) -> list[PaymentRow]:
        rows = []
        for item in items:
            try:
                rows.append(row_from_item(item))
            except MalformedRecord as exc:
                transaction_id = str(item.get("transaction_id", ""))
                logger.error(
                    "unreadable transaction: %s", exc, extra={"transaction_id": transaction_id}
                )
                report.failed.append(transaction_id)
        return rows


def _settled(item: Mapping[str, Any], settled_before: str) -> bool:
    changed = item.get("updated_at") or item.get("created_date")
    return not isinstance(changed, str) or changed < settled_before
