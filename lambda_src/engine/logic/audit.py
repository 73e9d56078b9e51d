"""The audit trail's hash chains checked: `verify` recomputes a day's chains and names the
first broken link. No AWS here (engine.dal.ddb.audit stores, engine.clients.anchors anchors);
how a record is placed and hashed is engine.models.audit_chain's, re-exported here.

There is one chain per IST calendar date and branch (`"{date}#{branch or HO}"`): branches
append at once without contending for one head, and a day's chains are read by one query.
Each record's hash covers the previous record's hash and the canonical JSON of the record
itself, so an edited record no longer matches its own hash, and a removed one leaves a gap
in `seq` or a `prev_hash` pointing at nothing. Removing the newest records leaves neither:
the chain's head is also written outside the table (an anchor, under S3 Object Lock), and a
table that ends before its anchor has lost records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.models.audit import GENESIS_HASH, Anchor, AuditRecord
from engine.models.audit_chain import (
    Head,
    canonical_json,
    chain_branch,
    chain_date,
    chain_id_of,
    next_record,
    record_hash,
)

__all__ = [
    "Break",
    "ChainReport",
    "Head",
    "Verdict",
    "canonical_json",
    "chain_branch",
    "chain_date",
    "chain_id_of",
    "next_record",
    "record_hash",
    "verify",
]


# ---------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain; `entity_id`/`event_at` name the record, when one is
    there to name (a missing seq has none)."""

    chain_id: str
    seq: int
    problem: str
    entity_id: str | None = None
    event_at: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "seq": self.seq,
            "problem": self.problem,
            "entity_id": self.entity_id,
            "event_at": self.event_at,
        }


@dataclass(frozen=True)
class ChainReport:
    chain_id: str
    records: int
    head_seq: int  # the highest seq in the table (0: none)
    anchored_seq: int | None  # None: no anchor was found
    first_broken: Break | None

    @property
    def ok(self) -> bool:
        return self.first_broken is None

    def view(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "anchored_seq": self.anchored_seq,
            "first_broken": self.first_broken.view() if self.first_broken else None,
        }


@dataclass(frozen=True)
class Verdict:
    date: str
    chains: tuple[ChainReport, ...]

    @property
    def first_broken(self) -> Break | None:
        return next((c.first_broken for c in self.chains if c.first_broken), None)

    @property
    def ok(self) -> bool:
        return self.first_broken is None

    def view(self) -> dict[str, Any]:
        broken = self.first_broken
        return {
            "date": self.date,
            "ok": self.ok,
            "chains": [c.view() for c in self.chains],
            "first_broken": broken.view() if broken else None,
        }


def verify(date: str, records: Iterable[AuditRecord], anchors: Mapping[str, Anchor]) -> Verdict:
    """Every chain of `date` that the table or the anchors know of, recomputed."""
    by_chain: dict[str, list[AuditRecord]] = {}
    for record in records:
        by_chain.setdefault(record.chain_id, []).append(record)
    chain_ids = sorted(set(by_chain) | set(anchors))
    return Verdict(
        date, tuple(_verify_chain(c, by_chain.get(c, []), anchors.get(c)) for c in chain_ids)
    )


def _verify_chain(chain_id: str, records: list[AuditRecord], anchor: Anchor | None) -> ChainReport:
    ordered = sorted(records, key=lambda r: r.seq)
    broken, hashes = _walk(chain_id, ordered)
    if broken is None and anchor is not None:
        broken = _against_anchor(chain_id, hashes, anchor)
    return ChainReport(
        chain_id,
        records=len(ordered),
        head_seq=ordered[-1].seq if ordered else 0,
        anchored_seq=anchor.seq if anchor else None,
        first_broken=broken,
    )


def _walk(chain_id: str, ordered: list[AuditRecord]) -> tuple[Break | None, dict[int, str]]:
    """The first broken link from seq 1 on, and the stored hash of each seq walked."""
    hashes: dict[int, str] = {}
    prev_hash = GENESIS_HASH
    for expected, record in enumerate(ordered, start=1):
        if record.seq != expected:
            problem = (
                f"duplicate seq {record.seq}"
                if record.seq < expected
                else f"missing seq {expected}"
            )
            where = record if record.seq < expected else None
            return _break(chain_id, record.seq if where else expected, problem, where), hashes
        if record.hash != record_hash(record.prev_hash, record.hashed_fields()):
            return _break(chain_id, expected, "hash mismatch", record), hashes
        if record.prev_hash != prev_hash:
            return _break(chain_id, expected, "prev_hash mismatch", record), hashes
        hashes[expected] = prev_hash = record.hash
    return None, hashes


def _against_anchor(chain_id: str, hashes: dict[int, str], anchor: Anchor) -> Break | None:
    last = max(hashes, default=0)
    if anchor.seq > last:
        problem = (
            f"anchored at seq {anchor.seq} hash {anchor.hash} but the table ends at seq {last}"
        )
        return Break(chain_id, last + 1, problem)
    if anchor.seq > 0 and hashes[anchor.seq] != anchor.hash:
        problem = (
            f"anchored at seq {anchor.seq} hash {anchor.hash} "
            f"but the table has hash {hashes[anchor.seq]}"
        )
        return Break(chain_id, anchor.seq, problem)
    return None


def _break(chain_id: str, seq: int, problem: str, record: AuditRecord | None) -> Break:
    if record is None:
        return Break(chain_id, seq, problem)
    return Break(chain_id, seq, problem, record.entity_id, record.event_at)
