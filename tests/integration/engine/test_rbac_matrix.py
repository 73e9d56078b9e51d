"""The RBAC matrix: every internal staff route, as every role, on the caller's own branch and
on another, through the real handlers (real PostgreSQL for the users rows and the ledger;
moto for DynamoDB, S3 and the staff pool). Each answer must be what EXPECTED, written by
hand, says: a 2xx where the role may, a 403 where it may not. A permission granted in
engine.models.rbac, or a scope widened in engine.declarations, changes an answer here.

Each case builds its own target (a collection, a submitted DCR, a joiner, an EXCEPTION
posting) on the branch it targets, so an allowed call can succeed: BR001 is the callers'
branch, BR002 the other; head office callers have no branch.
"""

from __future__ import annotations

import importlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from engine import declarations, settings, wiring
from engine.dal.ddb.queue import lms_queue_id
from engine.dal.pg.roles import sync_roles
from engine.models import rbac
from engine.models.payment import new_payment_id
from engine.tables import ALL_TABLES, TRANSACTION_QUEUE
from local.events import rest_event
from shared import clock, ddb
from shared.declarations import Route
from tests.dcr_support import today_ist
from tests.engine_pg import ACTIVE, OVERDUE, EngineDb, cloned
from tests.support import ApiResponse, invoke

REGION = "ap-south-1"
ANCHORS = "matrix-audit-anchors"
OWN, OTHER = "BR001", "BR002"
LOAN = {OWN: ACTIVE.loan_account_number, OTHER: OVERDUE.loan_account_number}
# The caller of each role (at BR001, or head office) and the staff who make targets.
CALLER = {
    "SuperAdmin": "superadmin.ho",
    "Admin": "admin.ho",
    "FinanceTeam": "finance.ho",
    "BranchManager": "manager.br001",
    "BranchCashier": "cashier.br001",
    "FieldOfficer": "officer.br001",
}
STAFF = {
    "superadmin.ho": ("SuperAdmin", None),
    "admin.ho": ("Admin", None),
    "finance.ho": ("FinanceTeam", None),
    "manager.br001": ("BranchManager", OWN),
    "cashier.br001": ("BranchCashier", OWN),
    "officer.br001": ("FieldOfficer", OWN),
    "manager.br002": ("BranchManager", OTHER),
    "cashier.br002": ("BranchCashier", OTHER),
    "officer.br002": ("FieldOfficer", OTHER),
}
ROLES = tuple(CALLER)

# Written by hand. Per route, per role: own branch then other branch, "+" 2xx, "-" 403.
ALL_OK = {"SuperAdmin": "++", "Admin": "++", "FinanceTeam": "++"}
NO_BRANCH = {"BranchManager": "--", "BranchCashier": "--", "FieldOfficer": "--"}
EXPECTED: dict[str, dict[str, str]] = {
    "GET /api/v1/lms/postings": ALL_OK | NO_BRANCH,
    "POST /api/v1/lms/postings/{transaction_id}/retry": ALL_OK | NO_BRANCH,
    "POST /api/v1/lms/postings/{transaction_id}/resolve": ALL_OK | NO_BRANCH,
    "POST /api/v1/collections": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "--",
        "BranchCashier": "+-",
        "FieldOfficer": "+-",
    },
    "GET /api/v1/collections": ALL_OK
    | {"BranchManager": "+-", "BranchCashier": "+-", "FieldOfficer": "+-"},
    "GET /api/v1/collections/{collection_id}": ALL_OK
    | {"BranchManager": "+-", "BranchCashier": "+-", "FieldOfficer": "+-"},
    "POST /api/v1/collections/{collection_id}/cancel": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "+-",
        "BranchCashier": "--",
        "FieldOfficer": "--",
    },
    "GET /api/v1/dcr": ALL_OK
    | {"BranchManager": "+-", "BranchCashier": "+-", "FieldOfficer": "--"},
    "GET /api/v1/dcr/{branch_code}/{collection_date}": ALL_OK
    | {"BranchManager": "+-", "BranchCashier": "+-", "FieldOfficer": "--"},
    "POST /api/v1/dcr/{branch_code}/{collection_date}/submit": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "--",
        "BranchCashier": "+-",
        "FieldOfficer": "--",
    },
    "POST /api/v1/dcr/{branch_code}/{collection_date}/approve": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "+-",
        "BranchCashier": "--",
        "FieldOfficer": "--",
    },
    "POST /api/v1/dcr/{branch_code}/{collection_date}/reject": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "+-",
        "BranchCashier": "--",
        "FieldOfficer": "--",
    },
    "POST /api/v1/dcr/{branch_code}/{collection_date}/reopen": {
        "SuperAdmin": "--",
        "Admin": "--",
        "FinanceTeam": "--",
        "BranchManager": "--",
        "BranchCashier": "+-",
        "FieldOfficer": "--",
    },
    "GET /api/v1/audit": ALL_OK | NO_BRANCH,
    "GET /api/v1/audit/verify": ALL_OK | NO_BRANCH,
    "GET /api/v1/users": {
        "SuperAdmin": "++",
        "Admin": "++",
        "FinanceTeam": "--",
        "BranchManager": "+-",
        "BranchCashier": "--",
        "FieldOfficer": "--",
    },
    "PUT /api/v1/users/{user_id}/role": {
        "SuperAdmin": "++",
        "Admin": "++",
        "FinanceTeam": "--",
        "BranchManager": "--",
        "BranchCashier": "--",
        "FieldOfficer": "--",
    },
}
STAFF_ROUTES = tuple(r for r in declarations.INTERNAL_ROUTES if r.auth == "cognito")
FUNCTIONS = {spec.name: spec for spec in declarations.FUNCTIONS}


@dataclass(frozen=True)
class Call:
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    body: Any = None
    headers: dict[str, str] | None = None


@dataclass
class World:
    db: EngineDb
    admin: psycopg.Connection[Any]
    dynamodb: Any
    cognito: Any
    pool_id: str
    days: Iterator[int] = field(default_factory=lambda: itertools.count(2))

    def call(self, route: Route, username: str, request: Call) -> ApiResponse:
        role = STAFF.get(username, ("", None))[0]
        path = route.path
        for name, value in request.path_params.items():
            path = path.replace("{" + name + "}", value)
        event = rest_event(
            route.method,
            path,
            resource=route.path,
            path_parameters=request.path_params or None,
            query=request.query,
            headers=request.headers,
            body=None if request.body is None else json.dumps(request.body),
            claims={"cognito:username": username, "cognito:groups": f"[{role}]"},
        )
        spec = FUNCTIONS[route.function]
        module, _, attribute = spec.handler.rpartition(".")
        return invoke(getattr(importlib.import_module(module), attribute), event, spec.name)

    def by_path(self, method: str, path: str) -> Route:
        return next(r for r in STAFF_ROUTES if (r.method, r.path) == (method, path))

    def ok(self, method: str, path: str, username: str, request: Call) -> ApiResponse:
        answer = self.call(self.by_path(method, path), username, request)
        assert 200 <= answer.status < 300, (method, path, username, answer.status, answer.body)
        return answer

    # ------------------------------------------------------------------ targets

    def collection(self, branch: str, by: str | None = None) -> str:
        maker = by or f"cashier.{branch.lower()}"
        answer = self.ok("POST", "/api/v1/collections", maker, self.collect_call(branch))
        return str(answer.body["collection_id"])

    def collect_call(self, branch: str) -> Call:
        at = clock.iso(clock.now() - timedelta(minutes=5))
        body = {
            "loan_account_number": LOAN[branch],
            "amount": "10.00",
            "mode": "CASH",
            "purpose": "EMI",
            "collected_at": at,
        }
        return Call(body=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    def fresh_day(self) -> str:
        """A past date no other case has used: its DCR is a new DRAFT with no collections."""
        return (today_ist() - timedelta(days=next(self.days))).isoformat()

    def dcr_in(self, branch: str, state: str) -> dict[str, str]:
        day = self.fresh_day()
        params = {"branch_code": branch, "collection_date": day}
        base = "/api/v1/dcr/{branch_code}/{collection_date}"
        if state in ("SUBMITTED", "REJECTED"):
            count = Call(params, body={"denominations": {}, "coins": 0})
            self.ok("POST", base + "/submit", f"cashier.{branch.lower()}", count)
        if state == "REJECTED":
            reject = Call(params, body={"reason": "recount"})
            self.ok("POST", base + "/reject", f"manager.{branch.lower()}", reject)
        return params

    def joiner(self, branch: str) -> str:
        username = f"joiner.{uuid.uuid4().hex[:8]}"
        row = self.admin.execute(
            "INSERT INTO users (username, email, branch_code) VALUES (%s, %s, %s)"
            " RETURNING user_id::text",
            (username, f"{username}@staff.example.com", branch),
        ).fetchone()
        assert row is not None
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username=username)
        return str(row[0])

    def exception_posting(self) -> str:
        transaction_id = new_payment_id()
        item = {
            "queue_id": lms_queue_id(transaction_id),
            "queue_type": "LMS_RECEIPT",
            "status": "EXCEPTION",
            "attempts": 24,
            "transaction_id": transaction_id,
            "created_at": clock.iso(clock.now()),
            "payload": {"transaction_id": transaction_id, "loan_account_number": LOAN[OWN]},
        }
        self.dynamodb.put_item(TableName=TRANSACTION_QUEUE.logical_name, Item=ddb.to_item(item))
        return transaction_id


def _request(world: World, route: Route, caller: str, branch: str) -> Call:
    """A request the caller's role would be answered 2xx for, if it may act on `branch`."""
    key = f"{route.method} {route.path}"
    today = today_ist().isoformat()
    dcr = "/api/v1/dcr/{branch_code}/{collection_date}"
    builders: dict[str, Callable[[], Call]] = {
        "GET /api/v1/lms/postings": Call,
        "POST /api/v1/lms/postings/{transaction_id}/retry": lambda: Call(
            {"transaction_id": world.exception_posting()}, body={"reason": "LMS is back"}
        ),
        "POST /api/v1/lms/postings/{transaction_id}/resolve": lambda: Call(
            {"transaction_id": world.exception_posting()}, body={"reason": "posted by hand"}
        ),
        "POST /api/v1/collections": lambda: world.collect_call(branch),
        "GET /api/v1/collections": lambda: Call(query={"branch_code": branch}),
        # A field officer reads their own record; the others the branch cashier's.
        "GET /api/v1/collections/{collection_id}": lambda: Call(
            {"collection_id": world.collection(branch, by=_record_owner(caller, branch))}
        ),
        "POST /api/v1/collections/{collection_id}/cancel": lambda: Call(
            {"collection_id": world.collection(branch)}, body={"reason": "wrong loan"}
        ),
        "GET /api/v1/dcr": lambda: Call(query={"branch_code": branch}),
        "GET " + dcr: lambda: Call({"branch_code": branch, "collection_date": today}),
        f"POST {dcr}/submit": lambda: Call(
            world.dcr_in(branch, "DRAFT"), body={"denominations": {}, "coins": 0}
        ),
        f"POST {dcr}/approve": lambda: Call(world.dcr_in(branch, "SUBMITTED")),
        f"POST {dcr}/reject": lambda: Call(
            world.dcr_in(branch, "SUBMITTED"), body={"reason": "recount the notes"}
        ),
        f"POST {dcr}/reopen": lambda: Call(world.dcr_in(branch, "REJECTED")),
        "GET /api/v1/audit": lambda: Call(query={"date": today}),
        "GET /api/v1/audit/verify": lambda: Call(query={"date": today}),
        "GET /api/v1/users": lambda: Call(query={"branch_code": branch}),
        "PUT /api/v1/users/{user_id}/role": lambda: Call(
            {"user_id": world.joiner(branch)},
            body={"role": "FieldOfficer", "reason": "joined the field team"},
        ),
    }
    return builders[key]()


def _record_owner(caller: str, branch: str) -> str | None:
    if STAFF[caller][0] == "FieldOfficer":
        return f"officer.{branch.lower()}"
    return None


@pytest.fixture(scope="module")
def world(engine_pg_template: Any) -> Iterator[World]:
    """One database and one moto for the whole matrix: each case makes its own targets."""
    mp = pytest.MonkeyPatch()
    with cloned(engine_pg_template) as db:
        yield from _world(db, mp)
    mp.undo()


def _world(db: EngineDb, mp: pytest.MonkeyPatch) -> Iterator[World]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "engine",
        "DATABASE_URL": db.app_url,
        "AUDIT_ANCHOR_BUCKET": ANCHORS,
    } | {spec.env_var: spec.logical_name for spec in ALL_TABLES}
    for name, value in env.items():
        mp.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        mp.delenv(name, raising=False)
    with mock_aws(), db.admin() as admin:
        wiring.reset()
        settings.reset()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec in ALL_TABLES:
            dynamodb.create_table(**spec.create_table_kwargs(spec.logical_name))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=ANCHORS,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        for role in rbac.ROLES:
            cognito.create_group(UserPoolId=pool_id, GroupName=role.name)
        mp.setenv("STAFF_USER_POOL_ID", pool_id)
        with admin.cursor() as cur:
            sync_roles(cur)
        for username, (role_name, branch) in STAFF.items():
            admin.execute(
                "INSERT INTO users (username, email, branch_code, role_id)"
                " SELECT %s, %s, %s, role_id FROM roles WHERE role_name = %s",
                (username, f"{username}@staff.example.com", branch, role_name),
            )
        yield World(db, admin, dynamodb, cognito, pool_id)
        wiring.reset()
        settings.reset()


def test_the_expectations_cover_every_staff_route_and_role() -> None:
    declared = {f"{r.method} {r.path}" for r in STAFF_ROUTES}
    assert set(EXPECTED) == declared
    for route, by_role in EXPECTED.items():
        assert set(by_role) == set(ROLES), route
        assert all(len(v) == 2 and set(v) <= {"+", "-"} for v in by_role.values()), route


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_role_gets_what_the_table_says(world: World, route: Route) -> None:
    wrong = []
    for role in ROLES:
        caller = CALLER[role]
        for target, mark in zip(
            (OWN, OTHER), EXPECTED[f"{route.method} {route.path}"][role], strict=True
        ):
            answer = world.call(route, caller, _request(world, route, caller, target))
            allowed = 200 <= answer.status < 300
            if (mark == "+") != allowed or (mark == "-" and answer.status != 403):
                wrong.append((role, target, mark, answer.status, answer.body))
    assert not wrong, wrong


def test_a_field_officer_reads_only_their_own_collections(world: World) -> None:
    mine = world.collection(OWN, by="officer.br001")
    cashiers = world.collection(OWN)
    route = world.by_path("GET", "/api/v1/collections/{collection_id}")
    assert world.call(route, "officer.br001", Call({"collection_id": mine})).status == 200
    assert world.call(route, "officer.br001", Call({"collection_id": cashiers})).status == 403
    listing = world.ok("GET", "/api/v1/collections", "officer.br001", Call())
    creators = {item["created_by"] for item in listing.body["items"]}
    assert creators <= {world_user_id(world, "officer.br001")}


def world_user_id(world: World, username: str) -> str:
    row = world.admin.execute(
        "SELECT user_id::text FROM users WHERE username = %s", (username,)
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_an_inactive_or_unknown_caller_is_refused_everywhere(world: World) -> None:
    world.admin.execute("UPDATE users SET is_active = false WHERE username = 'cashier.br002'")
    try:
        for route in STAFF_ROUTES:
            for username in ("cashier.br002", "nobody.br001"):
                request = Call(dict.fromkeys(_params(route.path), "x"))
                answer = world.call(route, username, request)
                assert answer.status == 403, (route.method, route.path, username, answer.body)
    finally:
        world.admin.execute("UPDATE users SET is_active = true WHERE username = 'cashier.br002'")


def _params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
