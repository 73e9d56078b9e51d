"""The runner's engine options, each on a runner of its own: short sessions and a fast sweep
(`--session-ttl`, `--sweep-every`), an existing database (`DATABASE_URL`), and state kept
across a restart (`--data-dir`: moto's state and the PostgreSQL cluster)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests import postgres
from tests.e2e.engine.conftest import (
    ACTIVE,
    SECOND,
    Engine,
    assert_engine_error,
    start_engine_runner,
)


@pytest.fixture(scope="module")
def quick() -> Iterator[Engine]:
    """Sessions that last 3 s and a sweep every second, so expiry and a sweep are seen
    without waiting 15 and 5 minutes."""
    process, engine = start_engine_runner("--session-ttl", "3", "--sweep-every", "1")
    try:
        yield engine
    finally:
        process.stop()


def test_an_expired_session_is_401(quick: Engine) -> None:
    session = quick.open_session(ACTIVE)
    assert quick.loan(session)["loan_account_number"] == ACTIVE
    time.sleep(4)
    answer = quick.call("GET", f"/api/v1/customer/loans/{ACTIVE}", session=session)
    assert_engine_error(answer, 401, "UNAUTHORIZED")
    assert_engine_error(quick.create(session, "1.00"), 401, "UNAUTHORIZED")


def test_the_sweeper_captures_what_no_webhook_and_no_notification_told(quick: Engine) -> None:
    session = quick.open_session(SECOND)
    payment = quick.created(session, "31.00")
    quick.mode("lost_webhook")
    quick.checkout(payment["razorpay_order_id"])  # paid; then silence
    fresh = quick.open_session(SECOND)  # the first one may expire while we wait
    captured = quick.wait_payment(fresh, payment["payment_id"], "CAPTURED")
    assert captured["receipt_number"], captured


def test_a_database_url_is_migrated_seeded_and_used(tmp_path: Path) -> None:
    server = postgres.server()
    url = postgres.create_database(server.admin_url, prefix="local_runner")
    try:
        process, engine = start_engine_runner(env={"DATABASE_URL": url})
        try:
            assert "DATABASE_URL PostgreSQL" in process.output()
            assert {x["loan_account_number"] for x in engine.demo["loans"]} >= {ACTIVE, SECOND}
            session = engine.open_session(ACTIVE)
            before = engine.outstanding(session)
            payment = engine.created(session, "9.99")
            paid = engine.checkout(payment["razorpay_order_id"])
            assert engine.notify(session, payment["payment_id"], paid).status == 200
            engine.wait_outstanding(session, before - Decimal("9.99"))
        finally:
            process.stop()
    finally:
        postgres.drop_database(server.admin_url, url)


def test_data_dir_keeps_payments_and_balances_across_a_restart(tmp_path: Path) -> None:
    process, engine = start_engine_runner("--data-dir", str(tmp_path))
    session = engine.open_session(ACTIVE)
    before = engine.outstanding(session)
    payment = engine.created(session, "42.00")
    paid = engine.checkout(payment["razorpay_order_id"])
    assert engine.notify(session, payment["payment_id"], paid).status == 200
    engine.wait_outstanding(session, before - Decimal("42.00"))
    assert process.stop() == 0, process.output(40)

    again, restarted = start_engine_runner("--data-dir", str(tmp_path))
    try:
        assert "restored from" in again.output()
        kept = restarted.session(ACTIVE)
        assert restarted.outstanding(kept) == before - Decimal("42.00")  # PostgreSQL kept
        status = restarted.payment(kept, payment["payment_id"])  # DynamoDB kept
        assert status["status"] == "CAPTURED" and status["receipt_number"], status
    finally:
        again.stop()
        _remove_kept_cluster(tmp_path / "postgres")


def _remove_kept_cluster(wanted: Path) -> None:
    """As root, the cluster may live outside the data dir (its owner cannot enter root's
    0700 test directories); WHERE.txt says where. Removed so test runs leave nothing."""
    where = wanted / "WHERE.txt"
    if where.exists():
        shutil.rmtree(where.read_text().rsplit(" ", 1)[-1].strip(), ignore_errors=True)
