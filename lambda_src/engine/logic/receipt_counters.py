"""Carry the receipt counters over to the Region that takes over after a failover.

Receipt numbers (`<branch>/<financial year>/<sequence>`) come from one counter per branch and
financial year in the Counters table, and that table is regional (engine.tables): the
Region that takes over starts with its own counters, empty or far behind. Left there, its
first capture for BR001 would be `BR001/2026-27/000001` again, a number a customer already
holds.

PostgreSQL (promoted in the new Region) holds every receipt the old Region's payments had
synced before the failure. For every branch and financial year it holds, the counter is
raised to at least its last sequence plus `gap`: the gap leaves room for receipts the old
Region issued whose rows had not reached PostgreSQL (stream lag, replication lag). A
counter is only ever raised, never lowered, so the carry-over can run again at any time (a
second run finds every counter at or above its floor and changes nothing), and a counter
already past its floor (captures since) keeps its value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from engine.dal.pg.receipts import IssuedSequence

logger = logging.getLogger(__name__)

DEFAULT_GAP = 1000


class ReceiptCounters(Protocol):
    def raise_receipt_sequence(
        self, branch_code: str, financial_year: str, floor: int, at: str
    ) -> bool:
        """True if raised to `floor`, False if it already stood there or above."""


@dataclass
class CarryOverSummary:
    counters_raised: int = 0
    counters_already_higher: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "counters_raised": self.counters_raised,
            "counters_already_higher": self.counters_already_higher,
        }


def floor_for(issued: IssuedSequence, gap: int) -> int:
    """The lowest value the counter may hold: the next number issued is above it."""
    return issued.last_sequence + gap


def carry_over(
    issued: Iterable[IssuedSequence], counters: ReceiptCounters, gap: int, at: str
) -> CarryOverSummary:
    """Raise each (branch, financial year) counter to its floor; what was already higher
    stays as it is. A write that stays throttled raises (`Conflict`): the run is not
    complete, and running it again is safe."""
    if gap < 0:
        raise ValueError("the receipt counter gap must not be negative")
    summary = CarryOverSummary()
    for sequence in issued:
        floor = floor_for(sequence, gap)
        raised = counters.raise_receipt_sequence(
            sequence.branch_code, sequence.financial_year, floor, at
        )
        if raised:
            summary.counters_raised += 1
        else:
            summary.counters_already_higher += 1
        logger.info(
            "receipt counter %s/%s: %s (floor %d)",
            sequence.branch_code,
            sequence.financial_year,
            "raised" if raised else "already at or above",
            floor,
        )
    return summary
