"""The staff engine through `make local`, over HTTP only, as several staff users: tokens from
`POST /local/token?user=` (the seeded staff of local/engine_demo/seed.sql), the internal API,
the LMS and HRMS simulators' admin routes and the runner's jobs.

One runner for the module. BR001's day stays open (collections, cancellation); BR002's day
is submitted and approved (the DCR), so what follows it on BR002 lands on the next date.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Response, RunnerProcess, http, wait_for
from tests.e2e.engine.conftest import ACTIVE, SECOND, assert_engine_error, start_engine_runner

IST = ZoneInfo("Asia/Kolkata")
SETTLE = 30.0


def today() -> str:
    return datetime.now(UTC).astimezone(IST).date().isoformat()


@dataclass
class Staff:
    main: str
    internal: str
    lms: str
    hrms: str
    tokens: dict[str, str]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            answer = http("POST", f"{self.main}/local/token?user={user}")
            assert answer.status == 200, answer
            self.tokens[user] = str(answer.body["token"])
        return self.tokens[user]

    def call(
        self, user: str, method: str, path: str, body: Any = None, *, key: str | None = None
    ) -> Response:
        headers = {"Authorization": self.token(user), "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        data = json.dumps(body).encode() if body is not None else None
        return http(method, self.internal + path, data=data, headers=headers)

    def collect(
        self, user: str, loan: str, amount: str, key: str | None = None, at: str | None = None
    ) -> Response:
        """A cash EMI collection; a retry sends the same key and the same body (`at`)."""
        at = at or (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
        body = {
            "loan_account_number": loan,
            "amount": amount,
            "mode": "CASH",
            "purpose": "EMI",
            "collected_at": at,
        }
        return self.call(user, "POST", "/api/v1/collections", body, key=key or uuid.uuid4().hex)

    def job(self, name: str) -> dict[str, Any]:
        answer = http("POST", f"{self.main}/_local/jobs/{name}", timeout=120)
        assert answer.status == 200, answer
        return dict(answer.body["result"])

    def lms_receipts(self) -> dict[str, dict[str, Any]]:
        answer = http("GET", f"{self.lms}/_simulator/receipts")
        assert answer.status == 200, answer
        return {r["reference"]: r for r in answer.body}

    def wait_lms(self, reference: str, status: str) -> dict[str, Any]:
        def landed() -> dict[str, Any] | None:
            self.job("LmsSweep")
            found = self.lms_receipts().get(reference)
            return found if found and found["status"] == status else None

        return dict(wait_for(landed, SETTLE, 0.5, what=f"{reference} {status} at the LMS"))


@pytest.fixture(scope="module")
def runner() -> Iterator[tuple[RunnerProcess, Staff]]:
    process, engine = start_engine_runner("--fast")
    try:
        e = engine.endpoints
        yield process, Staff(e["payouts"], e["internal"], e["lms"], e["hrms"], {})
    finally:
        process.stop()


@pytest.fixture
def staff(runner: tuple[RunnerProcess, Staff]) -> Staff:
    return runner[1]


def test_sign_in_tokens_carry_roles_and_an_inactive_user_cannot_sign_in(staff: Staff) -> None:
    refused = http("POST", f"{staff.main}/local/token?user=leaver.br001")
    assert refused.status == 403, refused
    unknown = staff.call("nobody.br001", "GET", "/api/v1/collections")
    assert_engine_error(unknown, 403, "FORBIDDEN")
    # The sign-in was audited (the staff pool's post-authentication trigger).
    staff.token("cashier.br001")
    records = staff.call("finance.ho", "GET", f"/api/v1/audit?date={today()}&action=LOGIN")
    assert records.status == 200, records
    assert "cashier.br001" in {r["actor_username"] for r in records.body["items"]}


def test_a_cashier_collects_and_the_receipt_reaches_the_lms_once(staff: Staff) -> None:
    key, at = uuid.uuid4().hex, (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    first = staff.collect("cashier.br001", ACTIVE, "1500.00", key, at)
    assert first.status == 201, first
    receipt = first.body["receipt_number"]
    assert receipt.startswith("BR001/")
    again = staff.collect("cashier.br001", ACTIVE, "1500.00", key, at)
    assert again.status in (200, 201) and again.body["receipt_number"] == receipt, again
    other_body = staff.collect("cashier.br001", ACTIVE, "1600.00", key, at)
    assert_engine_error(other_body, 409)
    landed = staff.wait_lms(receipt, "POSTED")
    assert Decimal(str(landed["amount"])) == Decimal("1500.00")
    # Another branch's cashier may not take money on this branch's loan.
    assert_engine_error(staff.collect("cashier.br002", ACTIVE, "100.00"), 403)


def test_only_the_branch_manager_cancels_and_the_reversal_reaches_the_lms(staff: Staff) -> None:
    taken = staff.collect("officer.br001", ACTIVE, "250.00")
    assert taken.status == 201, taken
    collection_id, receipt = taken.body["collection_id"], taken.body["receipt_number"]
    staff.wait_lms(receipt, "POSTED")
    path = f"/api/v1/collections/{collection_id}/cancel"
    reason = {"reason": "keyed against the wrong loan"}
    assert_engine_error(staff.call("manager.br002", "POST", path, reason), 403)
    assert_engine_error(staff.call("cashier.br001", "POST", path, reason), 403)
    cancelled = staff.call("manager.br001", "POST", path, reason)
    assert cancelled.status == 200 and cancelled.body["status"] == "CANCELLED", cancelled
    staff.wait_lms(receipt, "CANCELLED")
    assert_engine_error(staff.call("manager.br001", "POST", path, {"reason": "again"}), 409)


def test_cash_from_one_payer_is_limited_per_day(staff: Staff) -> None:
    assert staff.collect("cashier.br001", ACTIVE, "150000.00").status == 201
    refused = staff.collect("officer.br001", ACTIVE, "60000.00")
    assert_engine_error(refused, 422, "CASH_LIMIT_EXCEEDED")


def test_the_day_is_counted_submitted_and_approved_by_someone_else(staff: Staff) -> None:
    taken = staff.collect("cashier.br002", SECOND, "1700.00")
    assert taken.status == 201, taken
    assert taken.body["business_date"] == today()
    day = f"/api/v1/dcr/BR002/{today()}"
    seen = staff.call("cashier.br002", "GET", day)
    assert seen.status == 200 and seen.body["status"] == "DRAFT", seen
    cash = Decimal(seen.body["totals"]["cash_collected"])
    assert cash == Decimal("1700.00"), seen
    short = {"denominations": {"500": 3, "100": 1}, "coins": 0}
    assert_engine_error(staff.call("cashier.br002", "POST", day + "/submit", short), 422)
    counted = {"denominations": {"500": 3, "100": 2}, "coins": 0}
    submitted = staff.call("cashier.br002", "POST", day + "/submit", counted)
    assert submitted.status == 200 and submitted.body["status"] == "SUBMITTED", submitted
    assert_engine_error(staff.call("manager.br001", "POST", day + "/approve"), 403)
    approved = staff.call("manager.br002", "POST", day + "/approve")
    assert approved.status == 200 and approved.body["status"] == "APPROVED", approved
    assert staff.call("manager.br002", "POST", day + "/approve").body == approved.body
    # The day is locked: a late collection lands on the next date; nothing is cancelled.
    late = staff.collect("cashier.br002", SECOND, "100.00")
    assert late.status == 201 and late.body["business_date"] > today(), late
    cancel = f"/api/v1/collections/{taken.body['collection_id']}/cancel"
    assert_engine_error(staff.call("manager.br002", "POST", cancel, {"reason": "late"}), 409)


def test_the_audit_trail_verifies_and_names_who_did_what(staff: Staff) -> None:
    listed = staff.call("admin.ho", "GET", f"/api/v1/audit?date={today()}&branch_code=BR001")
    assert listed.status == 200, listed
    actions = {r["action"] for r in listed.body["items"]}
    assert {"COLLECTION_CREATED", "COLLECTION_CANCELLED"} <= actions, actions
    verdict = staff.call("finance.ho", "GET", f"/api/v1/audit/verify?date={today()}")
    assert verdict.status == 200 and verdict.body["ok"] is True, verdict
    assert verdict.body["first_broken"] is None
    assert_engine_error(staff.call("cashier.br001", "GET", f"/api/v1/audit?date={today()}"), 403)


def test_an_hrms_leaver_loses_access_with_a_token_still_valid(staff: Staff) -> None:
    before = staff.call("officer.br002", "GET", "/api/v1/collections")
    assert before.status == 200, before
    exited = {
        "employee_id": "FS2003",
        "username": "officer.br002",
        "official_email": "officer.br002@staff.example.com",
        "status": "EXITED",
        "date_of_exit": today(),
        "branch_code": "BR002",
        "designation": "Field Officer",
    }
    posted = http(
        "POST",
        f"{staff.hrms}/_simulator/employees",
        data=json.dumps(exited).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert posted.status == 200, posted
    summary = staff.job("HrmsSync")
    assert summary["deactivated"] >= 1, summary
    assert_engine_error(staff.call("officer.br002", "GET", "/api/v1/collections"), 403)
