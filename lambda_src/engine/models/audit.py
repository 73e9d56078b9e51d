"""The audit trail's shapes: who did what to which entity (an entry), and the entry as the
hash chain stores it (a record).

Every non-read internal action is appended through `engine.wiring_audit.audit_log()`:
`append(entry)` alone, or `transact(entry, items)` joined to the action's own DynamoDB writes.
`details` must be JSON-able and carry no PII (no names, no mobiles): it is kept for years
and shown to auditors. Money goes in as Decimal and is kept as its string ("2500.00"), so a
record reads back exactly as it was hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

# The chain of actions that belong to no branch (LMS interventions, role changes).
HEAD_OFFICE = "HO"
GENESIS_HASH = "0" * 64

# GET /api/v1/audit's query parameters (engine.handlers.internal.audit).
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
ENTITY_ID = r"[^\x00-\x1f\x7f]{1,256}"
ACTOR_ID = r"[A-Za-z0-9._:@-]{1,128}"
ACTION = r"[A-Z][A-Z0-9_]{1,63}"
BRANCH_CODE = r"[A-Za-z0-9_-]{1,20}"  # users.branch_code is VARCHAR(20); HO: head office
LIST_LIMIT_MAX = 100
LIST_LIMIT_DEFAULT = 50


@dataclass(frozen=True)
class Actor:
    """A staff member as the authorizer named them."""

    user_id: str
    email: str | None = None
    username: str | None = None
    branch_code: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One action to be recorded; `at` is ISO-8601 UTC (shared.clock.iso)."""

    action: str  # e.g. "LMS_RETRY", "COLLECTION_CREATED", "ROLE_CHANGED"
    entity_type: str
    entity_id: str
    actor_id: str
    actor_username: str | None
    branch_code: str | None  # None: head office
    at: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("action", "entity_type", "entity_id", "actor_id", "at"):
            if not getattr(self, name):
                raise ValueError(f"an audit entry needs {name}")
        if self.entity_id.startswith("chain#"):
            raise ValueError("entity ids starting chain# are the chains' own")
        object.__setattr__(self, "details", jsonable(self.details))

    @classmethod
    def by(
        cls,
        actor: Actor,
        action: str,
        entity_type: str,
        entity_id: str,
        *,
        at: str,
        details: dict[str, Any] | None = None,
        branch_code: str | None = None,
    ) -> AuditEntry:
        """An entry by `actor`; `branch_code` is the entity's branch (None: head office),
        not the actor's."""
        return cls(
            action,
            entity_type,
            entity_id,
            actor.user_id,
            actor.username,
            branch_code,
            at,
            details or {},
        )


@dataclass(frozen=True)
class AuditRecord:
    """An entry as the chain stores it: its place in the chain (`chain_id`, `seq`) and the
    hash of `prev_hash` + this record's canonical JSON (engine.logic.audit)."""

    entity_id: str
    event_at: str  # "{at}#{8 hex}": unique even for two actions in one millisecond
    entity_type: str
    action: str
    actor_id: str
    actor_username: str | None
    branch_code: str | None
    details: dict[str, Any]
    chain_id: str  # "{IST date}#{branch or HO}"
    chain_date: str
    chain_pos: str  # "{branch or HO}#{seq:012d}"
    seq: int
    prev_hash: str
    hash: str

    @property
    def at(self) -> str:
        return self.event_at.rsplit("#", 1)[0]

    def hashed_fields(self) -> dict[str, Any]:
        """What the hash covers: every attribute but `hash`, absent ones left out (DynamoDB
        keeps no empty attribute, so a None must hash as it reads back)."""
        values = {
            "entity_id": self.entity_id,
            "event_at": self.event_at,
            "entity_type": self.entity_type,
            "action": self.action,
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "branch_code": self.branch_code,
            "details": self.details,
            "chain_id": self.chain_id,
            "chain_date": self.chain_date,
            "chain_pos": self.chain_pos,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
        }
        return {k: v for k, v in values.items() if v is not None}

    def to_plain(self) -> dict[str, Any]:
        return self.hashed_fields() | {"hash": self.hash}

    @classmethod
    def from_plain(cls, values: dict[str, Any]) -> AuditRecord:
        """From a stored item's plain values (numbers come back as Decimal)."""
        return cls(
            entity_id=str(values["entity_id"]),
            event_at=str(values["event_at"]),
            entity_type=str(values.get("entity_type", "")),
            action=str(values.get("action", "")),
            actor_id=str(values.get("actor_id", "")),
            actor_username=_text_or_none(values.get("actor_username")),
            branch_code=_text_or_none(values.get("branch_code")),
            details=jsonable(values.get("details") or {}, stored=True),
            chain_id=str(values.get("chain_id", "")),
            chain_date=str(values.get("chain_date", "")),
            chain_pos=str(values.get("chain_pos", "")),
            seq=int(values.get("seq", 0)),
            prev_hash=str(values.get("prev_hash", "")),
            hash=str(values.get("hash", "")),
        )

    def view(self) -> dict[str, Any]:
        """The API's view of a record."""
        return {
            "entity_id": self.entity_id,
            "event_at": self.event_at,
            "at": self.at,
            "entity_type": self.entity_type,
            "action": self.action,
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "branch_code": self.branch_code,
            "details": self.details,
            "chain_id": self.chain_id,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Anchor:
    """A chain's head as written outside the table (engine.clients.anchors)."""

    chain_id: str
    seq: int
    hash: str
    at: str


class AuditSink(Protocol):
    """What a rule needs of the audit trail (unit tests pass a recorder)."""

    def append(self, entry: AuditEntry) -> AuditRecord: ...


def jsonable(value: Any, *, stored: bool = False) -> Any:
    """`value` as the chain keeps it: a Decimal as its string ("2500.00"), containers copied;
    floats, sets and other types refused, since they would not read back as they were hashed.

    `stored`: the value came back from DynamoDB, which hands back every stored number as a
    Decimal; only ints were stored as numbers, so an integral one is the int it was.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Decimal):
        if stored and value.is_finite() and value == value.to_integral_value():
            return int(value)
        return str(value)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("audit details keys must be strings")
        return {k: jsonable(v, stored=stored) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, stored=stored) for v in value]
    raise TypeError(f"audit details cannot hold {type(value).__name__}")


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
