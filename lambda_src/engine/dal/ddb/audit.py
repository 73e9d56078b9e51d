"""The audit trail in the Audit table: each action appended to its day's and branch's hash
chain (engine.logic.audit), alone or in the action's own transaction, and read back.

A chain's head is an item of the table (`chain#{chain_id}` / `head`: seq and hash). An append
reads it, builds the next record, and writes, in one TransactWriteItems, the caller's items,
the head moved on from the seq it read, and the record: so no action is written without its
record, no record without its action, and two appends never take one seq. When another append
moved the head first, the head is read again and the append tried again (bounded). The
Audit table is global, and a condition holds within one Region only: the chains are written
where the engine processes (one Region at a time); a record written in both Regions at once
for one chain would show in verify as a duplicate seq.

After the write the new head is anchored outside the table (engine.clients.anchors). An anchor
write that fails is logged and does not fail the action, which is recorded: the chain's next
append anchors again, and verification reads the highest anchored seq, so a late or lost
anchor only shortens what deletion can be detected for until then.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from engine.models.audit import HEAD_OFFICE, Anchor, AuditEntry, AuditRecord
from engine.models.audit_chain import Head, chain_branch, chain_id_of, next_record
from shared import cursors, ddb, ddb_writes
from shared.ddb_writes import DEFAULT_RETRY, Cancelled, Retry
from shared.store_errors import Conflict

CHAIN_INDEX = "ChainIndex"
ACTOR_INDEX = "ActorIndex"
HEAD_SORT_KEY = "head"
# Heads taken by other appends before ours gets in; then Conflict.
APPEND_ATTEMPTS = 8

logger = logging.getLogger(__name__)


class Anchors(Protocol):
    def put(self, anchor: Anchor) -> None: ...


def head_key(chain_id: str) -> dict[str, str]:
    return {"entity_id": f"chain#{chain_id}", "event_at": HEAD_SORT_KEY}


@dataclass(frozen=True)
class Page:
    records: list[AuditRecord]
    cursor: str | None


class AuditLog:
    def __init__(
        self,
        client: Any,
        table: str,
        anchors: Anchors | None = None,
        retry: Retry = DEFAULT_RETRY,
        attempts: int = APPEND_ATTEMPTS,
    ) -> None:
        self.client = client
        self.table = table
        self.anchors = anchors
        self.retry = retry
        self.attempts = attempts

    def append(self, entry: AuditEntry) -> AuditRecord:
        """`entry` as the next record of its chain."""
        return self.transact(entry, [])

    def transact(self, entry: AuditEntry, items: list[dict[str, Any]]) -> AuditRecord:
        """`items` (TransactWriteItems entries, at most 98) and `entry`'s record, written
        together. A false condition on one of `items` raises `Cancelled` with their indexes
        (nothing written, no record); `Conflict` when the head stayed contended."""
        if len(items) > 98:
            raise ValueError("a transaction holds 100 items; the audit trail takes 2")
        chain_id = chain_id_of(entry)
        for attempt in range(self.attempts):
            record = next_record(entry, self._head(chain_id), secrets.token_hex(4))
            try:
                ddb_writes.transact(
                    self.client,
                    [*items, self._head_op(record), self._record_op(record)],
                    self.retry,
                )
            except Cancelled as cancelled:
                mine = tuple(i for i in cancelled.failed if i < len(items))
                if mine:
                    raise Cancelled(mine, cancelled.items) from None
            except Conflict:
                pass
            else:
                self._anchor(record)
                return record
            if attempt + 1 < self.attempts:
                self.retry.pause(min(attempt, 3))
        raise Conflict(f"audit chain {chain_id} still contended after {self.attempts} attempts")

    # ------------------------------------------------------------------ reads

    def head(self, chain_id: str) -> Head:
        return self._head(chain_id)

    def on_date(self, date: str) -> Iterator[AuditRecord]:
        """Every record of every chain of `date` (ChainIndex), chain by chain, in seq order."""
        request = {
            "TableName": self.table,
            "IndexName": CHAIN_INDEX,
            "KeyConditionExpression": "chain_date = :d",
            "ExpressionAttributeValues": ddb.values({":d": date}),
        }
        for page in self.client.get_paginator("query").paginate(**request):
            for item in page.get("Items", []):
                yield AuditRecord.from_plain(ddb.from_item(item) or {})

    def page(
        self,
        by: str,
        value: str,
        limit: int,
        *,
        cursor: str | None = None,
        action: str | None = None,
        branch_code: str | None = None,
    ) -> Page:
        """One page of records whose `by` ("date", "entity_id" or "actor_id") is `value`, of
        one `action` or one branch (HO: head office) if asked. A day's branch is a key range
        of ChainIndex; any other filter reads the same pages, so fewer than `limit` may come
        back (the cursor goes on from where the read stopped)."""
        index, key, sort, oldest_first = _QUERIES[by]
        condition = "#k = :k"
        names = {"#k": key}
        values: dict[str, Any] = {":k": value}
        filters = []
        if branch_code and by == "date":
            condition += " AND begins_with(chain_pos, :b)"
            values[":b"] = f"{chain_branch(branch_code)}#"
        elif branch_code == HEAD_OFFICE:
            filters.append("attribute_not_exists(branch_code)")
        elif branch_code:
            filters.append("branch_code = :b")
            values[":b"] = branch_code
        if action:
            filters.append("#a = :a")
            names["#a"], values[":a"] = "action", action
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": ddb.values(values),
            "Limit": limit,
            "ScanIndexForward": oldest_first,
        }
        if index:
            request["IndexName"] = index
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        page_keys = tuple(dict.fromkeys((key, sort, "entity_id", "event_at")))
        if cursor:
            start = cursors.decode(cursor, page_keys, (key, value), by)
            request["ExclusiveStartKey"] = ddb.to_item(start)
        response = self.client.query(**request)
        records = [
            AuditRecord.from_plain(ddb.from_item(i) or {})
            for i in response.get("Items", [])
            if "chain_id" in i  # not a chain's head
        ]
        last = ddb.from_item(response.get("LastEvaluatedKey"))
        return Page(records, cursors.encode(last, page_keys) if last else None)

    # ------------------------------------------------------------------ helpers

    def _head(self, chain_id: str) -> Head:
        response = self.client.get_item(
            TableName=self.table, Key=ddb.to_item(head_key(chain_id)), ConsistentRead=True
        )
        item = ddb.from_item(response.get("Item"))
        return Head(int(item["seq"]), str(item["hash"])) if item else Head()

    def _head_op(self, record: AuditRecord) -> dict[str, Any]:
        values: dict[str, Any] = {":seq": record.seq, ":hash": record.hash, ":at": record.at}
        if record.seq == 1:
            condition = "attribute_not_exists(entity_id)"
        else:
            condition = "#seq = :expected"
            values[":expected"] = record.seq - 1
        return {
            "Update": {
                "TableName": self.table,
                "Key": ddb.to_item(head_key(record.chain_id)),
                "UpdateExpression": "SET #seq = :seq, #hash = :hash, updated_at = :at",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#seq": "seq", "#hash": "hash"},
                "ExpressionAttributeValues": ddb.values(values),
            }
        }

    def _record_op(self, record: AuditRecord) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": ddb.to_item(record.to_plain()),
                "ConditionExpression": "attribute_not_exists(entity_id)",
            }
        }

    def _anchor(self, record: AuditRecord) -> None:
        if self.anchors is None:
            return
        try:
            self.anchors.put(Anchor(record.chain_id, record.seq, record.hash, record.at))
        except Exception as exc:  # the action is recorded; the next append re-anchors
            logger.warning(
                "audit anchor not written",
                extra={"chain_id": record.chain_id, "seq": record.seq, "error": type(exc).__name__},
            )


# by -> (index, partition key, sort key, oldest first?)
_QUERIES: dict[str, tuple[str | None, str, str, bool]] = {
    "date": (CHAIN_INDEX, "chain_date", "chain_pos", True),
    "entity_id": (None, "entity_id", "event_at", True),
    "actor_id": (ACTOR_INDEX, "actor_id", "event_at", False),
}
