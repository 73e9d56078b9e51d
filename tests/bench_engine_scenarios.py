"""The payments engine's operations for `make bench` to time and count (scripts/bench_engine.py).

Each scenario gets a migrated PostgreSQL database of its own, on the server tests/postgres.py
finds or starts, used as engine_app.

- `stream_scenario()`: loans to pay, and the TransactionsSync handler pointed at the database.
- `portal_scenario()`: the portal payment tests' harness (moto, the RazorPay simulator, the
  seeded loans) and the three operations whose AWS calls and SQL round trips are counted.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.db.migrate import apply_migrations
from local.events import LambdaContext
from tests import engine_pg, pg_round_trips, postgres
from tests.transactions_support import event, item, record

LOANS = 50
OUTSTANDING = Decimal("100000000.00")


def _insert() -> str:
    """A bare INSERT of every PaymentRow field (its columns are the payments table's)."""
    from engine.dal.pg.payments import PaymentRow

    columns = [f.name for f in fields(PaymentRow)]
    placeholders = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO payments ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608


@dataclass(frozen=True)
class Batch:
    event: dict[str, Any]  # the stream batch, as Lambda delivers it
    rows: list[tuple[Any, ...]]  # the same payments as plain INSERT parameters, other ids


class StreamScenario:
    def __init__(self, app_url: str) -> None:
        self._app_url = app_url
        self._batches = 0
        self._bare = psycopg.connect(app_url, autocommit=True, prepare_threshold=None)
        self._insert = _insert()

    def batch(self, size: int) -> Batch:
        """`size` captured payments spread over the loans, never seen before."""
        from engine.logic.sync import row_from_item

        self._batches += 1
        items = [
            item(f"pay_b{self._batches:04d}x{i:06d}", _loan(i), "10.00", "CAPTURED", 2)
            for i in range(size)
        ]
        rows = []
        for values in items:
            row = row_from_item(values)
            rows.append((f"{row.transaction_id}_bare", *astuple(row)[1:]))
        return Batch(event(*(record(values) for values in items)), rows)

    def consume(self, batch: Batch) -> float:
        """Seconds the TransactionsSync handler takes on the batch (it must report no failure)."""
        from engine.handlers.consumers import transactions_stream

        started = time.perf_counter()
        answer = transactions_stream.handler(batch.event, LambdaContext("TransactionsSync"))
        elapsed = time.perf_counter() - started
        assert answer["batchItemFailures"] == [], answer
        return elapsed

    def executemany(self, batch: Batch) -> float:
        """Seconds a bare `executemany` INSERT of the same rows takes, in one transaction."""
        started = time.perf_counter()
        with self._bare.transaction(), self._bare.cursor() as cur:
            cur.executemany(self._insert, batch.rows)
        return time.perf_counter() - started

    def round_trips(self, batch: Batch) -> int:
        from engine import wiring

        with pg_round_trips.counting(wiring.database().connection()) as trips:
            self.consume(batch)
        return trips.count

    def close(self) -> None:
        self._bare.close()


def _loan(i: int) -> str:
    return f"LNBENCH{i % LOANS:05d}"


def _as_role(url: str, role: str) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    params["user"] = role
    params.pop("password", None)
    return make_conninfo(**params)


def _seed(conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO branches (branch_code, branch_name) VALUES ('BR001', 'Bench')")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO loan_accounts (loan_account_number, loan_type, outstanding_balance,"
            " branch_code) VALUES (%s, 'LAP', %s, 'BR001')",
            [(_loan(i), OUTSTANDING) for i in range(LOANS)],
        )


@contextmanager
def stream_scenario() -> Iterator[StreamScenario]:
    from engine import wiring

    server = postgres.server()
    url = postgres.create_database(server.admin_url, prefix="engine_bench")
    saved = dict(os.environ)
    scenario: StreamScenario | None = None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
            _seed(conn)
        app_url = _as_role(url, "engine_app")
        os.environ.update({"DATABASE_URL": app_url, "POWERTOOLS_SERVICE_NAME": "engine"})
        wiring.reset()
        scenario = StreamScenario(app_url)
        yield scenario
    finally:
        if scenario is not None:
            scenario.close()
        wiring.reset()
        os.environ.clear()
        os.environ.update(saved)
        postgres.drop_database(server.admin_url, url)


class PortalScenario:
    """Create payment, notification and webhook, each counted once on a warm container."""

    def __init__(self, portal: Any) -> None:
        self.portal = portal
        self.token = ""

    def measure_all(self) -> dict[str, dict[str, Any]]:
        self.portal.sim.set_mode("lost_webhook")  # webhooks are delivered by hand, counted
        self.token = self.portal.session()
        self._warm()
        created: dict[str, Any] = {}
        found = {"create_payment": self._measure(lambda: created.update(self._create("m1")))}
        paid = self.portal.checkout(created["razorpay_order_id"])
        found["notification"] = self._measure(
            lambda: self._ok(self.portal.notify(created["payment_id"], paid, token=self.token))
        )
        other = self._create("m2")
        self.portal.checkout(other["razorpay_order_id"])
        found["webhook"] = self._measure(self._webhook(other["razorpay_order_id"]))
        return found

    def _warm(self) -> None:
        """One whole payment first: secrets, clients and the database connection cached."""
        body = self._create("warm")
        paid = self.portal.checkout(body["razorpay_order_id"])
        self._ok(self.portal.notify(body["payment_id"], paid, token=self.token))
        self._webhook(body["razorpay_order_id"])()

    def _create(self, key: str) -> dict[str, Any]:
        answer = self.portal.create("2500.00", token=self.token, key=f"bench-key-{key}")
        self._ok(answer, 201)
        return dict(answer.body)

    def _webhook(self, order_id: str) -> Callable[[], None]:
        events = [e for e in self.portal.sim.events() if e["order_id"] == order_id]
        event = next(e for e in events if e["event"] == "payment.captured")
        headers = {
            "X-Razorpay-Signature": event["signature"],
            "x-razorpay-event-id": event["event_id"],
        }
        return lambda: self._ok(self.portal.post_webhook(event["body"].encode(), headers))

    def _measure(self, work: Callable[[], Any]) -> dict[str, Any]:
        from engine import wiring

        with pg_round_trips.counting(wiring.database().connection()) as trips:
            _, made = self.portal.calls.measure(work)
        detail = Counter(made)
        return {
            "aws_calls": sum(detail.values()),
            "aws_calls_detail": dict(sorted(detail.items())),
            "sql_round_trips": trips.count,
        }

    @staticmethod
    def _ok(answer: Any, status: int = 200) -> None:
        assert answer.status == status, (answer.status, answer.body)


@contextmanager
def portal_scenario() -> Iterator[PortalScenario]:
    from tests.integration.engine.payments.support import running_portal

    server = postgres.server()
    url = postgres.create_database(server.admin_url, prefix="engine_bench")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn)
            engine_pg.seed(conn)
        db = engine_pg.EngineDb(admin_url=url, app_url=_as_role(url, engine_pg.APP_ROLE))
        with pytest.MonkeyPatch.context() as patch, running_portal(db, patch) as portal:
            yield PortalScenario(portal)
    finally:
        postgres.drop_database(server.admin_url, url)


# ---------------------------------------------------------------------------- LMS posting

LMS_LOAN = "LN0000000001"
LMS_REGION = "ap-southeast-2"  # the runner's moto region


class AwsMeter:
    """AWS calls made on a boto3 session, by `service:Operation`, and the seconds spent in
    them (in moto, here): a `before-call` and an `after-call` hook."""

    def __init__(self, session: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        session.events.register("before-call", self._before)
        session.events.register("after-call", self._after)

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1
        context["bench_started"] = time.perf_counter()

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_started", None)
        if started is not None:
            self.seconds += time.perf_counter() - started

    def clear(self) -> None:
        self.calls.clear()
        self.seconds = 0.0


class LmsScenario:
    """The LMS poster's real handler, stores (moto) and client, against the LMS simulator:
    receipts queued as a capture queues them, then posted from their stream records."""

    def __init__(self, tables: dict[str, str], simulator: Any, meter: AwsMeter) -> None:
        self.tables = tables
        self.simulator = simulator
        self.meter = meter
        self._made = 0

    def queue(self, count: int) -> list[dict[str, Any]]:
        """`count` captured transactions with their LMS outbox items (written before any
        counting starts); the TransactionQueue stream's INSERT records for them."""
        import boto3

        from engine.dal.ddb.queue import LMS_RECEIPT, lms_queue_id
        from engine.tables import TRANSACTION_QUEUE, TRANSACTIONS
        from shared import ddb

        dynamodb = boto3.client("dynamodb")
        now = int(time.time())
        records = []
        for _ in range(count):
            self._made += 1
            txn = f"pay_lms{self._made:013d}"
            dynamodb.put_item(
                TableName=self.tables[TRANSACTIONS.logical_name],
                Item=ddb.to_item(item(txn, LMS_LOAN, "10.00", "CAPTURED", 2)),
            )
            queued = {
                "queue_id": lms_queue_id(txn),
                "queue_type": LMS_RECEIPT,
                "retry_timestamp": now,
                "status": "PENDING",
                "attempts": 0,
                "transaction_id": txn,
                "created_at": "2026-12-03T06:40:00.000Z",
                "payload": {
                    "transaction_id": txn,
                    "receipt_number": f"BR001/2026-27/{self._made:06d}",
                    "loan_account_number": LMS_LOAN,
                    "branch_code": "BR001",
                    "amount": Decimal("10.00"),
                    "currency": "INR",
                    "channel": "PORTAL",
                    "payment_method": "upi",
                    "razorpay_payment_id": f"pay_RZP{self._made:010d}",
                    "captured_at": "2026-12-03T06:40:00.000Z",
                },
            }
            dynamodb.put_item(
                TableName=self.tables[TRANSACTION_QUEUE.logical_name], Item=ddb.to_item(queued)
            )
            records.append(record(queued, event="INSERT", keys=ddb.to_item({"queue_id": txn})))
        return records

    def post(self, records: list[dict[str, Any]], batch_size: int) -> float:
        """Seconds the LmsPoster handler takes on the records, in the mapping's batches;
        every one must be posted."""
        from engine.handlers.consumers import lms_poster

        posted = 0
        started = time.perf_counter()
        for start in range(0, len(records), batch_size):
            answer = lms_poster.handler(
                event(*records[start : start + batch_size]), LambdaContext("LmsPoster", 512, 120)
            )
            assert answer["batchItemFailures"] == [], answer
        elapsed = time.perf_counter() - started
        posted = sum(1 for r in self.simulator.receipts() if r["loan_account_number"] == LMS_LOAN)
        assert posted >= len(records), (posted, len(records))
        return elapsed

    def sweep(self) -> tuple[float, dict[str, Any]]:
        from engine.handlers.jobs import lms_sweep

        started = time.perf_counter()
        answer = lms_sweep.handler({"source": "bench"}, LambdaContext("LmsSweeper", 512, 120))
        return time.perf_counter() - started, answer


@contextmanager
def lms_scenario() -> Iterator[LmsScenario]:
    """moto (the runner's resources, serialised as the runner has it) and the LMS simulator
    with the demo loans; the LMS functions' environment as the runner sets it."""
    import boto3
    from moto import mock_aws

    from engine import wiring, wiring_lms
    from local import moto_serial
    from local.engine_resources import provision
    from simulators.lms import LmsSimulator, demo_loans

    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": LMS_REGION,
            "AWS_REGION": LMS_REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "POWERTOOLS_SERVICE_NAME": "engine",
            "POWERTOOLS_METRICS_NAMESPACE": "FivestarPaymentsEngine",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    original_call = moto_serial.DynamoHandler.call_action
    moto_serial.install()
    credentials = {"client_id": "engine-bench", "client_secret": "lms-bench-secret"}
    try:
        simulator = LmsSimulator(
            credentials["client_id"], credentials["client_secret"], loans=demo_loans()
        )
        with mock_aws(), simulator:
            boto3.setup_default_session(region_name=LMS_REGION)
            meter = AwsMeter(boto3.DEFAULT_SESSION)
            # Settings, secrets and clients forgotten: the handlers' clients are made on this
            # session (so counted) and read this environment.
            wiring.reset()

            def clients(name: str) -> Any:
                return boto3.client(name, region_name=LMS_REGION)

            resources = provision(
                clients,
                key_id="rzp_bench",
                key_secret="bench",
                webhook_secret="bench",
                lms_client=credentials,
                prefix="bench",
            )
            os.environ.update(resources.env())
            os.environ["LMS_BASE_URL"] = simulator.base_url or ""
            wiring_lms.reset()
            try:
                yield LmsScenario(resources.tables, simulator, meter)
            finally:
                wiring_lms.reset()
                wiring.reset()
                boto3.DEFAULT_SESSION = None
    finally:
        moto_serial.DynamoHandler.call_action = original_call  # type: ignore[method-assign]
        os.environ.clear()
        os.environ.update(saved)
