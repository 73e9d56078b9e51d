"""The LoanSync job against the LMS simulator over HTTP (its credentials in moto's Secrets
Manager, as the function reads them) and a real PostgreSQL: loans imported, changes at the LMS
applied, receipts counted once whether posted or not, a run cut short resumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from engine import settings, wiring, wiring_lms
from engine.clients.lms import LmsClient, LmsUnavailable, ReceiptPost
from engine.clients.lms_models import LoanPage
from engine.handlers.consumers import transactions_stream
from engine.handlers.jobs import loan_sync as job
from engine.logic.loan_sync import LoanSync
from engine.wiring_loan_sync import store
from local.events import LambdaContext
from simulators.lms import LmsSimulator
from tests.engine_pg import EngineDb
from tests.integration.engine.lms_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    SEED_LOANS,
    FakeClock,
    client_for,
    ref,
    running_simulator,
)
from tests.transactions_support import balances, event, item, record

REGION = "ap-south-1"
KNOWN = ("LN0000000001", "LN0000000002", "LN0000000003")  # tests/engine_pg.py seeds these


@dataclass
class Harness:
    sim: LmsSimulator
    admin: psycopg.Connection[Any]
    client: LmsClient

    def run_job(self) -> dict[str, Any]:
        context = LambdaContext(function_name="LoanSync", timeout_seconds=300)
        return job.handler({}, context)

    def capture(self, tid: str, loan: str, amount: str, receipt: int, **posted: str) -> None:
        """The Transactions stream delivers a captured payment (and its poster's mark)."""
        image = item(tid, loan, amount, "CAPTURED", 2)
        image["receipt_number"] = ref(receipt)
        image |= posted
        context = LambdaContext(function_name="TransactionsSync")
        answer = transactions_stream.handler(event(record(image)), context)
        assert answer == {"batchItemFailures": []}

    def post(self, tid: str, loan: str, amount: str, receipt: int) -> None:
        """The poster's part: the receipt posted to the LMS, then the transaction marked."""
        posted = self.client.post_receipt(
            ReceiptPost(
                reference=ref(receipt),
                loan_account_number=loan,
                amount=Decimal(amount),
                currency="INR",
                received_at="2026-12-03T06:41:00Z",
                channel="PORTAL",
                payment_mode="UPI",
                branch_code="BR001",
            )
        )
        self.capture(
            tid,
            loan,
            amount,
            receipt,
            lms_receipt_id=posted.receipt.receipt_id,
            lms_posted_at=posted.receipt.posted_at,
        )

    def loan(self, number: str) -> tuple[Any, ...]:
        found = self.admin.execute(
            "SELECT outstanding_balance, advance_balance, emi_amount, next_due_date,"
            " overdue_amount, days_past_due, loan_status FROM loan_accounts"
            " WHERE loan_account_number = %s",
            (number,),
        ).fetchone()
        assert found is not None
        return tuple(str(v) if isinstance(v, Decimal) else v for v in found)


@pytest.fixture
def harness(engine_db: EngineDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATABASE_URL": engine_db.app_url,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(), engine_db.admin() as admin:
        for sim in running_simulator(FakeClock()):
            arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name="engine/test/lms",
                SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )["ARN"]
            assert sim.base_url
            monkeypatch.setenv("LMS_BASE_URL", sim.base_url)
            monkeypatch.setenv("LMS_SECRET_ARN", arn)
            wiring.reset()
            wiring_lms.reset()
            transactions_stream.syncer.cache_clear()
            try:
                yield Harness(sim, admin, client_for(sim))
            finally:
                wiring.reset()
                wiring_lms.reset()
                settings.reset()


def test_the_job_imports_the_lms_and_counts_each_receipt_once(harness: Harness) -> None:
    first = harness.run_job()

    assert (first["finished"], first["applied"], first["unknown"]) == (True, 3, 2)
    assert harness.loan("LN0000000002") == (
        "612345.50",
        "0.00",
        "18000.00",
        date(2026, 10, 24),
        "36000.00",
        40,
        "ACTIVE",
    )
    assert harness.loan("LN0000000003")[6] == "NPA"
    assert balances(harness.admin, "LN0000000001") == ("1850000.00", "0.00")

    # Two receipts captured; only the first reaches the LMS before the next sync.
    harness.capture("pay_lms_0000001", "LN0000000001", "2500.00", 1)
    harness.capture("pay_lms_0000002", "LN0000000001", "1000.00", 2)
    harness.post("pay_lms_0000001", "LN0000000001", "2500.00", 1)
    assert balances(harness.admin, "LN0000000001") == ("1846500.00", "0.00")
    lms_loan = harness.sim.loan("LN0000000001")
    assert lms_loan is not None
    assert lms_loan["outstanding_amount"] == "1847500.00"
    assert lms_loan["recent_receipt_references"] == [ref(1)]
    # A change at the LMS itself: LN0000000002 caught up on its arrears.
    harness.sim.upsert_loans(
        [
            {
                "loan_account_number": "LN0000000002",
                "outstanding_amount": "576345.50",
                "overdue_amount": "0.00",
                "days_past_due": 0,
                "next_due_date": "2026-12-24",
            }
        ]
    )

    second = harness.run_job()

    assert (second["finished"], second["applied"], second["unknown"]) == (True, 2, 2)
    # 1,847,500.00 at the LMS (receipt 1 in it) less receipt 2, which it does not have yet.
    assert balances(harness.admin, "LN0000000001") == ("1846500.00", "0.00")
    assert harness.loan("LN0000000002")[:6] == (
        "576345.50",
        "0.00",
        "18000.00",
        date(2026, 12, 24),
        "0.00",
        0,
    )

    harness.post("pay_lms_0000002", "LN0000000001", "1000.00", 2)
    third = harness.run_job()

    assert third["applied"] == 1
    assert balances(harness.admin, "LN0000000001") == ("1846500.00", "0.00")
    assert harness.run_job()["applied"] == 0  # nothing changed since: re-read, not re-applied


class MaintenanceAfterFirstPage:
    """The real client; the LMS goes into maintenance once the first page is answered."""

    def __init__(self, client: LmsClient, sim: LmsSimulator) -> None:
        self.client, self.sim, self.pages = client, sim, 0

    def loans_changed_since(
        self, watermark: str, cursor: str | None = None, limit: int = 100
    ) -> LoanPage:
        page = self.client.loans_changed_since(watermark, cursor, limit)
        self.pages += 1
        if self.pages == 1:
            self.sim.set_mode("maintenance", seconds=600)
        return page


def test_a_run_the_lms_interrupts_resumes_from_its_cursor(harness: Harness) -> None:
    source = MaintenanceAfterFirstPage(harness.client, harness.sim)
    with pytest.raises(LmsUnavailable):
        LoanSync(store(), source, page_size=2).run(lambda: 300.0)

    saved = harness.admin.execute("SELECT cursor, run_pages FROM lms_sync_state").fetchone()
    assert saved is not None and saved[0] is not None and saved[1] == 1
    imported = [balances(harness.admin, n)[0] for n in KNOWN]
    assert imported[:2] == ["1850000.00", "612345.50"]  # page 1: the first two loans
    assert imported[2] == "0.00"  # LN0000000003 as seeded in PostgreSQL, not yet synced

    harness.sim.set_mode("ok")
    report = LoanSync(store(), harness.client, page_size=2).run(lambda: 300.0)

    assert (report.resumed, report.finished, report.pages) == (True, True, 2)
    assert balances(harness.admin, "LN0000000003") == ("430000.00", "0.00")
    assert [loan["loan_account_number"] for loan in SEED_LOANS][:3] == list(KNOWN)
    answered = [
        next(iter(r["query"].get("cursor", [])), None)
        for r in harness.sim.received()
        if r["route"] == "/api/v1/loans" and r["response_status"] == 200
    ]
    # The first page, then the resumed run's: from the saved cursor, not from the start.
    assert len(answered) == 3 and answered[0] is None
    assert answered[1] == saved[0]
    assert harness.admin.execute("SELECT cursor FROM lms_sync_state").fetchone() == (None,)
