"""The HrmsSync job against the HRMS simulator over HTTP (its credentials in moto's Secrets
Manager, as the function reads them), a real PostgreSQL (as engine_app), moto's Cognito staff
pool and the real audit trail in moto's DynamoDB: HRMS leavers losing access, transfers,
joiners without roles, a run cut short resumed, an HRMS outage leaving the watermark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from engine import wiring, wiring_audit, wiring_hrms, wiring_users
from engine.clients.hrms import HrmsUnavailable
from engine.clients.hrms_models import EmployeePage
from engine.handlers.internal.staff import Caller, authorize
from engine.handlers.jobs import hrms_sync as job
from engine.logic.hrms_sync import ChangesNotCarried, HrmsSync
from engine.models.audit import AuditRecord
from engine.tables import AUDIT
from local.events import LambdaContext
from shared import clock
from shared.api import Request
from shared.http import Forbidden
from simulators.hrms import HrmsSimulator
from tests.engine_pg import EngineDb
from tests.sim_http import call

REGION = "ap-south-1"
API_USER, API_PASSWORD, API_KEY = "engine-tests", "hrms-password-for-tests", "hrms-key-for-tests"
AUDIT_TABLE = "engine-test-audit"
OLD = "2026-01-05T04:30:00.000000Z"
# Staff as PostgreSQL holds them before any sync: (username, role, branch, employee_id).
STAFF = (
    ("cashier.br001", "BranchCashier", "BR001", "FS1001"),
    ("manager.br001", "BranchManager", "BR001", None),  # made by hand: linked by username
    ("cashier.br002", "BranchCashier", "BR002", "FS2001"),
)
EMPLOYEES = [
    {
        "employee_id": employee_id,
        "username": username,
        "official_email": f"{username}@staff.example.com",
        "status": "ACTIVE",
        "branch_code": branch,
        "designation": "Branch staff",
        "updated_at": OLD,
    }
    for username, branch, employee_id in (
        ("cashier.br001", "BR001", "FS1001"),
        ("manager.br001", "BR001", "FS1003"),
        ("cashier.br002", "BR002", "FS2001"),
    )
]


@dataclass
class Harness:
    sim: HrmsSimulator
    admin: psycopg.Connection[Any]
    cognito: Any
    pool_id: str

    def run_job(self) -> dict[str, Any]:
        return job.handler({}, LambdaContext(function_name="HrmsSync", timeout_seconds=600))

    def hrms(self, **employee: Any) -> None:
        """HR hires, transfers or exits someone at the HRMS."""
        status, body = call(self.sim.base_url, "POST", "/_simulator/employees", employee)
        assert status == 200, body

    def row(self, username: str) -> dict[str, Any]:
        found = self.admin.execute(
            "SELECT u.user_id::text, u.employee_id, u.branch_code, u.is_active, u.exited_at,"
            " r.role_name, u.email FROM users u LEFT JOIN roles r USING (role_id)"
            " WHERE u.username = %s",
            (username,),
        ).fetchone()
        assert found is not None, username
        keys = ("user_id", "employee_id", "branch_code", "is_active", "exited_at", "role", "email")
        return dict(zip(keys, found, strict=True))

    def pool_user(self, username: str) -> dict[str, Any]:
        return dict(self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username))

    def groups(self, username: str) -> list[str]:
        answer = self.cognito.admin_list_groups_for_user(UserPoolId=self.pool_id, Username=username)
        return [g["GroupName"] for g in answer["Groups"]]

    def audit(self, username: str) -> list[AuditRecord]:
        page = wiring_audit.audit_log().page("entity_id", self.row(username)["user_id"], 50)
        return page.records

    def watermark(self) -> tuple[Any, ...]:
        found = self.admin.execute(
            "SELECT watermark, cursor, run_pages FROM hrms_sync_state"
        ).fetchone()
        assert found is not None
        return tuple(found)


def staff_request(username: str, groups: str) -> Request:
    """A still-valid ID token's claims on a staff route (GET /api/v1/collections)."""
    claims = {"cognito:username": username, "cognito:groups": groups}
    event = {
        "httpMethod": "GET",
        "resource": "/api/v1/collections",
        "requestContext": {"authorizer": {"claims": claims}},
    }
    return Request(event, None)


def seed_staff(admin: psycopg.Connection[Any], cognito: Any, pool_id: str) -> None:
    for name in ("BranchCashier", "BranchManager"):
        admin.execute(
            "INSERT INTO roles (role_name) VALUES (%s) ON CONFLICT (role_name) DO NOTHING",
            (name,),
        )
        cognito.create_group(UserPoolId=pool_id, GroupName=name)
    for username, role, branch, employee_id in STAFF:
        admin.execute(
            "INSERT INTO users (username, email, role_id, branch_code, employee_id)"
            " SELECT %s, %s, role_id, %s, %s FROM roles WHERE role_name = %s",
            (username, f"{username}@staff.example.com", branch, employee_id, role),
        )
        cognito.admin_create_user(UserPoolId=pool_id, Username=username)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)


@pytest.fixture
def harness(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": engine_db.app_url,
        "AUDIT_TABLE": AUDIT_TABLE,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AUDIT_ANCHOR_BUCKET", raising=False)
    monkeypatch.setattr("engine.clients.hrms._sleep", lambda _seconds: None)
    simulator = HrmsSimulator(API_USER, API_PASSWORD, API_KEY, employees=EMPLOYEES)
    with mock_aws(), engine_db.admin() as admin, simulator as sim:
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        boto3.client("dynamodb", region_name=REGION).create_table(
            **AUDIT.create_table_kwargs(AUDIT_TABLE)
        )
        secret = {"api_user": API_USER, "api_password": API_PASSWORD, "api_key": API_KEY}
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="engine/test/hrms", SecretString=json.dumps(secret)
        )["ARN"]
        seed_staff(admin, cognito, pool_id)
        assert sim.base_url
        monkeypatch.setenv("HRMS_BASE_URL", sim.base_url)
        monkeypatch.setenv("HRMS_SECRET_ARN", arn)
        monkeypatch.setenv("STAFF_USER_POOL_ID", pool_id)
        wiring.reset()
        wiring_hrms.reset()
        try:
            yield Harness(sim, admin, cognito, pool_id)
        finally:
            wiring.reset()
            wiring_hrms.reset()


def test_hrms_leavers_losing_access(harness: Harness) -> None:
    first = harness.run_job()
    assert (first["finished"], first["unchanged"], first["linked"]) == (True, 3, 1)
    assert isinstance(authorize(staff_request("cashier.br001", "BranchCashier")), Caller)

    harness.hrms(employee_id="FS1001", status="EXITED", date_of_exit="2026-12-03")
    report = harness.run_job()

    assert (report["deactivated"], report["carried"], report["pending"]) == (1, 1, 0)
    row = harness.row("cashier.br001")
    assert row["is_active"] is False and row["exited_at"] is not None
    assert harness.pool_user("cashier.br001")["Enabled"] is False
    # The ID token they were issued this morning still carries their group: refused.
    with pytest.raises(Forbidden):
        authorize(staff_request("cashier.br001", "BranchCashier"))
    (entry,) = [r for r in harness.audit("cashier.br001") if r.action == "USER_DEACTIVATED"]
    assert (entry.actor_id, entry.branch_code) == ("hrms-sync", "BR001")
    assert entry.details["employee_id"] == "FS1001"
    assert entry.details["date_of_exit"] == "2026-12-03"
    assert entry.details["role"] == "BranchCashier"
    assert "@" not in json.dumps(entry.details)  # no e-mail address in the trail
    # Everyone else keeps access; a re-run changes nothing more.
    assert isinstance(authorize(staff_request("cashier.br002", "BranchCashier")), Caller)
    again = harness.run_job()
    assert (again["deactivated"], again["carried"]) == (0, 0)


class FailingPool:
    """The staff pool while Cognito refuses every call."""

    def disable(self, username: str) -> bool:
        raise RuntimeError("Cognito throttled")

    def create(self, username: str, email: str) -> bool:
        raise RuntimeError("Cognito throttled")


def test_a_leaver_is_refused_while_the_pool_call_fails(harness: Harness) -> None:
    harness.hrms(employee_id="FS2001", status="EXITED")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wiring_users, "staff_pool", FailingPool)
        with pytest.raises(ChangesNotCarried):
            harness.run_job()

    assert harness.row("cashier.br002")["is_active"] is False
    assert harness.pool_user("cashier.br002")["Enabled"] is True
    with pytest.raises(Forbidden):
        authorize(staff_request("cashier.br002", "BranchCashier"))
    failed = harness.admin.execute(
        "SELECT attempts, last_error, done_at FROM hrms_changes WHERE action = 'USER_DEACTIVATED'"
    ).fetchone()
    assert failed == (1, "RuntimeError", None)

    # The next run (after the failed change's wait) disables the pool user.
    later = HrmsSync(
        wiring_hrms.store(),
        wiring_hrms.hrms(),
        wiring_users.staff_pool(),
        wiring_users.audit_log(),
        now=lambda: clock.now() + timedelta(minutes=16),
    )
    report = later.run(lambda: 600.0)
    assert (report.carried, report.carry_failed, report.pending) == (1, 0, 0)
    assert harness.pool_user("cashier.br002")["Enabled"] is False
    assert [r.action for r in harness.audit("cashier.br002")] == ["USER_DEACTIVATED"]


def test_a_transfer_moves_the_branch_and_keeps_the_role(harness: Harness) -> None:
    harness.run_job()
    harness.hrms(employee_id="FS1003", branch_code="BR002")

    report = harness.run_job()

    assert report["transferred"] == 1
    row = harness.row("manager.br001")
    assert (row["branch_code"], row["role"], row["employee_id"]) == (
        "BR002",
        "BranchManager",
        "FS1003",
    )
    caller = authorize(staff_request("manager.br001", "BranchManager"))
    assert caller.may_branch("BR002") and not caller.may_branch("BR001")
    moved = [r for r in harness.audit("manager.br001") if r.action == "USER_TRANSFERRED"]
    assert [(r.branch_code, r.details["from_branch"], r.details["to_branch"]) for r in moved] == [
        ("BR002", "BR001", "BR002")
    ]
    assert harness.groups("manager.br001") == ["BranchManager"]
    assert harness.run_job()["transferred"] == 0


def test_a_joiner_gets_a_row_without_a_role_and_a_pool_user_in_no_group(
    harness: Harness,
) -> None:
    harness.hrms(
        employee_id="FS1010",
        username="cashier3.br001",
        official_email="cashier3.br001@staff.example.com",
        branch_code="BR001",
    )
    harness.hrms(
        employee_id="FS7001",
        username="cashier.zz999",
        official_email="cashier.zz999@staff.example.com",
        branch_code="ZZ999",
    )

    report = harness.run_job()

    assert (report["created"], report["skipped"]) == (1, 1)
    assert report["skipped_reasons"] == {"unknown_branch": 1}
    row = harness.row("cashier3.br001")
    assert (row["role"], row["branch_code"], row["is_active"]) == (None, "BR001", True)
    assert row["employee_id"] == "FS1010"
    pool_user = harness.pool_user("cashier3.br001")
    attributes = {a["Name"]: a["Value"] for a in pool_user["UserAttributes"]}
    assert attributes["email"] == "cashier3.br001@staff.example.com"
    assert harness.groups("cashier3.br001") == []
    # Even a token that somehow named a group grants nothing until an admin grants a role.
    with pytest.raises(Forbidden):
        authorize(staff_request("cashier3.br001", "BranchCashier"))
    assert [r.action for r in harness.audit("cashier3.br001")] == ["USER_CREATED"]
    unknown = harness.admin.execute(
        "SELECT count(*) FROM users WHERE username = 'cashier.zz999'"
    ).fetchone()
    assert unknown == (0,)
    assert harness.run_job()["created"] == 0  # read again (the overlap): nothing new


class DownAfterFirstPage:
    """The real client; the HRMS goes down once the first page is answered."""

    def __init__(self, sim: HrmsSimulator) -> None:
        self.sim, self.pages = sim, 0

    def employees_changed_since(
        self, watermark: str, cursor: str | None = None, page_size: int = 100
    ) -> EmployeePage:
        page = wiring_hrms.hrms().employees_changed_since(watermark, cursor, page_size)
        self.pages += 1
        if self.pages == 1:
            self.sim.set_mode("down")
        return page


def sync_with(source: Any) -> HrmsSync:
    return HrmsSync(
        wiring_hrms.store(),
        source,
        wiring_users.staff_pool(),
        wiring_users.audit_log(),
        page_size=2,
    )


def test_an_interrupted_run_resumes_from_its_cursor(harness: Harness) -> None:
    harness.hrms(employee_id="FS2001", status="EXITED")  # the newest change: on page 2
    with pytest.raises(HrmsUnavailable):
        sync_with(DownAfterFirstPage(harness.sim)).run(lambda: 600.0)

    _, cursor, pages = harness.watermark()
    assert cursor is not None and pages == 1
    assert harness.row("manager.br001")["employee_id"] == "FS1003"  # page 1 applied
    assert harness.row("cashier.br002")["is_active"] is True  # page 2 not yet

    harness.sim.set_mode("ok")
    report = sync_with(wiring_hrms.hrms()).run(lambda: 600.0)

    assert (report.resumed, report.finished, report.pages) == (True, True, 1)
    assert (report.deactivated, report.carried) == (1, 1)
    assert harness.row("cashier.br002")["is_active"] is False
    assert harness.pool_user("cashier.br002")["Enabled"] is False
    answered = [
        next(iter(r["query"].get("cursor", [])), None)
        for r in harness.sim.received()
        if r["response_status"] == 200
    ]
    # The first page, then the resumed run's: from the saved cursor, not from the start.
    assert answered == [None, cursor]
    assert harness.watermark()[1] is None


def test_the_hrms_down_fails_the_run_and_keeps_the_watermark(harness: Harness) -> None:
    harness.run_job()
    before = harness.watermark()
    harness.hrms(employee_id="FS1001", status="EXITED")
    harness.sim.set_mode("down")

    with pytest.raises(HrmsUnavailable):
        harness.run_job()

    assert harness.watermark()[:2] == before[:2]
    assert harness.row("cashier.br001")["is_active"] is True
    statuses = [r["response_status"] for r in harness.sim.received()]
    assert statuses[-3:] == [503, 503, 503]  # the read was tried again within its budget

    harness.sim.set_mode("ok")
    assert harness.run_job()["deactivated"] == 1
    assert harness.watermark()[0] > before[0]
