"""GET /api/v1/users and PUT /api/v1/users/{user_id}/role through their handler, as API
Gateway calls it: real PostgreSQL (as engine_app), the staff pool in moto's cognito-idp with
one group per role, and the real audit trail (engine.wiring_audit) on moto's DynamoDB.

An admin's role change lands in the users row, then the staff pool's group, then the audit
trail; refusals (own role, SuperAdmin by an Admin, inactive, unknown) change nothing; branch
managers list their own branch only; and a role taken away stops the same still-valid token
at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from engine import settings, wiring, wiring_users
from engine.dal.ddb.audit import AuditLog
from engine.dal.pg.roles import sync_roles
from engine.dal.pg.users import UserChanged, UserStore
from engine.models import rbac
from engine.tables import AUDIT
from local.events import rest_event
from tests.engine_pg import EngineDb
from tests.support import ApiResponse, invoke

REGION = "ap-south-1"
LIST = "/api/v1/users"
ROLE = "/api/v1/users/{user_id}/role"
OTHER_GROUP = "Newsletter"  # a pool group that is no role: a role change leaves it alone

# username, role, branch, active
STAFF = (
    ("admin.ho", "Admin", None, True),
    ("admin2.ho", "Admin", None, True),
    ("superadmin.ho", "SuperAdmin", None, True),
    ("manager.br001", "BranchManager", "BR001", True),
    ("cashier.br001", "BranchCashier", "BR001", True),
    ("joiner.br001", None, "BR001", True),
    ("leaver.br001", "BranchCashier", "BR001", False),
    ("officer.br002", "FieldOfficer", "BR002", True),
)
LISTED_FIELDS = {
    "user_id",
    "username",
    "email",
    "branch_code",
    "role",
    "is_active",
    "last_login_at",
}


@dataclass
class Users:
    db: EngineDb
    cognito: Any
    pool_id: str
    dynamodb: Any
    ids: dict[str, str]

    def call(
        self,
        method: str,
        resource: str,
        *,
        as_user: str | None = "admin.ho",
        groups: list[str] | None = None,
        user: str | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        user_id: str | None = None,
    ) -> ApiResponse:
        from engine.handlers.internal import users

        target = user_id or (self.ids[user] if user else None)
        path = resource.replace("{user_id}", target or "")
        claims = None
        if as_user is not None:
            claims = {"cognito:username": as_user, "cognito:groups": groups or self.groups(as_user)}
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters={"user_id": target} if target else None,
            query=query,
            body=json.dumps(body) if body is not None else None,
            claims=claims,
        )
        return invoke(users.handler, event, "InternalUsers")

    def set_role(self, user: str, role: str, *, as_user: str = "admin.ho", **kw: Any) -> Any:
        body = {"role": role, "reason": "Moved to the collections team"}
        return self.call("PUT", ROLE, user=user, body=body, as_user=as_user, **kw)

    def groups(self, username: str) -> list[str]:
        """The user's groups as the staff pool holds them (what a token issued now carries)."""
        found = self.cognito.admin_list_groups_for_user(UserPoolId=self.pool_id, Username=username)
        return sorted(g["GroupName"] for g in found["Groups"])

    def role_in_postgres(self, username: str) -> str | None:
        with self.db.admin() as conn:
            row = conn.execute(
                "SELECT r.role_name FROM users u LEFT JOIN roles r USING (role_id) "
                "WHERE u.username = %s",
                (username,),
            ).fetchone()
        assert row is not None
        return row[0]

    def audit(self, username: str) -> list[Any]:
        log = AuditLog(self.dynamodb, AUDIT.logical_name)
        return log.page("entity_id", self.ids[username], 20).records


@pytest.fixture
def api(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Users]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "engine",
        "DATABASE_URL": engine_db.app_url,
        AUDIT.env_var: AUDIT.logical_name,
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AUDIT_ANCHOR_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**AUDIT.create_table_kwargs(AUDIT.logical_name))
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        for role in rbac.ROLES:
            cognito.create_group(
                UserPoolId=pool_id, GroupName=role.name, Precedence=role.precedence
            )
        cognito.create_group(UserPoolId=pool_id, GroupName=OTHER_GROUP)
        env["STAFF_USER_POOL_ID"] = pool_id
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        ids = _seed(engine_db, cognito, pool_id)
        yield Users(engine_db, cognito, pool_id, dynamodb, ids)
        wiring.reset()
        settings.reset()


def _seed(db: EngineDb, cognito: Any, pool_id: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    with db.admin() as conn:
        with conn.transaction(), conn.cursor() as cur:
            sync_roles(cur)
        for username, role, branch, active in STAFF:
            row = conn.execute(
                "INSERT INTO users (username, email, role_id, branch_code, is_active) "
                "VALUES (%s, %s, (SELECT role_id FROM roles WHERE role_name = %s), %s, %s) "
                "RETURNING user_id::text",
                (username, f"{username}@staff.example.com", role, branch, active),
            ).fetchone()
            assert row is not None
            ids[username] = row[0]
            cognito.admin_create_user(UserPoolId=pool_id, Username=username)
            for group in [role] if role else []:
                cognito.admin_add_user_to_group(
                    UserPoolId=pool_id, Username=username, GroupName=group
                )
    return ids


# --- PUT /api/v1/users/{user_id}/role ----------------------------------------------------


def test_an_admin_grants_a_joiner_a_role(api: Users) -> None:
    answer = api.set_role("joiner.br001", "FieldOfficer")
    assert answer.status == 200, answer.body
    assert answer.body == {
        "user_id": api.ids["joiner.br001"],
        "username": "joiner.br001",
        "role": "FieldOfficer",
        "previous_role": None,
        "changed": True,
    }
    assert api.role_in_postgres("joiner.br001") == "FieldOfficer"
    assert api.groups("joiner.br001") == ["FieldOfficer"]
    (record,) = api.audit("joiner.br001")
    assert (record.action, record.entity_type, record.branch_code) == (
        "ROLE_CHANGED",
        "user",
        "BR001",
    )
    assert (record.actor_id, record.actor_username) == (api.ids["admin.ho"], "admin.ho")
    assert record.details == {
        "user_id": api.ids["joiner.br001"],
        "from": None,
        "to": "FieldOfficer",
        "reason": "Moved to the collections team",
    }
    # The same request again: everything is in place already, so nothing is changed or audited.
    again = api.set_role("joiner.br001", "FieldOfficer")
    assert (again.status, again.body["changed"]) == (200, False)
    assert len(api.audit("joiner.br001")) == 1


def test_a_changed_role_moves_the_group_and_leaves_other_groups_alone(api: Users) -> None:
    api.cognito.admin_add_user_to_group(
        UserPoolId=api.pool_id, Username="officer.br002", GroupName=OTHER_GROUP
    )
    answer = api.set_role("officer.br002", "BranchCashier")
    assert (answer.status, answer.body["previous_role"]) == (200, "FieldOfficer")
    assert api.role_in_postgres("officer.br002") == "BranchCashier"
    assert api.groups("officer.br002") == ["BranchCashier", OTHER_GROUP]
    (record,) = api.audit("officer.br002")
    assert (record.details["from"], record.details["to"]) == ("FieldOfficer", "BranchCashier")


def test_nobody_changes_their_own_role(api: Users) -> None:
    answer = api.set_role("admin.ho", "SuperAdmin", as_user="admin.ho")
    assert (answer.status, answer.body["error"]["code"]) == (403, "FORBIDDEN")
    answer = api.set_role("superadmin.ho", "Admin", as_user="superadmin.ho")
    assert answer.status == 403
    assert api.role_in_postgres("admin.ho") == "Admin"
    assert api.groups("superadmin.ho") == ["SuperAdmin"]
    assert api.audit("admin.ho") == [] and api.audit("superadmin.ho") == []


def test_only_a_super_admin_grants_super_admin(api: Users) -> None:
    refused = api.set_role("cashier.br001", "SuperAdmin", as_user="admin.ho")
    assert refused.status == 403 and "SuperAdmin" in refused.body["error"]["message"]
    assert api.role_in_postgres("cashier.br001") == "BranchCashier"
    assert api.groups("cashier.br001") == ["BranchCashier"]
    # Nor may an Admin demote a SuperAdmin (head office would lose its last word).
    assert api.set_role("superadmin.ho", "FieldOfficer", as_user="admin.ho").status == 403
    assert api.role_in_postgres("superadmin.ho") == "SuperAdmin"
    assert api.audit("cashier.br001") == []

    granted = api.set_role("cashier.br001", "SuperAdmin", as_user="superadmin.ho")
    assert granted.status == 200
    assert api.groups("cashier.br001") == ["SuperAdmin"]


def test_an_inactive_user_is_given_no_role(api: Users) -> None:
    answer = api.set_role("leaver.br001", "BranchManager")
    assert (answer.status, answer.body["error"]["code"]) == (409, "CONFLICT")
    assert api.role_in_postgres("leaver.br001") == "BranchCashier"
    assert api.groups("leaver.br001") == ["BranchCashier"]
    assert api.audit("leaver.br001") == []


def test_unknown_users_and_roles_and_bad_bodies(api: Users) -> None:
    missing = api.set_role("", "FieldOfficer", user_id=str(uuid.uuid4()))
    assert (missing.status, missing.body["error"]["code"]) == (404, "NOT_FOUND")
    malformed = api.set_role("", "FieldOfficer", user_id="not-a-uuid")
    assert malformed.status == 400
    assert malformed.body["error"]["details"][0]["field"] == "user_id"
    unknown = api.set_role("joiner.br001", "Auditor")
    assert (unknown.status, unknown.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert [d["field"] for d in unknown.body["error"]["details"]] == ["role"]
    no_reason = api.call("PUT", ROLE, user="joiner.br001", body={"role": "FieldOfficer"})
    assert no_reason.status == 400
    assert api.role_in_postgres("joiner.br001") is None
    assert api.groups("joiner.br001") == []


def test_a_manager_may_not_change_roles(api: Users) -> None:
    answer = api.set_role("cashier.br001", "FieldOfficer", as_user="manager.br001")
    assert answer.status == 403 and "users:manage" in answer.body["error"]["message"]


def test_a_staff_pool_failure_after_postgresql_is_completed_by_a_repeat(
    api: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = wiring_users.staff_pool()
    real_add = pool.client.admin_add_user_to_group
    failures = [ClientError({"Error": {"Code": "TooManyRequestsException"}}, "AdminAddUserToGroup")]

    def add_once_failing(**kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_add(**kwargs)

    monkeypatch.setattr(pool.client, "admin_add_user_to_group", add_once_failing)
    monkeypatch.setattr(wiring_users, "staff_pool", lambda: pool)

    failed = api.set_role("officer.br002", "BranchCashier")
    assert (failed.status, failed.body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    # Recorded where authorize looks, so the old role is gone already; nothing audited yet.
    assert api.role_in_postgres("officer.br002") == "BranchCashier"
    assert api.groups("officer.br002") == ["FieldOfficer"]
    assert api.audit("officer.br002") == []

    done = api.set_role("officer.br002", "BranchCashier")
    assert (done.status, done.body["changed"], done.body["previous_role"]) == (
        200,
        True,
        "FieldOfficer",
    )
    assert api.groups("officer.br002") == ["BranchCashier"]
    (record,) = api.audit("officer.br002")
    assert (record.details["from"], record.details["to"]) == ("FieldOfficer", "BranchCashier")


def test_two_admins_at_once_the_second_learns_of_the_first(
    api: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UserStore(wiring.database())
    target = api.ids["officer.br002"]
    # The store's condition: a role change against a role that is no longer there writes nothing.
    with pytest.raises(UserChanged) as moved:
        store.set_role(target, "BranchCashier", "BranchManager")
    assert moved.value.user is not None and moved.value.user.role == "FieldOfficer"
    assert api.role_in_postgres("officer.br002") == "FieldOfficer"

    # Admin 2 read the user before admin 1's change landed.
    stale = store.get(target)
    assert api.set_role("officer.br002", "BranchCashier").status == 200
    monkeypatch.setattr(UserStore, "get", lambda self, user_id: stale)
    second = api.set_role("officer.br002", "BranchManager", as_user="admin2.ho")
    assert (second.status, second.body["error"]["code"]) == (409, "CONFLICT")
    assert api.role_in_postgres("officer.br002") == "BranchCashier"
    # Asking for the role the first one set is the same request: done, nothing more recorded.
    same = api.set_role("officer.br002", "BranchCashier", as_user="admin2.ho")
    assert (same.status, same.body["changed"]) == (200, False)
    assert len(api.audit("officer.br002")) == 1


def test_a_role_taken_away_stops_the_same_token_at_once(api: Users) -> None:
    token_groups = api.groups("manager.br001")  # what their ID token, issued before, carries
    assert api.call("GET", LIST, as_user="manager.br001", groups=token_groups).status == 200
    assert api.set_role("manager.br001", "BranchCashier").status == 200
    refused = api.call("GET", LIST, as_user="manager.br001", groups=token_groups)
    assert (refused.status, refused.body["error"]["code"]) == (403, "FORBIDDEN")


# --- GET /api/v1/users ---------------------------------------------------------------------


def usernames(answer: ApiResponse) -> list[str]:
    assert answer.status == 200, answer.body
    return [u["username"] for u in answer.body["items"]]


def test_a_branch_manager_lists_only_their_own_branch(api: Users) -> None:
    answer = api.call("GET", LIST, as_user="manager.br001")
    assert usernames(answer) == ["cashier.br001", "joiner.br001", "leaver.br001", "manager.br001"]
    assert answer.headers.get("Cache-Control") == "no-store"
    for item in answer.body["items"]:
        assert set(item) == LISTED_FIELDS  # no phone numbers, nothing else
        assert item["branch_code"] == "BR001"
    own = api.call("GET", LIST, as_user="manager.br001", query={"branch_code": "BR001"})
    assert usernames(own) == usernames(answer)
    other = api.call("GET", LIST, as_user="manager.br001", query={"branch_code": "BR002"})
    assert (other.status, other.body["error"]["code"]) == (403, "FORBIDDEN")


def test_head_office_lists_every_branch_with_filters(api: Users) -> None:
    everyone = usernames(api.call("GET", LIST))
    assert everyone == sorted(name for name, *_ in STAFF)
    br002 = api.call("GET", LIST, query={"branch_code": "BR002"})
    assert usernames(br002) == ["officer.br002"]
    item = br002.body["items"][0]
    assert item == {
        "user_id": api.ids["officer.br002"],
        "username": "officer.br002",
        "email": "officer.br002@staff.example.com",
        "branch_code": "BR002",
        "role": "FieldOfficer",
        "is_active": True,
        "last_login_at": None,
    }
    assert usernames(api.call("GET", LIST, query={"active": "false"})) == ["leaver.br001"]
    joiner = api.call("GET", LIST, query={"branch_code": "BR001", "active": "true"})
    assert "leaver.br001" not in usernames(joiner)


def test_the_list_pages_with_a_cursor_bound_to_its_filter(api: Users) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(len(STAFF)):
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        answer = api.call("GET", LIST, query=query)
        seen += usernames(answer)
        assert len(answer.body["items"]) <= 3
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(name for name, *_ in STAFF)

    first = api.call("GET", LIST, query={"limit": "1"}).body["next_cursor"]
    elsewhere = api.call("GET", LIST, query={"branch_code": "BR001", "cursor": first})
    assert elsewhere.status == 400
    assert elsewhere.body["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"active": "yes"}, "active"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"branch_code": "BR 001"}, "branch_code"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_are_a_400(api: Users, query: dict[str, str], field: str) -> None:
    answer = api.call("GET", LIST, query=query)
    assert (answer.status, answer.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert answer.body["error"]["details"][0]["field"] == field


def test_without_users_read_or_an_identity_nothing_is_listed(api: Users) -> None:
    assert api.call("GET", LIST, as_user="cashier.br001").status == 403
    assert api.call("GET", LIST, as_user=None).status == 401
    assert api.call("GET", LIST, as_user="leaver.br001", groups=["Admin"]).status == 403


def test_the_last_sign_in_is_listed(api: Users) -> None:
    from engine.handlers import staff_sign_in
    from local.events import LambdaContext

    event = {
        "triggerSource": "PostAuthentication_Authentication",
        "userName": "cashier.br001",
        "callerContext": {"clientId": "staffweb"},
    }
    assert staff_sign_in.handler(event, LambdaContext(function_name="StaffSignIn")) == event
    listed = api.call("GET", LIST, query={"branch_code": "BR001"}).body["items"]
    (cashier,) = [u for u in listed if u["username"] == "cashier.br001"]
    assert cashier["last_login_at"] is not None
    (login,) = api.audit("cashier.br001")
    assert login.action == "LOGIN"
    with psycopg.connect(api.db.admin_url) as conn:
        row = conn.execute(
            "SELECT last_login_at IS NOT NULL FROM users WHERE username = 'cashier.br001'"
        ).fetchone()
    assert row == (True,)
