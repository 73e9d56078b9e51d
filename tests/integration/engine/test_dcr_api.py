"""The DCR routes through their handler, as API Gateway calls them: callers resolved from
their Cognito claims to PostgreSQL users rows (engine_app), collections in PostgreSQL, and
the real audit trail (engine.wiring_audit) on moto's DynamoDB.

Who may do what is the route's permission and the path's branch: a cashier submits and
reopens, a branch manager of that branch approves or rejects (never the submitter), head
office reads. Refusals answer in the engine's error shape and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engine import settings, wiring
from engine.dal.ddb.audit import AuditLog
from engine.dal.pg.db import Database, connect_engine
from engine.tables import AUDIT
from local.events import rest_event
from tests.dcr_support import STAFF, collect, seed_staff, today_ist
from tests.engine_pg import EngineDb
from tests.support import ApiResponse, invoke

REGION = "ap-south-1"
DAY = today_ist() - timedelta(days=1)
LIST = "/api/v1/dcr"
ONE = "/api/v1/dcr/{branch_code}/{collection_date}"
COUNT = {"denominations": {"500": 3, "100": 4}, "coins": 0}  # ₹1,900


@dataclass
class Api:
    db: EngineDb
    ids: dict[str, str]
    dynamodb: Any
    pg: Database

    def call(
        self,
        method: str,
        step: str = "",
        *,
        as_user: str | None = "cashier.br001",
        branch: str = "BR001",
        day: str = DAY.isoformat(),
        body: Any = None,
        query: dict[str, str] | None = None,
        raw_body: str | None = None,
        role: str | None = None,
    ) -> ApiResponse:
        from engine.handlers.internal import dcr

        resource = LIST if step == "list" else ONE + (f"/{step}" if step else "")
        params = None if step == "list" else {"branch_code": branch, "collection_date": day}
        path = resource.replace("{branch_code}", branch).replace("{collection_date}", day)
        claims = None
        if as_user is not None:
            groups = f"[{role or STAFF[as_user][0]}]"
            claims = {"cognito:username": as_user, "cognito:groups": groups}
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters=params,
            query=query,
            body=raw_body if raw_body is not None else (json.dumps(body) if body else None),
            claims=claims,
        )
        return invoke(dcr.handler, event, "InternalDcr")

    def submit(self, body: Any = None, **kw: Any) -> ApiResponse:
        return self.call("POST", "submit", body=body or COUNT, **kw)

    def collect(self, amount: str, branch: str = "BR001") -> None:
        collect(self.pg, self.ids[f"cashier.{branch.lower()}"], branch, DAY, amount)

    def trail(self, dcr_id: str) -> list[tuple[str, str]]:
        records = AuditLog(self.dynamodb, AUDIT.logical_name).page("entity_id", dcr_id, 20).records
        return [(r.action, r.actor_id) for r in records]


@pytest.fixture
def api(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
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
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws(), engine_db.admin() as admin:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**AUDIT.create_table_kwargs(AUDIT.logical_name))
        wiring.reset()
        pg = Database(lambda: connect_engine("engine-dcr-api-test", 5000))
        yield Api(engine_db, seed_staff(admin), dynamodb, pg)
        pg.close_all()
        wiring.reset()
        settings.reset()


def error_of(answer: ApiResponse) -> tuple[int, str]:
    assert set(answer.body["error"]) == {"code", "message", "details", "timestamp", "traceId"}
    return answer.status, answer.body["error"]["code"]


def test_a_cashier_submits_and_another_branchs_manager_cannot_approve(api: Api) -> None:
    api.collect("1900.00")

    submitted = api.submit()
    assert submitted.status == 200, submitted.body
    assert submitted.headers["Cache-Control"] == "no-store"
    body = submitted.body
    assert (body["status"], body["totals"]["closing_balance"]) == ("SUBMITTED", "1900.00")
    assert body["submission"]["dbs"]["denominations"] == {
        "500": 3,
        "200": 0,
        "100": 4,
        "50": 0,
        "20": 0,
        "10": 0,
    }
    assert body["submission"]["counted_cash"] == "1900.00"

    outsider = api.call("POST", "approve", as_user="manager.br002")
    assert error_of(outsider) == (403, "FORBIDDEN")
    assert api.call("GET").body["status"] == "SUBMITTED"
    assert api.trail(body["dcr_id"]) == [("DCR_SUBMITTED", api.ids["cashier.br001"])]


def test_approval_by_the_branch_manager_is_idempotent_and_audited_once(api: Api) -> None:
    api.collect("1900.00")
    dcr_id = api.submit().body["dcr_id"]

    first = api.call("POST", "approve", as_user="manager.br001")
    again = api.call("POST", "approve", as_user="manager.br001")

    assert first.status == again.status == 200
    assert first.body == again.body and first.body["status"] == "APPROVED"
    assert first.body["approval"]["by"] == api.ids["manager.br001"]
    assert api.trail(dcr_id) == [
        ("DCR_SUBMITTED", api.ids["cashier.br001"]),
        ("DCR_APPROVED", api.ids["manager.br001"]),
    ]


def test_the_submitter_promoted_to_manager_still_cannot_approve(api: Api) -> None:
    api.collect("1900.00")
    api.submit()
    with api.db.admin() as admin:
        admin.execute(
            "UPDATE users SET role_id = (SELECT role_id FROM roles WHERE role_name = "
            "'BranchManager') WHERE username = 'cashier.br001'"
        )
    # A token issued after the promotion carries the new group.
    answer = api.call("POST", "approve", as_user="cashier.br001", role="BranchManager")

    assert error_of(answer) == (403, "MAKER_CHECKER")
    assert api.call("GET", as_user="manager.br001").body["status"] == "SUBMITTED"


@pytest.mark.parametrize(
    ("as_user", "step"),
    [("cashier.br001", "approve"), ("manager.br001", "submit"), ("finance.ho", "reopen")],
)
def test_a_role_without_the_permission_is_refused(api: Api, as_user: str, step: str) -> None:
    api.collect("1900.00")

    answer = api.call("POST", step, as_user=as_user, body=COUNT)

    assert error_of(answer) == (403, "FORBIDDEN")
    assert api.call("GET").body["status"] == "DRAFT"


def test_without_a_staff_identity_nothing_is_read(api: Api) -> None:
    assert error_of(api.call("GET", as_user=None)) == (401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"day": "2026-02-30"}, "collection_date"),
        ({"day": "20260201"}, "collection_date"),
        ({"branch": "br-1"}, "branch_code"),
        ({"body": {"denominations": {"500": 1.5}, "coins": 0}}, "denominations"),
        ({"body": {"denominations": {"2000": 1}, "coins": 0}}, "denominations"),
        ({"body": {"denominations": {}, "coins": -1}}, "coins"),
        ({"raw_body": "{not json"}, "body"),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(api: Api, kw: dict[str, Any], field: str) -> None:
    api.collect("1900.00")

    answer = api.submit(**kw)

    assert error_of(answer) == (400, "VALIDATION_ERROR")
    assert field in [d["field"] for d in answer.body["error"]["details"]]
    assert api.call("GET").body["submission"] is None


def test_a_count_that_differs_without_a_reason_is_a_422(api: Api) -> None:
    api.collect("2000.00")

    refused = api.submit()
    accepted = api.submit({**COUNT, "variance_reason": "₹100 short, cashier to explain"})

    assert error_of(refused) == (422, "VARIANCE_REASON_REQUIRED")
    assert accepted.status == 200
    assert accepted.body["submission"]["variance_amount"] == "-100.00"


def test_a_future_date_is_a_422(api: Api) -> None:
    answer = api.submit(day=(today_ist() + timedelta(days=2)).isoformat())

    assert error_of(answer) == (422, "DATE_IN_FUTURE")


def test_reject_needs_a_reason_then_the_cashier_reopens(api: Api) -> None:
    api.collect("1900.00")
    api.submit()

    unreasoned = api.call("POST", "reject", as_user="manager.br001", body={"why": "x"})
    assert error_of(unreasoned) == (400, "VALIDATION_ERROR")
    rejected = api.call(
        "POST", "reject", as_user="manager.br001", body={"reason": "Recount the ₹100 notes"}
    )
    assert rejected.status == 200 and rejected.body["rejection"]["reason"] == (
        "Recount the ₹100 notes"
    )
    assert error_of(api.call("POST", "approve", as_user="manager.br001")) == (
        409,
        "INVALID_TRANSITION",
    )

    reopened = api.call("POST", "reopen", as_user="cashier2.br001")
    assert reopened.status == 200
    assert (reopened.body["status"], reopened.body["submission"]) == ("DRAFT", None)
    assert reopened.body["rejection"]["reason"] == "Recount the ₹100 notes"


def test_a_day_without_a_dcr_reads_as_an_empty_draft(api: Api) -> None:
    answer = api.call("GET", as_user="finance.ho", branch="BR002")

    assert answer.status == 200
    assert (answer.body["status"], answer.body["dcr_id"]) == ("DRAFT", None)
    assert set(answer.body["totals"].values()) == {"0.00"}
    assert error_of(api.call("GET", as_user="finance.ho", branch="BR999")) == (404, "NOT_FOUND")
    assert error_of(api.call("GET", as_user="cashier.br001", branch="BR002")) == (403, "FORBIDDEN")


def test_listings_are_confined_to_the_callers_branch(api: Api) -> None:
    api.collect("1900.00")
    api.collect("800.00", branch="BR002")

    own = api.call("GET", "list", as_user="manager.br001")
    everyone = api.call("GET", "list", as_user="finance.ho", query={"status": "DRAFT"})
    other = api.call("GET", "list", as_user="manager.br001", query={"branch_code": "BR002"})
    wide = api.call(
        "GET", "list", as_user="finance.ho", query={"from": "2026-01-01", "to": "2026-03-01"}
    )

    assert [(i["branch_code"], i["totals"]["cash_collected"]) for i in own.body["items"]] == [
        ("BR001", "1900.00")
    ]
    assert {i["branch_code"] for i in everyone.body["items"]} == {"BR001", "BR002"}
    assert error_of(other) == (403, "FORBIDDEN")
    assert error_of(wide) == (400, "VALIDATION_ERROR")
