"""How an audit record takes its place in its chain and is hashed: pure, shared by the store
that writes records (engine.dal.ddb.audit) and the rules that check them (engine.logic.audit).

There is one chain per IST calendar date and branch (`"{date}#{branch or HO}"`). A record's
hash is the SHA-256 (hex) of the previous record's hash (64 zeros for the first), a newline,
and the record's canonical JSON without its own hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from engine.models.audit import GENESIS_HASH, HEAD_OFFICE, AuditEntry, AuditRecord

IST = timezone(timedelta(hours=5, minutes=30))


def chain_date(at: str) -> str:
    """The IST calendar date of an ISO-8601 UTC moment."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(IST).date().isoformat()


def chain_branch(branch_code: str | None) -> str:
    return branch_code or HEAD_OFFICE


def chain_id_of(entry: AuditEntry) -> str:
    return f"{chain_date(entry.at)}#{chain_branch(entry.branch_code)}"


def canonical_json(values: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 as written, a Decimal as its string: the same record
    gives the same text whichever process wrote or reads it."""
    return json.dumps(
        values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_as_text
    )


def record_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    text = prev_hash + "\n" + canonical_json(fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Head:
    """Where a chain ends: its last seq (0 for a chain not yet begun) and that record's hash."""

    seq: int = 0
    hash: str = GENESIS_HASH


def next_record(entry: AuditEntry, head: Head, nonce: str) -> AuditRecord:
    """The record that follows `head`; `nonce` (8 hex) keeps two records of one entity in
    one millisecond apart."""
    date = chain_date(entry.at)
    branch = chain_branch(entry.branch_code)
    seq = head.seq + 1
    unhashed = AuditRecord(
        entity_id=entry.entity_id,
        event_at=f"{entry.at}#{nonce}",
        entity_type=entry.entity_type,
        action=entry.action,
        actor_id=entry.actor_id,
        actor_username=entry.actor_username,
        branch_code=entry.branch_code,
        details=entry.details,
        chain_id=f"{date}#{branch}",
        chain_date=date,
        chain_pos=f"{branch}#{seq:012d}",
        seq=seq,
        prev_hash=head.hash,
        hash="",
    )
    return replace(unhashed, hash=record_hash(head.hash, unhashed.hashed_fields()))


def _as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")
