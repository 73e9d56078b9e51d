"""Every AWS call an engine function's handler makes is covered by its declared access.

The handlers run on moto, a migrated PostgreSQL and the RazorPay, LMS and HRMS simulators over
HTTP,
through the harnesses of the other engine integration tests. A botocore hook records every call with
its parameters, attributed to the declared function whose handler is running: each service
function's handler (engine.declarations) is wrapped by name, and each invocation starts cold
(`wiring.reset()`), so a secret or client another function cached cannot hide a call. A call
is covered when stacks/engine/access.py grants the IAM action it needs on the resource it
names (DynamoDB transactions per item, as IAM authorises them); every variable a handler
asks `settings.require` for must be one the declaration gives it.

A function whose handler module does not import yet is skipped, naming the module, and runs
as soon as it lands.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from engine import settings
from engine.queues import QUEUES
from engine.tables import ALL_TABLES
from shared.declarations import FunctionSpec
from stacks.engine import access
from stacks.engine.access import FunctionAccess
from stacks.engine.secrets import SECRETS
from tests.engine_pg import ACTIVE, EngineDb
from tests.integration.engine.payments.support import Portal as PaymentsPortal
from tests.integration.engine.payments.support import portal  # noqa: F401 - fixture
from tests.integration.engine.portal_support import Portal as SignInPortal
from tests.integration.engine.test_transactions_sync import (  # noqa: F401 - fixtures
    Sync,
    batch_info,
    dlq,
    recent,
    stream_records,
    sync,
)

SPECS = {spec.name: spec for spec in access.service_functions()}
OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
}
# A read of one version (with VersionId) is IAM's GetObjectVersion.
VERSION_ACTIONS = {"GetObject": "s3:GetObjectVersion", "HeadObject": "s3:GetObjectVersion"}
TRANSACT_ACTIONS = {
    "Put": access.PUT,
    "Update": access.UPDATE,
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": access.CONDITION_CHECK,
}
STREAM_CALLS = {"DescribeStream", "GetShardIterator", "GetRecords"}


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    required: dict[str, set[str]] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)

    # The handlers running, innermost last: a call from a thread the handler started (a pool
    # of reads) belongs to the handler that is running, not to nobody.
    _running: list[str] = field(default_factory=list)

    @property
    def current(self) -> str | None:
        mine = getattr(self._local, "function", None)
        return mine or (self._running[-1] if self._running else None)

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        previous = getattr(self._local, "function", None)
        self._local.function = function
        self._running.append(function)
        try:
            yield
        finally:
            self._running.remove(function)
            self._local.function = previous

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.current is not None:
            service = model.service_model.service_name
            self.calls.append(Call(self.current, service, model.name, dict(params)))

    def of(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]

    def sms_texts(self) -> list[str]:
        return [c.params["Message"] for c in self.calls if c.operation == "Publish"]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Wraps every importable service handler; records calls made inside one."""
    found = Recorder()
    real_require = settings.require

    def require(name: str, value: str) -> str:
        if found.current is not None:
            found.required.setdefault(found.current, set()).add(name)
        return real_require(name, value)

    monkeypatch.setattr(settings, "require", require)
    for spec in SPECS.values():
        module_name, attribute = spec.handler.rsplit(".", 1)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        monkeypatch.setattr(module, attribute, _wrapped(found, spec, getattr(module, attribute)))
    return found


def _wrapped(found: Recorder, spec: FunctionSpec, handler: Callable[..., Any]) -> Any:
    from engine import wiring

    def invoke(event: Any, context: Any) -> Any:
        with found.running(spec.name):
            wiring.reset()  # a cold container: nothing another function cached
            boto3._get_default_session().events.register(
                "before-parameter-build", found.record, unique_id="function-access-recorder"
            )
            return handler(event, context)

    return invoke


def needs_handler(name: str) -> None:
    module = SPECS[name].handler.rsplit(".", 1)[0]
    try:
        importlib.import_module(module)
    except ImportError as missing:
        pytest.skip(f"{name}'s handler {module} does not import yet ({missing})")


# --------------------------------------------------------------------------- coverage


def uncovered(function: str, calls: list[Call]) -> list[str]:
    declared = access.ACCESS[function]
    env = _named_resources()
    problems = []
    for call in calls:
        problems += [f"{call.service}.{call.operation}: {p}" for p in _check(call, declared, env)]
    return sorted(set(problems))


def _named_resources() -> dict[str, Any]:
    """What the harness's environment names, resource -> declaration."""
    return {
        "tables": {os.environ[t.env_var]: t for t in ALL_TABLES if t.env_var in os.environ},
        "queues": {os.environ[q.env_var]: q for q in QUEUES if q.env_var in os.environ},
        "secrets": {os.environ[s.env_var]: s for s in SECRETS if s.env_var in os.environ},
        "bucket": os.environ.get(access.DOCUMENTS_ENV),
        "anchors": os.environ.get(access.ANCHORS_ENV),
        "pool": os.environ.get(access.STAFF_POOL_ENV),
        "bus": os.environ.get(access.EVENT_BUS_ENV),
    }


def _check(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    checks = {
        "dynamodb": _dynamodb,
        "dynamodbstreams": _streams,
        "sqs": _sqs,
        "secretsmanager": _secrets,
        "sns": _sns,
        "events": _events,
        "s3": _s3,
        "cognito-idp": _cognito,
    }
    check = checks.get(call.service)
    return ["no declaration covers this service"] if check is None else check(call, declared, env)


def _table_needs(call: Call) -> list[tuple[str, str, str | None]]:
    """(table name, IAM action, index) per item of the call."""
    p, op = call.params, call.operation
    if op == "TransactWriteItems":
        return [
            (item[kind]["TableName"], TRANSACT_ACTIONS[kind], None)
            for item in p["TransactItems"]
            for kind in item
        ]
    if op == "TransactGetItems":
        return [(item["Get"]["TableName"], access.GET, None) for item in p["TransactItems"]]
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(name, f"dynamodb:{op}", None) for name in p["RequestItems"]]
    return [(p["TableName"], f"dynamodb:{op}", p.get("IndexName"))]


def _dynamodb(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    grants = {g.table.logical_name: g for g in declared.tables}
    problems = []
    for name, action, index in _table_needs(call):
        spec = env["tables"].get(name)
        grant = grants.get(spec.logical_name) if spec else None
        if grant is None:
            problems.append(f"no grant on table {name}")
        elif index is not None and index not in grant.query_indexes:
            problems.append(f"no Query grant on {spec.logical_name}/index/{index}")
        elif index is None and action not in grant.actions:
            problems.append(f"{action} not granted on {spec.logical_name}")
    return problems


def _streams(call: Call, declared: FunctionAccess, _env: dict[str, Any]) -> list[str]:
    if call.operation in STREAM_CALLS and declared.reads_stream is not None:
        return []
    return ["the declaration reads no stream"]


def _sqs(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    queue = env["queues"].get(call.params.get("QueueUrl"))
    grants = {g.queue.name: g.actions for g in declared.queues}
    if queue is None or f"sqs:{call.operation}" not in grants.get(queue.name, ()):
        return [f"sqs:{call.operation} not granted on {call.params.get('QueueUrl')}"]
    return []


def _secrets(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    secret = env["secrets"].get(call.params.get("SecretId"))
    if call.operation != "GetSecretValue" or secret not in declared.secrets:
        return [f"not granted on {call.params.get('SecretId')}"]
    return []


def _sns(call: Call, declared: FunctionAccess, _env: dict[str, Any]) -> list[str]:
    sms = call.operation == "Publish" and "PhoneNumber" in call.params
    return [] if sms and declared.sends_sms else ["only SMS to a phone number is declared"]


def _events(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    buses = {entry.get("EventBusName") for entry in call.params.get("Entries", [])}
    if call.operation == "PutEvents" and declared.publishes_events and buses == {env["bus"]}:
        return []
    return [f"not granted on {buses}"]


def _s3(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    p = call.params
    if p.get("Bucket") == env["anchors"] and env["anchors"]:
        return _anchors(call, declared)
    action = OBJECT_ACTIONS.get(call.operation)
    key = str(p.get("Key", ""))
    if (
        action in declared.documents
        and p.get("Bucket") == env["bucket"]
        and key.startswith(access.RECEIPTS_PREFIX)
    ):
        return []
    return [f"{action or call.operation} not granted on {p.get('Bucket')}/{key}"]


def _anchors(call: Call, declared: FunctionAccess) -> list[str]:
    """The anchor bucket: objects under audit-anchors/, versions listed under it only."""
    p = call.params
    if call.operation == "ListObjectVersions":
        prefix = str(p.get("Prefix", ""))
        if access.LIST_VERSIONS in declared.anchors and prefix.startswith(access.ANCHORS_PREFIX):
            return []
        return [f"ListBucketVersions not granted for prefix {prefix!r}"]
    versions = VERSION_ACTIONS if "VersionId" in p else OBJECT_ACTIONS
    action = versions.get(call.operation)
    key = str(p.get("Key", ""))
    if action in declared.anchors and key.startswith(access.ANCHORS_PREFIX):
        return []
    return [f"{action or call.operation} not granted on the anchors' {key}"]


def _cognito(call: Call, declared: FunctionAccess, env: dict[str, Any]) -> list[str]:
    action = f"cognito-idp:{call.operation}"
    if action in declared.staff_pool and call.params.get("UserPoolId") == env["pool"]:
        return []
    return [f"{action} not granted on pool {call.params.get('UserPoolId')}"]


def assert_covered(recorder: Recorder, function: str) -> None:
    calls = recorder.of(function)
    assert calls, f"{function} made no AWS call: the scenario did not run it"
    assert uncovered(function, calls) == []
    names = set(access.env_names(access.ACCESS[function]))
    assert recorder.required.get(function, set()) <= names, (
        f"{function} asks for variables its declaration does not give it"
    )


# --------------------------------------------------------------------------- portal sign-in


def sign_in(harness: SignInPortal, recorder: Recorder) -> str:
    """validate-loan for a seeded loan, then the session with the code the SMS carried."""
    challenge = harness.validate(ACTIVE.loan_account_number, ACTIVE.mobile_number)
    assert challenge.status == 200, challenge.raw
    found = re.match(r"([0-9]{6}) ", recorder.sms_texts()[-1])
    assert found, "the SMS carries no code"
    opened = harness.open_session(challenge.body["challenge_id"], found.group(1))
    assert opened.status == 201, opened.raw
    return str(opened.body["session_token"])


def test_portal_sessions(engine_portal: SignInPortal, recorder: Recorder) -> None:
    needs_handler("PortalSessions")
    # A pair that matches no loan: the same answer, no SMS.
    assert engine_portal.validate("LN9999999999", "9000000001").status == 200
    wrong = engine_portal.open_session("0" * 32, "000000")
    assert wrong.status in (400, 401), wrong.raw
    sign_in(engine_portal, recorder)
    assert_covered(recorder, "PortalSessions")


def test_portal_loans(engine_portal: SignInPortal, recorder: Recorder) -> None:
    needs_handler("PortalLoans")
    from engine.handlers.portal import loans

    token = sign_in(engine_portal, recorder)
    number = ACTIVE.loan_account_number
    for resource, path in (
        ("/api/v1/customer/loans/{loan_account_number}", f"/api/v1/customer/loans/{number}"),
        (
            "/api/v1/customer/loans/{loan_account_number}/payments",
            f"/api/v1/customer/loans/{number}/payments",
        ),
    ):
        answer = engine_portal.call(
            loans,
            "GET",
            path,
            resource=resource,
            path_parameters={"loan_account_number": number},
            headers={"X-Session-Token": token},
        )
        assert answer.status == 200, answer.raw
    assert_covered(recorder, "PortalLoans")


# --------------------------------------------------------------------------- payments


def paid(harness: PaymentsPortal, key: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(session token, created payment, RazorPay's checkout result): no webhook sent."""
    harness.sim.set_mode("lost_webhook")
    token = harness.session()
    created = harness.create("2500.00", token=token, key=key)
    assert created.status == 201, created.body
    return token, created.body, harness.checkout(created.body["razorpay_order_id"])


def test_portal_payments(portal: PaymentsPortal, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("PortalPayments")
    token, created, result = paid(portal, "key-access-0001")
    replayed = portal.create("2500.00", token=token, key="key-access-0001")
    assert replayed.body == created  # the first answer again, read from its claim
    assert portal.notify(created["payment_id"], result, token=token).status == 200
    assert portal.status(created["payment_id"], token=token).status == 200
    assert_covered(recorder, "PortalPayments")


def test_portal_receipts(portal: PaymentsPortal, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("PortalReceipts")
    token, created, result = paid(portal, "key-access-0002")
    assert portal.notify(created["payment_id"], result, token=token).status == 200
    assert portal.receipt(created["payment_id"], token=token).status == 200
    for _ in range(2):  # made and stored, then read back
        assert portal.receipt(created["payment_id"], token=token, pdf=True).status == 200
    assert_covered(recorder, "PortalReceipts")


def deliver_all(harness: PaymentsPortal, order_id: str) -> None:
    for event in harness.sim.events():
        if event["order_id"] == order_id:
            headers = {
                "X-Razorpay-Signature": event["signature"],
                "x-razorpay-event-id": event["event_id"],
            }
            assert harness.post_webhook(event["body"].encode(), headers).status == 200


def dead_letter(harness: PaymentsPortal) -> list[dict[str, Any]]:
    """A signed capture of a payment we never made: applied nowhere, so dead-lettered."""
    from tests.integration.engine.payments.support import unknown_capture

    raw, headers = unknown_capture(9, "evt_access_unknown")
    assert harness.post_webhook(raw, headers).body["result"] == "dead_lettered"
    return harness.messages("RAZORPAY_WEBHOOK_DLQ_URL")


def test_razorpay_webhook(portal: PaymentsPortal, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("RazorpayWebhook")
    _, created, _ = paid(portal, "key-access-0003")
    deliver_all(portal, created["razorpay_order_id"])
    deliver_all(portal, created["razorpay_order_id"])  # duplicates
    assert dead_letter(portal)
    assert_covered(recorder, "RazorpayWebhook")


def test_razorpay_webhook_replayer(portal: PaymentsPortal, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("RazorpayWebhookReplayer")
    letters = dead_letter(portal)
    with pytest.raises(BatchProcessingError):  # still unappliable: the whole batch failed
        portal.replay(letters)
    _, created, _ = paid(portal, "key-access-0004")
    events = [e for e in portal.sim.events() if e["order_id"] == created["razorpay_order_id"]]
    portal.replay([_as_letter(e) for e in events])
    assert portal.payment(created["payment_id"]).status.value == "CAPTURED"
    assert_covered(recorder, "RazorpayWebhookReplayer")


def _as_letter(event: dict[str, Any]) -> dict[str, Any]:
    """The DLQ message the webhook function writes for an event (logic/dead_letters.py)."""
    from engine.logic.dead_letters import DeadLetter

    headers = {"x-razorpay-signature": event["signature"], "x-razorpay-event-id": event["event_id"]}
    letter = DeadLetter(event["body"].encode(), headers, "re-driven by the access test")
    return {"Body": letter.to_message()}


def test_payment_sweeper(portal: PaymentsPortal, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("PaymentSweeper")
    _, created, _ = paid(portal, "key-access-0005")
    portal.sweep()
    assert portal.payment(created["payment_id"]).status.value == "CAPTURED"
    assert_covered(recorder, "PaymentSweeper")


# --------------------------------------------------------------------------- the stream


def test_transactions_sync(sync: Sync, recorder: Recorder) -> None:  # noqa: F811
    needs_handler("TransactionsSync")
    sync.put(recent("pay_acc1", "100.00", "CAPTURED", 2))
    assert sync.deliver() == 1
    # Lambda reads the stream for it (the mapping's grants): the handler calls nothing.
    assert uncovered("TransactionsSync", recorder.of("TransactionsSync")) == []
    assert recorder.required.get("TransactionsSync", set()) <= set(
        access.env_names(access.ACCESS["TransactionsSync"])
    )


def test_transactions_repair(
    sync: Sync,  # noqa: F811
    dlq: str,  # noqa: F811
    recorder: Recorder,
    engine_db: EngineDb,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_handler("TransactionsRepair")
    from engine.tables import AUDIT

    # The audit trail its collection and DCR completions append to (none is owed here).
    boto3.client("dynamodb").create_table(**AUDIT.create_table_kwargs("access-audit"))
    monkeypatch.setenv(AUDIT.env_var, "access-audit")
    settings.reset()
    sync.put(recent("pay_acc2", "100.00", "CAPTURED", 2))
    sync.put(recent("pay_acc3", "50.00", "CAPTURED", 2))
    arn, shard, records = stream_records(sync)
    boto3.client("sqs").send_message(
        QueueUrl=dlq, MessageBody=batch_info(arn, shard, records[0], records[-1])
    )
    summary = sync.repair()
    assert summary["repaired"] == 2, summary
    assert_covered(recorder, "TransactionsRepair")


# --------------------------------------------------------------------------- DR runbook


def test_receipt_counters_carry_over(
    portal: PaymentsPortal,  # noqa: F811
    recorder: Recorder,
) -> None:
    needs_handler("ReceiptCountersCarryOver")
    from engine.handlers.jobs import receipt_counters
    from local.events import LambdaContext

    portal.sql(
        "INSERT INTO payments (transaction_id, loan_account_number, branch_code, amount,"
        " status, receipt_number, channel, created_at, captured_at, version)"
        " VALUES ('pay_access00000000000a', 'LN0000000001', 'BR001', 100.00, 'CAPTURED',"
        " 'BR001/2026-27/000042', 'PORTAL', now(), now(), 3)"
    )
    context = LambdaContext(function_name="ReceiptCountersCarryOver", timeout_seconds=240)
    for _ in range(2):  # raised, then already higher (a failed condition): both covered
        receipt_counters.handler({}, context)
    assert_covered(recorder, "ReceiptCountersCarryOver")


# --------------------------------------------------------------------------- LMS posting


@pytest.fixture
def lms(portal: PaymentsPortal, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # noqa: F811
    """The LMS simulator over HTTP, its credentials in moto, a breaker that trips on one
    failure and half-opens at once, and retries due within a second."""
    import json

    from engine import wiring_lms
    from simulators.lms import LmsSimulator, demo_loans

    simulator = LmsSimulator("engine-access", "lms-access-secret", loans=demo_loans())
    base_url = simulator.start()
    arn = boto3.client("secretsmanager").create_secret(
        Name="access-lms",
        SecretString=json.dumps(
            {"client_id": "engine-access", "client_secret": "lms-access-secret"}
        ),
    )["ARN"]
    for key, value in {
        "LMS_BASE_URL": base_url,
        "LMS_SECRET_ARN": arn,
        "LMS_BREAKER_MIN_VOLUME": "1",
        "LMS_BREAKER_OPEN_SECONDS": "0",
        "LMS_BACKOFF_BASE_SECONDS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    settings.reset()
    wiring_lms.reset()
    try:
        yield simulator
    finally:
        wiring_lms.reset()
        simulator.stop()


def queued_receipt(harness: PaymentsPortal, key: str) -> dict[str, Any]:
    """A captured payment's LMS_RECEIPT item as the TransactionQueue stream carries it."""
    from engine.dal.ddb.queue import lms_queue_id
    from shared import ddb

    token, created, result = paid(harness, key)
    assert harness.notify(created["payment_id"], result, token=token).status == 200
    item = boto3.client("dynamodb").get_item(
        TableName=os.environ["TRANSACTION_QUEUE_TABLE"],
        Key=ddb.to_item({"queue_id": lms_queue_id(created["payment_id"])}),
    )["Item"]
    return {"eventName": "INSERT", "dynamodb": {"NewImage": item}}


def test_lms_poster_and_sweeper(
    portal: PaymentsPortal,  # noqa: F811
    lms: Any,
    recorder: Recorder,
) -> None:
    needs_handler("LmsPoster")
    needs_handler("LmsSweeper")
    import time

    from engine.handlers.consumers import lms_poster
    from engine.handlers.jobs import lms_sweep
    from local.events import LambdaContext

    record = queued_receipt(portal, "key-access-0006")
    lms.set_mode("error_500", count=1)  # no answer: rescheduled in doubt, the breaker opens
    lms_poster.handler({"Records": [record]}, LambdaContext("LmsPoster", timeout_seconds=120))
    time.sleep(1.1)  # due again; the breaker half-open
    summary = lms_sweep.handler({}, LambdaContext("LmsSweeper", timeout_seconds=120))
    assert summary["counts"].get("posted") == 1 and summary["depth"] == 0, summary
    assert_covered(recorder, "LmsPoster")
    assert_covered(recorder, "LmsSweeper")


def test_lms_heartbeat(lms: Any, recorder: Recorder) -> None:
    needs_handler("LmsHeartbeat")
    from engine.handlers.jobs import lms_heartbeat
    from local.events import LambdaContext

    answer = lms_heartbeat.handler({}, LambdaContext("LmsHeartbeat", timeout_seconds=30))
    assert answer == {"lms_reachable": True}
    assert_covered(recorder, "LmsHeartbeat")


# --------------------------------------------------------------------------- staff on postings


def test_internal_lms(staff: Staff, recorder: Recorder) -> None:
    """An EXCEPTION item listed, retried, back in EXCEPTION, resolved with the LMS's receipt
    id: the caller's users row, the list's Query on StatusIndex and each action's transaction
    (item, the audit chain's append and anchor, and the payment marked posted)."""
    needs_handler("InternalLms")
    import json

    from engine.handlers.internal import lms as internal_lms
    from local.events import rest_event
    from shared import ddb
    from tests.support import invoke

    harness = staff.portal
    record = queued_receipt(harness, "key-access-0007")
    image = ddb.from_item(record["dynamodb"]["NewImage"]) or {}
    transaction_id = str(image["transaction_id"])
    loan = str(image["payload"]["loan_account_number"])
    queue = boto3.client("dynamodb")
    claims = staff.claims("admin.ho")

    def to_exception() -> None:
        """The poster giving up on it (outside any handler: not recorded)."""
        queue.update_item(
            TableName=os.environ["TRANSACTION_QUEUE_TABLE"],
            Key=ddb.to_item({"queue_id": image["queue_id"]}),
            UpdateExpression="SET #s = :s REMOVE retry_timestamp",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=ddb.values({":s": "EXCEPTION"}),
        )

    def call(method: str, resource: str, **kwargs: Any) -> Any:
        path = resource.replace("{transaction_id}", transaction_id)
        params = {"transaction_id": transaction_id} if "{" in resource else None
        event = rest_event(
            method, path, resource=resource, path_parameters=params, claims=claims, **kwargs
        )
        return invoke(internal_lms.handler, event, "InternalLms")

    to_exception()
    listed = call("GET", "/api/v1/lms/postings", query={"loan_account_number": loan})
    assert listed.status == 200, listed.body
    assert [i["transaction_id"] for i in listed.body["items"]] == [transaction_id]
    retried = call(
        "POST",
        "/api/v1/lms/postings/{transaction_id}/retry",
        body=json.dumps({"reason": "LMS fixed the loan"}),
    )
    assert retried.status == 202, retried.body
    to_exception()
    resolved = call(
        "POST",
        "/api/v1/lms/postings/{transaction_id}/resolve",
        body=json.dumps(
            {"reason": "posted by hand at the LMS", "lms_receipt_id": "LMSR0000000042"}
        ),
    )
    assert resolved.status == 200, resolved.body
    (payment,) = [p for p in harness.all_payments() if p["transaction_id"] == transaction_id]
    assert payment["lms_receipt_id"] == "LMSR0000000042"
    assert_covered(recorder, "InternalLms")


# --------------------------------------------------------------------------- loan sync


def test_loan_sync(
    portal: PaymentsPortal,  # noqa: F811
    lms: Any,
    recorder: Recorder,
) -> None:
    """The nightly job against the LMS simulator and the migrated PostgreSQL: its only AWS
    call is the LMS credentials' secret (the loans go to PostgreSQL as engine_app)."""
    needs_handler("LoanSync")
    from engine.handlers.jobs import loan_sync
    from local.events import LambdaContext

    summary = loan_sync.handler({}, LambdaContext("LoanSync", timeout_seconds=900))
    assert summary["finished"] is True, summary
    assert summary["applied"] >= 1, summary
    assert {c.operation for c in recorder.of("LoanSync")} == {"GetSecretValue"}
    assert_covered(recorder, "LoanSync")


# --------------------------------------------------------------------------- the staff engine

# username -> (role, branch): every role the staff routes' scenarios act as.
STAFF_USERS = {
    "admin.ho": ("Admin", None),
    "finance.ho": ("FinanceTeam", None),
    "manager.br001": ("BranchManager", "BR001"),
    "cashier.br001": ("BranchCashier", "BR001"),
    "officer.br001": ("FieldOfficer", "BR001"),
}
HRMS_CREDENTIALS = {
    "api_user": "engine-access",
    "api_password": "hrms-access-password",
    "api_key": "hrms-access-key",
}


@dataclass
class Staff:
    """The portal's harness with what the staff routes add: the anchor bucket (Object Lock),
    the staff pool and its role groups, and the staff's users rows."""

    portal: PaymentsPortal
    pool_id: str

    @staticmethod
    def claims(username: str) -> dict[str, str]:
        return {"cognito:username": username, "cognito:groups": f"[{STAFF_USERS[username][0]}]"}

    def call(
        self,
        module: Any,
        function: str,
        username: str,
        method: str,
        resource: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        **kwargs: Any,
    ) -> Any:
        import json

        from local.events import rest_event
        from tests.support import invoke

        path = resource
        for name, value in (params or {}).items():
            path = path.replace(f"{{{name}}}", value)
        event = rest_event(
            method,
            path,
            resource=resource,
            path_parameters=params,
            body=None if body is None else json.dumps(body),
            claims=self.claims(username),
            **kwargs,
        )
        return invoke(module.handler, event, function)

    def user_id(self, username: str) -> str:
        ((found,),) = self.portal.sql(
            "SELECT user_id::text FROM users WHERE username = %s", (username,)
        )
        return str(found)


@pytest.fixture
def staff(portal: PaymentsPortal, monkeypatch: pytest.MonkeyPatch) -> Staff:  # noqa: F811
    from engine import wiring
    from engine.dal.pg.roles import sync_roles
    from engine.models import rbac
    from tests.integration.engine.payments.support import REGION

    bucket = f"{portal.env['DOCUMENTS_BUCKET']}-anchors"
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="staff-access")["UserPool"]["Id"]
    for declared in rbac.ROLES:
        cognito.create_group(UserPoolId=pool_id, GroupName=declared.name)
    with portal.db.admin() as admin:
        with admin.cursor() as cur:
            sync_roles(cur)
        for username, (role, branch) in STAFF_USERS.items():
            admin.execute(
                "INSERT INTO users (username, email, branch_code, role_id)"
                " SELECT %s, %s, %s, role_id FROM roles WHERE role_name = %s",
                (username, f"{username}@staff.example.com", branch, role),
            )
            cognito.admin_create_user(UserPoolId=pool_id, Username=username)
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=role)
    monkeypatch.setenv(access.ANCHORS_ENV, bucket)
    monkeypatch.setenv(access.STAFF_POOL_ENV, pool_id)
    settings.reset()
    wiring.reset()
    return Staff(portal, pool_id)


def a_collection(amount: str = "2500.00") -> dict[str, Any]:
    from datetime import timedelta

    from shared import clock

    return {
        "loan_account_number": ACTIVE.loan_account_number,
        "amount": amount,
        "mode": "CASH",
        "purpose": "EMI",
        "collected_at": clock.iso(clock.now() - timedelta(minutes=10)),
    }


def test_internal_collections(staff: Staff, recorder: Recorder) -> None:
    """A cash EMI collected (the loan's captured counter read, the receipt number, PostgreSQL,
    then one transaction with its audit record), listed, read, and cancelled by the branch's
    manager (the item's Update, the LMS reversal, the counter lowered, audited)."""
    needs_handler("InternalCollections")
    from engine.handlers.internal import collections as handler

    name, collections = "InternalCollections", "/api/v1/collections"
    created = staff.call(
        handler,
        name,
        "cashier.br001",
        "POST",
        collections,
        body=a_collection(),
        headers={"Idempotency-Key": "access-collect-0001"},
    )
    assert created.status == 201, created.body
    params = {"collection_id": str(created.body["collection_id"])}
    listed = staff.call(handler, name, "officer.br001", "GET", collections)
    assert listed.status == 200, listed.body
    one = staff.call(
        handler, name, "manager.br001", "GET", collections + "/{collection_id}", params=params
    )
    assert one.status == 200, one.body
    cancelled = staff.call(
        handler,
        name,
        "manager.br001",
        "POST",
        collections + "/{collection_id}/cancel",
        params=params,
        body={"reason": "receipted against the wrong loan"},
    )
    assert cancelled.status == 200, cancelled.body
    assert_covered(recorder, name)


def test_transactions_repair_completes_a_collection(staff: Staff, recorder: Recorder) -> None:
    """A collection whose DynamoDB side failed after PostgreSQL's commit and was never asked
    again: the hourly job writes its transaction and audit record."""
    needs_handler("TransactionsRepair")
    needs_handler("InternalCollections")
    from engine.handlers.internal import collections as handler
    from engine.handlers.jobs import transactions_repair
    from engine.tables import TRANSACTION_QUEUE
    from local.events import LambdaContext

    dynamodb = boto3.client("dynamodb")
    queue_table = staff.portal.env[TRANSACTION_QUEUE.env_var]
    dynamodb.delete_table(TableName=queue_table)
    lost = staff.call(
        handler,
        "InternalCollections",
        "cashier.br001",
        "POST",
        "/api/v1/collections",
        body=a_collection("100.00"),
        headers={"Idempotency-Key": "access-collect-0002"},
    )
    assert lost.status == 503, lost.body
    dynamodb.create_table(**TRANSACTION_QUEUE.create_table_kwargs(queue_table))
    staff.portal.sql(
        "UPDATE collections SET created_at = now() - interval '1 hour' WHERE recorded_at IS NULL"
    )
    for cached in (transactions_repair.repairer, transactions_repair.dead_letters):
        cached.cache_clear()
    summary = transactions_repair.handler(
        {}, LambdaContext(function_name="TransactionsRepair", timeout_seconds=300)
    )
    assert summary["collections_completed"] == 1, summary
    assert_covered(recorder, "TransactionsRepair")


def test_internal_dcr(staff: Staff, recorder: Recorder) -> None:
    """The cashier submits yesterday's count (with a variance), the manager approves it: each
    step a PostgreSQL unit of work and an audit append."""
    needs_handler("InternalDcr")
    from datetime import UTC, datetime, timedelta

    from engine.handlers.internal import dcr as handler
    from engine.logic.receipts import IST

    day = (datetime.now(UTC).astimezone(IST).date() - timedelta(days=1)).isoformat()
    one = "/api/v1/dcr/{branch_code}/{collection_date}"
    params = {"branch_code": "BR001", "collection_date": day}
    read = staff.call(handler, "InternalDcr", "cashier.br001", "GET", one, params=params)
    assert read.status == 200, read.body
    count = {
        "denominations": {"500": 1},
        "coins": 0,
        "variance_reason": "the float left from the day before",
    }
    submitted = staff.call(
        handler, "InternalDcr", "cashier.br001", "POST", one + "/submit", params=params, body=count
    )
    assert submitted.status == 200, submitted.body
    approved = staff.call(
        handler, "InternalDcr", "manager.br001", "POST", one + "/approve", params=params
    )
    assert approved.status == 200, approved.body
    assert staff.call(handler, "InternalDcr", "finance.ho", "GET", "/api/v1/dcr").status == 200
    assert_covered(recorder, "InternalDcr")


def sign_in_event(staff: Staff, username: str) -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": "ap-south-1",
        "userPoolId": staff.pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": "staffwebclient"},
        "request": {"userAttributes": {"email": f"{username}@staff.example.com"}},
        "response": {},
    }


def test_staff_sign_in(staff: Staff, recorder: Recorder) -> None:
    """Cognito's post-authentication call: the users row stamped, the LOGIN appended and
    anchored; nothing of the pool is called back."""
    needs_handler("StaffSignIn")
    from engine.handlers import staff_sign_in
    from local.events import LambdaContext

    event = sign_in_event(staff, "cashier.br001")
    answer = staff_sign_in.handler(event, LambdaContext(function_name="StaffSignIn"))
    assert answer == event
    assert_covered(recorder, "StaffSignIn")


def test_internal_audit(staff: Staff, recorder: Recorder) -> None:
    """The trail by day, by entity and by actor, and a day verified against its anchors (every
    version listed and read)."""
    needs_handler("InternalAudit")
    needs_handler("StaffSignIn")
    from datetime import UTC, datetime

    from engine.handlers import staff_sign_in
    from engine.handlers.internal import audit as handler
    from engine.logic.receipts import IST
    from local.events import LambdaContext

    for username in ("cashier.br001", "manager.br001", "cashier.br001"):
        staff_sign_in.handler(
            sign_in_event(staff, username), LambdaContext(function_name="StaffSignIn")
        )
    day = datetime.now(UTC).astimezone(IST).date().isoformat()
    cashier = staff.user_id("cashier.br001")
    for query in ({"date": day}, {"entity_id": cashier}, {"actor_id": cashier}):
        page = staff.call(
            handler, "InternalAudit", "finance.ho", "GET", "/api/v1/audit", query=query
        )
        assert page.status == 200 and page.body["items"], (query, page.body)
    verdict = staff.call(
        handler, "InternalAudit", "admin.ho", "GET", "/api/v1/audit/verify", query={"date": day}
    )
    assert verdict.status == 200 and verdict.body["ok"] is True, verdict.body
    assert_covered(recorder, "InternalAudit")


def test_internal_users(staff: Staff, recorder: Recorder) -> None:
    """An admin lists the staff and moves a field officer to the cashier's role: PostgreSQL,
    then the pool's groups (listed, the new one added, the old one removed), audited."""
    needs_handler("InternalUsers")
    from engine.handlers.internal import users as handler

    listed = staff.call(handler, "InternalUsers", "admin.ho", "GET", "/api/v1/users")
    assert listed.status == 200, listed.body
    changed = staff.call(
        handler,
        "InternalUsers",
        "admin.ho",
        "PUT",
        "/api/v1/users/{user_id}/role",
        params={"user_id": staff.user_id("officer.br001")},
        body={"role": "BranchCashier", "reason": "moved to the branch desk"},
    )
    assert changed.status == 200, changed.body
    groups = boto3.client("cognito-idp").admin_list_groups_for_user(
        UserPoolId=staff.pool_id, Username="officer.br001"
    )["Groups"]
    assert [g["GroupName"] for g in groups] == ["BranchCashier"]
    operations = {c.operation for c in recorder.of("InternalUsers")}
    assert {"AdminAddUserToGroup", "AdminRemoveUserFromGroup"} <= operations
    assert_covered(recorder, "InternalUsers")


def test_hrms_sync(staff: Staff, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The nightly job against the HRMS simulator: a leaver disabled in the staff pool, a joiner
    created in it, both recorded in PostgreSQL and audited; the HRMS credentials' secret."""
    needs_handler("HrmsSync")
    import json

    from engine import wiring_hrms
    from engine.handlers.jobs import hrms_sync
    from local.events import LambdaContext
    from simulators.hrms import HrmsSimulator

    old = "2026-01-05T04:30:00.000000Z"
    employees = [
        {
            "employee_id": f"FS{n:04d}",
            "username": username,
            "official_email": f"{username}@staff.example.com",
            "status": status,
            "branch_code": "BR001",
            "designation": "Branch staff",
            "updated_at": old,
        }
        | ({"date_of_exit": "2026-12-03"} if status == "EXITED" else {})
        for n, (username, status) in enumerate(
            (("cashier.br001", "EXITED"), ("manager.br001", "ACTIVE"), ("cashier2.br001", "ACTIVE"))
        )
    ]
    monkeypatch.setattr("engine.clients.hrms._sleep", lambda _seconds: None)
    simulator = HrmsSimulator(
        HRMS_CREDENTIALS["api_user"],
        HRMS_CREDENTIALS["api_password"],
        HRMS_CREDENTIALS["api_key"],
        employees=employees,
    )
    arn = boto3.client("secretsmanager").create_secret(
        Name="access-hrms", SecretString=json.dumps(HRMS_CREDENTIALS)
    )["ARN"]
    with simulator as sim:
        assert sim.base_url
        monkeypatch.setenv("HRMS_BASE_URL", sim.base_url)
        monkeypatch.setenv("HRMS_SECRET_ARN", arn)
        settings.reset()
        wiring_hrms.reset()
        try:
            report = hrms_sync.handler(
                {}, LambdaContext(function_name="HrmsSync", timeout_seconds=600)
            )
        finally:
            wiring_hrms.reset()
    assert (report["deactivated"], report["created"]) == (1, 1), report
    operations = {c.operation for c in recorder.of("HrmsSync")}
    assert {"AdminDisableUser", "AdminCreateUser", "GetSecretValue"} <= operations
    assert_covered(recorder, "HrmsSync")
