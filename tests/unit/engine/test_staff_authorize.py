"""authorize, every internal handler's first step: who the caller is (the token's username,
resolved to their users row), whether they may (the route's declared permission, held by a
role the users row grants), and how far it reaches (Caller's branch and record checks)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.handlers.internal.staff import Caller, authorize
from engine.models.rbac import Scope
from engine.models.staff import StaffUser
from local.events import rest_event
from shared.api import Request
from shared.http import Forbidden, Unauthorized

USERS = "/api/v1/users"  # users:read, own_branch
COLLECTIONS = "/api/v1/collections"  # collections:read, own_records

MANAGER = StaffUser(
    "u-manager", "manager.br001", "m@staff.example.com", "BR001", True, "BranchManager"
)
OFFICER = StaffUser(
    "u-officer", "officer.br001", "o@staff.example.com", "BR001", True, "FieldOfficer"
)
ADMIN = StaffUser("u-admin", "admin.ho", "a@staff.example.com", None, True, "Admin")
LEAVER = StaffUser(
    "u-leaver", "leaver.br001", "l@staff.example.com", "BR001", False, "BranchManager"
)
JOINER = StaffUser("u-joiner", "joiner.br001", "j@staff.example.com", "BR001", True, None)
HEAD_OFFICE_MANAGER = StaffUser(
    "u-hom", "manager.ho", "h@staff.example.com", None, True, "BranchManager"
)
STAFF = {u.username: u for u in (MANAGER, OFFICER, ADMIN, LEAVER, JOINER, HEAD_OFFICE_MANAGER)}


def request(resource: str, claims: dict[str, Any] | None, method: str = "GET") -> Request:
    return Request(rest_event(method, resource, resource=resource, claims=claims), None)


def claims(user: StaffUser, groups: Any = None) -> dict[str, Any]:
    return {"cognito:username": user.username, "cognito:groups": groups or f"[{user.role}]"}


def caller(user: StaffUser, resource: str = USERS, groups: Any = None) -> Caller:
    return authorize(request(resource, claims(user, groups)), STAFF.get)


def test_no_username_is_a_401() -> None:
    with pytest.raises(Unauthorized):
        authorize(
            request(USERS, {"email": "x@staff.example.com", "cognito:groups": "[Admin]"}), STAFF.get
        )
    with pytest.raises(Unauthorized):
        authorize(request(USERS, None), STAFF.get)


def test_an_unknown_or_inactive_user_is_a_403_whatever_their_groups() -> None:
    stranger = {"cognito:username": "nobody", "cognito:groups": "[SuperAdmin]"}
    with pytest.raises(Forbidden, match="not an active staff member"):
        authorize(request(USERS, stranger), STAFF.get)
    with pytest.raises(Forbidden, match="not an active staff member"):
        caller(LEAVER)


def test_a_group_the_users_row_does_not_grant_is_ignored() -> None:
    # The token still says Admin (an ID token lives an hour); the row says FieldOfficer.
    with pytest.raises(Forbidden, match="users:read"):
        caller(OFFICER, USERS, "[Admin, FieldOfficer]")
    found = caller(OFFICER, COLLECTIONS, "[Admin, FieldOfficer]")
    assert found.roles == frozenset({"FieldOfficer"})
    assert found.reach is Scope.OWN_RECORDS
    # A joiner (no role granted yet) holds nothing, whatever the token says.
    with pytest.raises(Forbidden):
        caller(JOINER, COLLECTIONS, "[FieldOfficer]")


def test_the_row_s_role_counts_only_if_the_token_carries_it_too() -> None:
    # Granted in PostgreSQL, but the token predates the group: sign in again to use it.
    with pytest.raises(Forbidden):
        caller(MANAGER, USERS, "[FieldOfficer]")


@pytest.mark.parametrize(
    "groups",
    [
        ["BranchManager"],
        "[BranchManager]",
        "BranchManager",
        "[Unknown, BranchManager]",
        "a,BranchManager",
    ],
)
def test_groups_as_api_gateway_renders_them(groups: Any) -> None:
    assert caller(MANAGER, USERS, groups).roles == frozenset({"BranchManager"})


def test_an_undeclared_route_is_refused() -> None:
    with pytest.raises(Forbidden, match="no declared permission"):
        authorize(request("/api/v1/nowhere", claims(ADMIN)), STAFF.get)
    with pytest.raises(Forbidden, match="no declared permission"):
        authorize(request(USERS, claims(ADMIN), method="DELETE"), STAFF.get)


def test_reach_follows_the_role() -> None:
    assert caller(MANAGER).reach is Scope.OWN_BRANCH
    assert caller(ADMIN).reach is Scope.ALL_BRANCHES
    assert caller(OFFICER, COLLECTIONS).reach is Scope.OWN_RECORDS
    assert caller(ADMIN).permission == "users:read"


def test_an_own_branch_reach_stops_at_the_branch() -> None:
    manager = caller(MANAGER)
    manager.require_branch("BR001")
    with pytest.raises(Forbidden, match="BR002"):
        manager.require_branch("BR002")
    assert manager.branch_filter(None) == "BR001"
    assert manager.branch_filter("BR001") == "BR001"
    with pytest.raises(Forbidden):
        manager.branch_filter("BR002")
    assert manager.owner_filter() is None
    manager.require_record("BR001", "someone-else")


def test_an_all_branches_reach_lists_every_branch() -> None:
    admin = caller(ADMIN)
    admin.require_branch("BR002")
    assert admin.branch_filter(None) is None
    assert admin.branch_filter("BR002") == "BR002"


def test_an_own_records_reach_stops_at_the_caller_s_records() -> None:
    officer = caller(OFFICER, COLLECTIONS)
    officer.require_record("BR001", OFFICER.user_id)
    with pytest.raises(Forbidden, match="your own records"):
        officer.require_record("BR001", MANAGER.user_id)
    with pytest.raises(Forbidden):
        officer.require_record("BR002", OFFICER.user_id)
    assert officer.owner_filter() == OFFICER.user_id


def test_a_branch_bound_role_without_a_branch_lists_nothing() -> None:
    with pytest.raises(Forbidden, match="needs a branch"):
        caller(HEAD_OFFICE_MANAGER).branch_filter(None)
    with pytest.raises(Forbidden):
        caller(HEAD_OFFICE_MANAGER).require_branch("BR001")


def test_the_caller_is_named_for_the_audit_trail() -> None:
    actor = caller(MANAGER).actor
    assert (actor.user_id, actor.username, actor.branch_code) == (
        "u-manager",
        "manager.br001",
        "BR001",
    )
