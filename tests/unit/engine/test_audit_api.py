"""GET /api/v1/audit and /api/v1/audit/verify through their handler on moto (DynamoDB, and
S3 with Object Lock for the anchors): head office and finance list records by day, entity or
actor with filters and pages; no listing without a key; other roles and leavers are refused;
verify answers the day's chains and names the first broken link after an edit or the newest
record's deletion."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from engine import settings, wiring, wiring_audit
from engine.models.audit import Actor, AuditEntry, AuditRecord
from engine.models.staff import StaffUser
from engine.tables import AUDIT
from local.events import rest_event
from shared import ddb
from tests.support import ApiResponse, invoke
from tests.unit.conftest import REGION

BUCKET = "fivestar-audit-anchors-unit"
DAY = "2027-01-15"
LIST, VERIFY = "/api/v1/audit", "/api/v1/audit/verify"


def staff(n: int, username: str, role: str, branch: str | None, active: bool = True) -> StaffUser:
    user_id = f"3f0c1b9e-0000-4000-8000-00000000000{n}"
    return StaffUser(user_id, username, f"{username}@example.com", branch, active, role)


ADMIN = staff(1, "admin.one", "Admin", None)
FINANCE = staff(2, "finance.two", "FinanceTeam", None)
MANAGER = staff(3, "manager.three", "BranchManager", "BR001")
LEFT = staff(4, "admin.left", "Admin", None, active=False)
CASHIER = staff(5, "cashier.five", "BranchCashier", "BR001")


@dataclass
class Api:
    handler: Any
    dynamodb: Any

    def get(self, resource: str, query: dict[str, str], user: StaffUser = ADMIN) -> ApiResponse:
        claims = {"cognito:username": user.username, "cognito:groups": f"[{user.role}]"}
        event = rest_event("GET", resource, resource=resource, query=query, claims=claims)
        return invoke(self.handler, event, "InternalAudit")


@pytest.fixture
def api(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    dynamodb.create_table(**AUDIT.create_table_kwargs(AUDIT.logical_name))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket=BUCKET,
        ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    monkeypatch.setenv(AUDIT.env_var, AUDIT.logical_name)
    monkeypatch.setenv("AUDIT_ANCHOR_BUCKET", BUCKET)
    users = {u.username: u for u in (ADMIN, FINANCE, MANAGER, LEFT, CASHIER)}
    # authorize() resolves the caller to their users row; here without PostgreSQL.
    monkeypatch.setattr(wiring, "staff", lambda: SimpleNamespace(by_username=users.get))
    settings.reset()
    from engine.handlers.internal import audit

    yield Api(audit.handler, dynamodb)
    settings.reset()


def append(
    n: int, branch: str | None, by: StaffUser = CASHIER, action: str = "COLLECTION_CREATED"
) -> AuditRecord:
    actor = Actor(by.user_id, by.email, by.username, by.branch_code)
    entry = AuditEntry.by(
        actor,
        action,
        "COLLECTION",
        f"col-{n}",
        at=f"{DAY}T05:00:{n:02d}.000Z",
        details={"amount": Decimal("100.00"), "mode": "CASH"},
        branch_code=branch,
    )
    return wiring_audit.audit_log().append(entry)


@pytest.fixture
def day(api: Api) -> list[AuditRecord]:
    return [
        append(1, "BR001"),
        append(2, "BR002", by=MANAGER),
        append(3, "BR001", action="COLLECTION_CANCELLED", by=MANAGER),
        append(4, None, by=ADMIN, action="ROLE_CHANGED"),
        append(5, "BR001"),
    ]


def keys(answer: ApiResponse) -> list[tuple[str, int]]:
    return [(r["chain_id"], r["seq"]) for r in answer.body["items"]]


def test_a_day_lists_every_chain_in_order_privately(api: Api, day: list[AuditRecord]) -> None:
    answer = api.get(LIST, {"date": DAY})
    assert answer.status == 200 and answer.headers.get("Cache-Control") == "no-store"
    assert keys(answer) == [
        (f"{DAY}#BR001", 1),
        (f"{DAY}#BR001", 2),
        (f"{DAY}#BR001", 3),
        (f"{DAY}#BR002", 1),
        (f"{DAY}#HO", 1),
    ]
    first = answer.body["items"][0]
    assert first["details"] == {"amount": "100.00", "mode": "CASH"}
    assert (first["actor_id"], first["actor_username"]) == (CASHIER.user_id, "cashier.five")
    assert first["hash"] == day[0].hash and first["at"] == f"{DAY}T05:00:01.000Z"
    assert answer.body["next_cursor"] is None


def test_filters_by_branch_action_entity_and_actor(api: Api, day: list[AuditRecord]) -> None:
    assert [s for _, s in keys(api.get(LIST, {"date": DAY, "branch_code": "BR001"}))] == [1, 2, 3]
    assert keys(api.get(LIST, {"date": DAY, "branch_code": "HO"})) == [(f"{DAY}#HO", 1)]
    cancelled = api.get(LIST, {"date": DAY, "action": "COLLECTION_CANCELLED"})
    assert [r["entity_id"] for r in cancelled.body["items"]] == ["col-3"]
    assert [r["entity_id"] for r in api.get(LIST, {"entity_id": "col-2"}).body["items"]] == [
        "col-2"
    ]
    mine = api.get(LIST, {"actor_id": MANAGER.user_id}, user=FINANCE)
    assert mine.status == 200
    assert [r["entity_id"] for r in mine.body["items"]] == ["col-3", "col-2"]  # newest first
    in_branch = api.get(LIST, {"actor_id": MANAGER.user_id, "branch_code": "BR002"})
    assert [r["entity_id"] for r in in_branch.body["items"]] == ["col-2"]


def test_pages_follow_the_cursor_to_the_end(api: Api, day: list[AuditRecord]) -> None:
    seen: list[tuple[str, int]] = []
    query = {"date": DAY, "limit": "2"}
    for _ in range(5):
        answer = api.get(LIST, query)
        seen += keys(answer)
        if not answer.body["next_cursor"]:
            break
        query = {"date": DAY, "limit": "2", "cursor": answer.body["next_cursor"]}
    assert seen == [(r.chain_id, r.seq) for r in sorted(day, key=lambda r: r.chain_pos)]
    issued = api.get(LIST, {"date": DAY, "limit": "1"}).body["next_cursor"]
    other_day = api.get(LIST, {"date": "2027-01-16", "cursor": issued})
    assert other_day.status == 400 and other_day.body["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "date"),
        ({"action": "LOGIN"}, "date"),
        ({"date": DAY, "entity_id": "col-1"}, "date"),
        ({"date": "2027-02-30"}, "date"),
        ({"date": "15-01-2027"}, "date"),
        ({"entity_id": "chain#2027-01-15#HO"}, "entity_id"),
        ({"entity_id": "a\nb"}, "entity_id"),
        ({"actor_id": "x y"}, "actor_id"),
        ({"date": DAY, "action": "login"}, "action"),
        ({"date": DAY, "branch_code": "BR 1"}, "branch_code"),
        ({"date": DAY, "limit": "0"}, "limit"),
        ({"date": DAY, "limit": "101"}, "limit"),
        ({"date": DAY, "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_are_400_in_the_engines_shape(
    api: Api, query: dict[str, str], field: str
) -> None:
    answer = api.get(LIST, query)
    assert answer.status == 400
    error = answer.body["error"]
    assert error["code"] == "VALIDATION_ERROR" and {"message", "timestamp", "traceId"} <= set(error)
    assert [d["field"] for d in error["details"]] == [field]


@pytest.mark.parametrize("user", [MANAGER, CASHIER, LEFT])
def test_only_active_head_office_and_finance_read_the_trail(api: Api, user: StaffUser) -> None:
    for resource, query in ((LIST, {"date": DAY}), (VERIFY, {"date": DAY})):
        answer = api.get(resource, query, user=user)
        assert answer.status == 403 and answer.body["error"]["code"] == "FORBIDDEN"


def test_without_an_identity_it_is_401_before_any_parsing(api: Api) -> None:
    event = rest_event("GET", LIST, resource=LIST, query={"date": "bad"})
    assert invoke(api.handler, event, "InternalAudit").status == 401


def test_verify_answers_the_days_chains(api: Api, day: list[AuditRecord]) -> None:
    answer = api.get(VERIFY, {"date": DAY}, user=FINANCE)
    assert answer.status == 200 and answer.headers.get("Cache-Control") == "no-store"
    assert (answer.body["date"], answer.body["ok"], answer.body["first_broken"]) == (
        DAY,
        True,
        None,
    )
    assert answer.body["anchors_checked"] is True
    chains = [
        (c["chain_id"], c["records"], c["head_seq"], c["anchored_seq"])
        for c in answer.body["chains"]
    ]
    assert chains == [(f"{DAY}#BR001", 3, 3, 3), (f"{DAY}#BR002", 1, 1, 1), (f"{DAY}#HO", 1, 1, 1)]
    empty = api.get(VERIFY, {"date": "2027-01-16"})
    assert (empty.body["ok"], empty.body["chains"]) == (True, [])


def test_verify_names_an_edited_record(api: Api, day: list[AuditRecord]) -> None:
    target = day[2]  # BR001's seq 2
    api.dynamodb.update_item(
        TableName=AUDIT.logical_name,
        Key=ddb.to_item({"entity_id": target.entity_id, "event_at": target.event_at}),
        UpdateExpression="SET actor_id = :someone",
        ExpressionAttributeValues=ddb.values({":someone": CASHIER.user_id}),
    )
    answer = api.get(VERIFY, {"date": DAY})
    assert answer.status == 200 and answer.body["ok"] is False
    assert answer.body["first_broken"] == {
        "chain_id": f"{DAY}#BR001",
        "seq": 2,
        "problem": "hash mismatch",
        "entity_id": target.entity_id,
        "event_at": target.event_at,
    }
    [br001] = [c for c in answer.body["chains"] if c["chain_id"] == f"{DAY}#BR001"]
    assert br001["ok"] is False
    assert all(c["ok"] for c in answer.body["chains"] if c is not br001)


def test_verify_names_the_newest_record_deleted(api: Api, day: list[AuditRecord]) -> None:
    newest = day[4]  # BR001's seq 3
    api.dynamodb.delete_item(
        TableName=AUDIT.logical_name,
        Key=ddb.to_item({"entity_id": newest.entity_id, "event_at": newest.event_at}),
    )
    broken = api.get(VERIFY, {"date": DAY}).body["first_broken"]
    assert (broken["chain_id"], broken["seq"]) == (f"{DAY}#BR001", 3)
    assert broken["problem"] == f"anchored at seq 3 hash {newest.hash} but the table ends at seq 2"


@pytest.mark.parametrize("query", [{}, {"date": "2027-13-01"}, {"date": "today"}])
def test_verify_needs_a_calendar_date(api: Api, query: dict[str, str]) -> None:
    answer = api.get(VERIFY, query)
    assert answer.status == 400 and answer.body["error"]["details"][0]["field"] == "date"
