"""The LMS client and simulator held to docs/lms-api.yml, the contract both follow.

A scripted session drives the client (and, for the statuses the client never causes, plain
requests) against the simulator over HTTP, through a recording connection pool. Then:

* every request the client sent validates against its operation's request schema (body and
  query/path parameters);
* every answer (status, body, Retry-After) validates against the operation's response schema
  for that status;
* the simulator answered no status the contract does not list for the operation;
* every operation was exercised, with its main error statuses;
* the channels, payment modes and purposes the document lists are the client's and the
  simulator's, and a staff collection's fee leaves the loan as the document says.

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` becomes a type union with null, and ``$ref``s
to ``#/components/...`` resolve against the document's components.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest

from engine.clients import lms_models, transport
from engine.clients.lms import (
    LmsClient,
    LmsCredentials,
    LmsRefused,
    LmsUnavailable,
    ReceiptPost,
)
from simulators.lms import LmsSimulator
from simulators.lms import shapes as sim_shapes
from tests.contract_support import Contract, RecordingPool

CONTRACT = Contract("lms-api.yml")
SPEC, validate, deref = CONTRACT.spec, CONTRACT.validate, CONTRACT.deref
CLIENT_ID, CLIENT_SECRET = "contract-client", "contract-secret"
WATERMARK = "2000-01-01T00:00:00Z"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------- the contract


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["operationId"])

    def statuses(self) -> set[str]:
        return set(self.spec["responses"])


def _operations() -> list[tuple[re.Pattern[str], Operation]]:
    found = []
    for template, item in SPEC["paths"].items():
        pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))
        for method, spec in item.items():
            found.append((pattern, Operation(method.upper(), template, spec)))
    return found


OPERATIONS = _operations()


def operation(method: str, path: str) -> tuple[Operation, dict[str, str]]:
    for pattern, candidate in OPERATIONS:
        match = pattern.fullmatch(path)
        if match and candidate.method == method:
            return candidate, match.groupdict()
    raise AssertionError(f"{method} {path} is not an operation of the contract")


# --------------------------------------------------------------------------- the wire


@dataclass
class Session:
    sim: LmsSimulator
    lms: LmsClient
    wire: RecordingPool
    client_requests: list[dict[str, Any]]

    def plain(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, Any]:
        """A request the client would never send: to get the statuses it never causes."""
        answer = self.wire.request(method, f"{self.sim.base_url}{path}", body=body, headers=headers)
        return answer.status, json.loads(answer.data) if answer.data else None


def receipt(n: int, loan: str = "LN0000000001", amount: str = "2500.00") -> ReceiptPost:
    return ReceiptPost(
        f"BR001/2026-27/{n:06d}",
        loan,
        Decimal(amount),
        "INR",
        datetime(2026, 12, 3, 10, 15, tzinfo=UTC),
        "PORTAL",
        "UPI",
        "BR001",
        "pay_aaaaaaaaaaaaaaaaaaaa" if n % 2 else None,
    )


def staff_receipt(
    n: int, purpose: str, mode: str = "CASH", channel: str = "FIELD", number: str | None = None
) -> ReceiptPost:
    """A staff collection's receipt (1.1.0), on the loan no other receipt of the session
    touches."""
    return replace(
        receipt(n, loan="LN0000000003", amount="1500.00"),
        channel=channel,
        payment_mode=mode,
        purpose=purpose,
        external_reference=None,
        instrument_number=number,
    )


LOANS = [
    {
        "loan_account_number": f"LN000000000{n}",
        "status": "CLOSED" if n == 4 else "ACTIVE",
        "outstanding_amount": "0.00" if n == 4 else "100000.00",
        "emi_amount": "5000.00",
        "next_due_date": None if n == 4 else "2026-12-15",
        "overdue_amount": "0.00",
        "days_past_due": 0,
    }
    for n in range(1, 6)
]


def _client_session(sim: LmsSimulator, lms: LmsClient) -> None:
    """Every operation through the client, with the errors it meets."""
    assert lms.post_receipt(receipt(1)).created is True
    assert lms.post_receipt(receipt(1)).created is False
    assert lms.post_receipt(receipt(2, amount="100000.01")).receipt.amount == Decimal("100000.01")
    for refused in (
        receipt(1, amount="1.00"),  # 409
        receipt(3, loan="LN0000000004"),  # 422 LOAN_CLOSED
        receipt(3, loan="LN0000000099"),  # 422 LOAN_NOT_FOUND
    ):
        with pytest.raises(LmsRefused):
            lms.post_receipt(refused)
    assert lms.receipt_by_reference("BR001/2026-27/000001") is not None
    assert lms.receipt_by_reference("BR001/2026-27/000099") is None
    assert lms.loan("LN0000000002") is not None and lms.loan("LN0000000009") is None
    page = lms.loans_changed_since(WATERMARK, None, 2)
    while page.next_cursor is not None:
        page = lms.loans_changed_since(WATERMARK, page.next_cursor, 2)
    with pytest.raises(LmsRefused):
        lms.loans_changed_since(WATERMARK, "not-a-cursor-it-gave", 2)
    cancelled = lms.cancel_receipt(lms.post_receipt(receipt(4)).receipt.receipt_id, "bounced")
    assert lms.receipt_by_reference(receipt(4).reference) == cancelled
    with pytest.raises(LmsRefused):
        lms.cancel_receipt("LMSR0000009999", "bounced")
    _staff_session(sim, lms)
    sim.expire_tokens()  # 401, a new token, the call again
    assert lms.loan("LN0000000001") is not None
    sim.set_mode("error_503", count=1)  # a read retried through it
    assert lms.loan("LN0000000001") is not None
    sim.set_mode("error_500", count=1)
    with pytest.raises(LmsUnavailable):
        lms.post_receipt(receipt(5))
    sim.set_mode("maintenance", seconds=30)
    with pytest.raises(LmsUnavailable):
        lms.post_receipt(receipt(5))
    sim.set_mode("ok")


def _staff_session(sim: LmsSimulator, lms: LmsClient) -> None:
    """Staff collections: only the EMI receipt moves the loan; a fee, a challan and the
    challan's cancellation leave it as it was."""
    assert lms.post_receipt(staff_receipt(6, "EMI")).created is True
    applied = sim.loan("LN0000000003")
    assert applied is not None and applied["outstanding_amount"] == "98500.00"
    fee = staff_receipt(7, "LEGAL_FEE", "CHEQUE", "BRANCH", "004512")
    assert lms.post_receipt(fee).receipt.purpose == "LEGAL_FEE"
    with pytest.raises(LmsRefused):
        lms.post_receipt(replace(fee, purpose="EMI"))  # 409: the reference is a fee's
    challan = lms.post_receipt(staff_receipt(8, "CHALLAN", "DEMAND_DRAFT", number="118877"))
    assert lms.cancel_receipt(challan.receipt.receipt_id, "wrong loan").purpose == "CHALLAN"
    assert sim.loan("LN0000000003") == applied


def _plain_session(session: Session) -> None:
    """The statuses the client never causes: bad tokens, bodies and queries, an outage."""
    form = {"Content-Type": FORM}

    def token_form(**fields: str) -> bytes:
        base = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
        return urlencode({**base, "client_secret": CLIENT_SECRET, **fields}).encode()

    status, body = session.plain("POST", "/oauth/token", token_form(), **form)
    assert status == 200
    bearer = {"Authorization": f"Bearer {body['access_token']}", "Content-Type": JSON}
    for status, request in [
        (401, ("POST", "/oauth/token", token_form(client_secret="wrong"), form)),
        (400, ("POST", "/oauth/token", token_form(grant_type="password"), form)),
        (400, ("POST", "/oauth/token", b"grant_type=client_credentials", form)),
        (400, ("POST", "/api/v1/receipts", b'{"reference": "x"}', bearer)),
        (400, ("POST", "/api/v1/receipts", _receipt_json(purpose="PENALTY"), bearer)),
        (400, ("POST", "/api/v1/receipts", _receipt_json(instrument_number="004512"), bearer)),
        (401, ("POST", "/api/v1/receipts", b"{}", {"Content-Type": JSON})),
        (400, ("GET", "/api/v1/receipts?reference=nonsense", None, bearer)),
        (400, ("POST", "/api/v1/receipts/LMSR0000000001/cancellation", b"{}", bearer)),
        (404, ("GET", "/api/v1/loans/not-a-loan", None, bearer)),
        (400, ("GET", f"/api/v1/loans?changed_since={WATERMARK}&cursor=x", None, bearer)),
        (401, ("GET", "/api/v1/loans/LN0000000001", None, {})),
    ]:
        method, path, raw, headers = request
        assert session.plain(method, path, raw, **headers)[0] == status, path
    session.sim.set_mode("down", count=1)
    assert session.plain("POST", "/oauth/token", token_form(), **form)[0] == 503


def _receipt_json(**change: str) -> bytes:
    """A receipt body the client would send (a UPI receipt), with ``change`` on top."""
    return json.dumps({**receipt(9, loan="LN0000000005").body(), **change}).encode()


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    wire = RecordingPool()
    patch = pytest.MonkeyPatch()
    patch.setattr(transport, "_pool", lambda: wire)
    patch.setattr("engine.clients.lms._sleep", lambda _seconds: None)
    try:
        with LmsSimulator(CLIENT_ID, CLIENT_SECRET, loans=LOANS, hold_seconds=0.2) as sim:
            assert sim.base_url
            lms = LmsClient(
                sim.base_url,
                lambda: LmsCredentials(CLIENT_ID, CLIENT_SECRET),
                timeout_seconds=1.0,
                budget_seconds=3.0,
            )
            _client_session(sim, lms)
            done = Session(sim, lms, wire, sim.received())
            _plain_session(done)
            yield done
    finally:
        patch.undo()


# --------------------------------------------------------------------------- the checks


def test_every_request_the_client_sent_follows_the_contract(session: Session) -> None:
    assert len(session.client_requests) > 20
    for sent in session.client_requests:
        op, path_params = operation(sent["method"], sent["route"])
        declared = [deref(p) for p in op.spec.get("parameters", [])]
        query = sent["query"]
        assert set(query) <= {p["name"] for p in declared if p["in"] == "query"}, sent["path"]
        for parameter in declared:
            schema = parameter["schema"]
            if parameter["in"] == "path":
                validate(path_params[parameter["name"]], schema)
            elif parameter["name"] in query:
                (value,) = query[parameter["name"]]
                validate(int(value) if schema.get("type") == "integer" else value, schema)
            else:
                assert not parameter.get("required"), (parameter["name"], sent["path"])
        body_spec = op.spec.get("requestBody")
        if body_spec is None:
            assert sent["body"] is None, sent["path"]
            continue
        content_type = sent["headers"]["Content-Type"].split(";")[0]
        assert content_type in body_spec["content"], (content_type, sent["path"])
        validate(sent["body"], body_spec["content"][content_type]["schema"])


def test_every_answer_follows_the_contract_for_its_status(session: Session) -> None:
    for exchange in session.wire.exchanges:
        op, _ = operation(exchange.method, exchange.path)
        where = f"{op.id} {exchange.status}"
        assert str(exchange.status) in op.statuses(), f"{where} is not in the contract"
        answer = deref(op.spec["responses"][str(exchange.status)])
        schema = answer["content"][JSON]["schema"]
        assert exchange.headers["content-type"].startswith(JSON), where
        validate(json.loads(exchange.data), schema)
        for name, header in answer.get("headers", {}).items():
            if name.lower() in exchange.headers:
                validate(int(exchange.headers[name.lower()]), header["schema"])


def test_the_simulator_answers_only_statuses_the_contract_lists(session: Session) -> None:
    answered = [r for r in session.sim.received() if not r["dropped"]]
    assert len(answered) == len(session.wire.exchanges)
    for entry in answered:
        op, _ = operation(entry["method"], entry["route"])
        assert str(entry["response_status"]) in op.statuses(), (op.id, entry["response_status"])


def test_every_operation_and_its_main_errors_were_exercised(session: Session) -> None:
    seen = {
        (
            operation(e.method, e.path)[0].id,
            e.status,
            json.loads(e.data).get("error", {}).get("code"),
        )
        for e in session.wire.exchanges
    }
    expected = {
        ("token", 200, None),
        ("token", 400, "UNSUPPORTED_GRANT_TYPE"),
        ("token", 400, "VALIDATION_FAILED"),
        ("token", 401, "INVALID_CLIENT"),
        ("token", 503, "UNAVAILABLE"),
        ("postReceipt", 201, None),
        ("postReceipt", 200, None),
        ("postReceipt", 400, "VALIDATION_FAILED"),
        ("postReceipt", 401, "INVALID_TOKEN"),
        ("postReceipt", 409, "REFERENCE_CONFLICT"),
        ("postReceipt", 422, "LOAN_CLOSED"),
        ("postReceipt", 422, "LOAN_NOT_FOUND"),
        ("postReceipt", 500, "INTERNAL_ERROR"),
        ("postReceipt", 503, "MAINTENANCE"),
        ("receiptByReference", 200, None),
        ("receiptByReference", 400, "VALIDATION_FAILED"),
        ("receiptByReference", 404, "RECEIPT_NOT_FOUND"),
        ("cancelReceipt", 200, None),
        ("cancelReceipt", 400, "VALIDATION_FAILED"),
        ("cancelReceipt", 404, "RECEIPT_NOT_FOUND"),
        ("loan", 200, None),
        ("loan", 401, "INVALID_TOKEN"),
        ("loan", 404, "LOAN_NOT_FOUND"),
        ("loan", 503, "UNAVAILABLE"),
        ("loansChangedSince", 200, None),
        ("loansChangedSince", 400, "VALIDATION_FAILED"),
    }
    assert expected - seen == set()
    maintenance = [e for e in session.wire.exchanges if b"MAINTENANCE" in e.data]
    assert maintenance and all(e.headers.get("retry-after") == "30" for e in maintenance)
    pages = [json.loads(e.data) for e in session.wire.exchanges if e.path == "/api/v1/loans"]
    cursors = [page.get("next_cursor", "absent") for page in pages if "items" in page]
    assert None in cursors and any(isinstance(cursor, str) for cursor in cursors)


def test_the_staff_collections_values_were_sent_and_validated(session: Session) -> None:
    posts = [r["body"] for r in session.client_requests if r["method"] == "POST"]
    receipts = [body for body in posts if isinstance(body, dict) and "reference" in body]
    sent = {name: {body.get(name) for body in receipts} for name in receipts[0]}
    assert {"FIELD", "BRANCH"} <= sent["channel"]
    assert {"CASH", "CHEQUE", "DEMAND_DRAFT"} <= sent["payment_mode"]
    assert {"EMI", "LEGAL_FEE", "CHALLAN"} <= sent["purpose"]
    assert any(body.get("instrument_number") for body in receipts)


def test_the_documents_lists_are_the_client_and_the_simulator_lists() -> None:
    schemas = SPEC["components"]["schemas"]
    for name, client, simulator in (
        ("Channel", lms_models.CHANNELS, sim_shapes.CHANNELS),
        ("PaymentMode", lms_models.PAYMENT_MODES, sim_shapes.PAYMENT_MODES),
        ("ReceiptPurpose", lms_models.PURPOSES, sim_shapes.PURPOSES),
    ):
        assert set(schemas[name]["enum"]) == client == simulator, name
    assert schemas["ReceiptPurpose"]["default"] == lms_models.EMI == sim_shapes.EMI
    assert "purpose" not in schemas["ReceiptRequest"]["required"]  # absent: an EMI


# --------------------------------------------------------------------------- the checker


def test_the_checks_can_fail() -> None:
    """The conversion and the references are live: wrong shapes are caught."""
    receipt_schema = {"$ref": "#/components/schemas/Receipt"}
    good = {
        "receipt_id": "LMSR0000000001",
        "reference": "BR001/2026-27/000001",
        "loan_account_number": "LN0000000001",
        "amount": "2500.00",
        "status": "POSTED",
        "posted_at": "2026-12-03T10:15:00.000000Z",
        "cancelled_at": None,
    }
    validate(good, receipt_schema)
    for wrong in (
        {"amount": 2500},
        {"amount": "2500.0"},
        {"cancelled_at": 5},
        {"posted_at": "2026-12-03 10:15"},
        {"status": "PENDING"},
        {"receipt_id": "LMSR1"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate({**good, **wrong}, receipt_schema)
    validate({**good, "channel": "FIELD", "payment_mode": "DEMAND_DRAFT"}, receipt_schema)
    for wrong in ({"purpose": "PENALTY"}, {"channel": "DOORSTEP"}, {"payment_mode": "DD"}):
        with pytest.raises(jsonschema.ValidationError):
            validate({**good, **wrong}, receipt_schema)
    request = {"$ref": "#/components/schemas/ReceiptRequest"}
    with pytest.raises(jsonschema.ValidationError):
        validate({"reference": "BR001/2026-27/000001"}, request)
    staff = staff_receipt(1, "LEGAL_FEE", "CHEQUE", "BRANCH", "004512").body()
    validate(staff, request)
    wrongs: tuple[dict[str, Any], ...] = (
        {"purpose": "PENALTY"},
        {"purpose": None},
        {"channel": "field"},
        {"instrument_number": "1" * 21},
        {"instrument_number": "0045-12"},
    )
    for wrong in wrongs:
        with pytest.raises(jsonschema.ValidationError):
            validate({**staff, **wrong}, request)
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"error": {"code": "SOMETHING_ELSE", "message": ""}},
            {"$ref": "#/components/schemas/Error"},
        )
    with pytest.raises(AssertionError):
        operation("DELETE", "/api/v1/receipts")
