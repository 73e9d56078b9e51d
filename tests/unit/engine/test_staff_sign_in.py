"""StaffSignIn, the staff pool's PostAuthentication trigger, through its handler: an unknown
or inactive user is refused with one generic message, an active one has last_login_at set and
a LOGIN record appended to the audit trail (the real AuditLog on moto), and the event goes
back to Cognito unchanged."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine import settings, wiring, wiring_users
from engine.dal.ddb.audit import AuditLog
from engine.handlers import staff_sign_in
from engine.logic.users import SIGN_IN_REFUSED, SignInRefused
from engine.models.staff import StaffUser
from engine.tables import AUDIT
from local.events import LambdaContext
from shared import clock

NOW = datetime(2027, 1, 15, 4, 30, 0, 123000, tzinfo=UTC)
CASHIER = StaffUser(
    "0b7e6c1e-0000-4000-8000-000000000001",
    "cashier.br001",
    "c@staff.example.com",
    "BR001",
    True,
    "BranchCashier",
)
LEAVER = StaffUser(
    "0b7e6c1e-0000-4000-8000-000000000002",
    "leaver.br001",
    "l@staff.example.com",
    "BR001",
    False,
    "BranchCashier",
)


@dataclass
class Staff:
    """The users table as the trigger reads and stamps it."""

    users: dict[str, StaffUser]
    stamped: list[tuple[str, datetime]] = field(default_factory=list)

    def by_username(self, username: str) -> StaffUser | None:
        return self.users.get(username)

    def stamp_login(self, user_id: str, at: datetime) -> bool:
        self.stamped.append((user_id, at))
        return True


@pytest.fixture
def staff(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Staff]:
    dynamodb.create_table(**AUDIT.create_table_kwargs(AUDIT.logical_name))
    monkeypatch.setenv(AUDIT.env_var, AUDIT.logical_name)
    monkeypatch.delenv("AUDIT_ANCHOR_BUCKET", raising=False)
    settings.reset()
    table = Staff({u.username: u for u in (CASHIER, LEAVER)})
    monkeypatch.setattr(wiring, "staff", lambda: table)
    monkeypatch.setattr(wiring_users, "users", lambda: table)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    yield table
    settings.reset()


def event(username: str) -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": "ap-south-1",
        "userPoolId": "ap-south-1_staff",
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": "staffwebclient"},
        "request": {"userAttributes": {"email": "x@staff.example.com"}, "newDeviceUsed": False},
        "response": {},
    }


def records(dynamodb: Any, user_id: str) -> list[Any]:
    return AuditLog(dynamodb, AUDIT.logical_name).page("entity_id", user_id, 10).records


def sign_in(username: str) -> Any:
    return staff_sign_in.handler(event(username), LambdaContext(function_name="StaffSignIn"))


def test_an_active_user_is_stamped_audited_and_the_event_returned_unchanged(
    staff: Staff, dynamodb: Any
) -> None:
    sent = event(CASHIER.username)
    answer = staff_sign_in.handler(copy.deepcopy(sent), LambdaContext(function_name="StaffSignIn"))
    assert answer == sent
    assert staff.stamped == [(CASHIER.user_id, NOW)]
    (record,) = records(dynamodb, CASHIER.user_id)
    assert (record.action, record.entity_type, record.at) == ("LOGIN", "user", clock.iso(NOW))
    assert (record.actor_id, record.actor_username) == (CASHIER.user_id, CASHIER.username)
    assert record.branch_code == "BR001"
    # The client and how they signed in; never their e-mail or anything else personal.
    assert record.details == {
        "client_id": "staffwebclient",
        "source": "PostAuthentication_Authentication",
        "last_login_stamped": True,
    }


@pytest.mark.parametrize("username", [LEAVER.username, "nobody", ""])
def test_an_inactive_or_unknown_user_is_refused_with_one_generic_message(
    staff: Staff, dynamodb: Any, username: str
) -> None:
    with pytest.raises(SignInRefused) as refused:
        sign_in(username)
    assert str(refused.value) == SIGN_IN_REFUSED
    assert staff.stamped == []
    assert records(dynamodb, LEAVER.user_id) == []


def test_a_sign_in_that_cannot_be_audited_is_refused(
    staff: Staff, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUDIT.env_var, "NoSuchTable")
    settings.reset()
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sign_in(CASHIER.username)
    assert records(dynamodb, CASHIER.user_id) == []
