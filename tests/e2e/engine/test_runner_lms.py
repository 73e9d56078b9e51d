"""The runner's LMS wiring across a restart and with `--fast`: `--data-dir` keeps the LMS
simulator's client credentials as it keeps RazorPay's (the secret restored into moto still
opens the LMS), an item queued while the LMS was down is still there after the restart and
posts once; `--fast` paces the LMS jobs every 5 s; `POST /local/token?user=` mints a staff
member's token for the internal API."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.conftest import http
from tests.e2e.engine.conftest import SECOND, start_engine_runner
from tests.e2e.engine.lms_support import Lms, pay


def test_data_dir_keeps_the_lms_credentials_and_the_queued_receipts(tmp_path: Path) -> None:
    process, engine = start_engine_runner(
        "--data-dir", str(tmp_path), "--every", "LmsSweep=0", "--every", "LmsHeartbeat=0"
    )
    lms = Lms(engine)
    assert lms.job("LmsHeartbeat") == {"lms_reachable": True}
    lms.mode("down")
    paid = pay(engine, engine.session(SECOND), "12.34")
    lms.wait_queued([paid])
    client_id = engine.demo["lms"]["client_id"]
    assert process.stop() == 0, process.output(40)

    again, restarted = start_engine_runner(
        "--data-dir", str(tmp_path), "--every", "LmsSweep=0", "--every", "LmsHeartbeat=0"
    )
    try:
        assert "restored from" in again.output()
        assert restarted.demo["lms"]["client_id"] == client_id
        lms = Lms(restarted)  # a new simulator process, up, with the same credentials
        assert lms.job("LmsHeartbeat") == {"lms_reachable": True}
        lms.reset_breaker()
        [item] = lms.items([paid]).values()
        assert item["status"] == "PENDING" and item["lms_receipt_id"] is None, item
        lms.sweep_until_settled([paid])
        assert lms.successes(lms.posts([paid.reference])) == {paid.reference: 1}
        assert lms.items([paid])[paid.reference]["status"] == "POSTED"
    finally:
        again.stop()
        _remove_kept_cluster(tmp_path / "postgres")


def test_fast_paces_the_lms_jobs_and_a_staff_token_opens_the_internal_list() -> None:
    process, engine = start_engine_runner("--fast")
    try:
        url = f"{engine.endpoints['internal']}/api/v1/lms/postings?status=EXCEPTION"
        staff = http("POST", f"{engine.main}/local/token?user=finance.ho")
        assert staff.status == 200, staff
        listed = http("GET", url, headers={"Authorization": staff.body["token"]})
        assert listed.status == 200 and listed.body["items"] == [], listed
        # A branch cashier's token is valid, but the role does not hold lms:read.
        cashier = http("POST", f"{engine.main}/local/token?user=cashier.br001")
        assert cashier.status == 200, cashier
        refused = http("GET", url, headers={"Authorization": cashier.body["token"]})
        assert refused.status == 403, refused
        for bad in ("", "a%20b", "x" * 65):
            refused = http("POST", f"{engine.main}/local/token?user={bad}")
            assert refused.status == 400 and set(refused.body) == {"error", "message", "timestamp"}
        jobs = {j["job"]: j for j in http("GET", f"{engine.main}/_local/jobs").body["jobs"]}
        assert jobs["LmsSweep"]["every_seconds"] == 5 and jobs["LmsHeartbeat"]["every_seconds"] == 5
        assert jobs["TransactionsRepair"]["every_seconds"] == 30
        assert jobs["PaymentSweep"]["every_seconds"] == 5
        banner = process.output()
        assert "LMS simulator:" in banner and engine.endpoints["lms"] in banner
    finally:
        process.stop()


def _remove_kept_cluster(wanted: Path) -> None:
    """As root the cluster may live outside the data dir (WHERE.txt says where): removed, so
    test runs leave nothing (as test_runner_options does)."""
    where = wanted / "WHERE.txt"
    if where.exists():
        shutil.rmtree(where.read_text().rsplit(" ", 1)[-1].strip(), ignore_errors=True)
