"""What both systems' access declarations share: DynamoDB actions as IAM spells them, and a
grant of some of them on one table (and, for Query, on some of its indexes).

Each system's `access` module declares its functions' grants with these, and its service
stack turns them into IAM statements.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.tables import TableSpec

GET = "dynamodb:GetItem"
BATCH_GET = "dynamodb:BatchGetItem"
PUT = "dynamodb:PutItem"
UPDATE = "dynamodb:UpdateItem"
QUERY = "dynamodb:Query"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"


@dataclass(frozen=True)
class TableGrant:
    table: TableSpec
    actions: tuple[str, ...]
    query_indexes: tuple[str, ...] = ()
