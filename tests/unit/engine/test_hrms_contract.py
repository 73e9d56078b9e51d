"""The HRMS client and simulator held to docs/hrms-api.yml, the contract both follow.

A scripted session drives the client (and, for the statuses the client never causes, plain
requests) against the simulator over HTTP, through a recording connection pool. Then:

* every request the client sent validates against the operation's parameters, and carries
  both credentials the contract's security asks for (HTTP Basic and X-Api-Key);
* every answer (status, body, Retry-After) validates against the operation's response schema
  for that status, headers the contract requires included;
* the simulator answered no status the contract does not list;
* the operation was exercised with each of its error codes;
* the simulator's request log never holds a credential.

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` becomes a type union with null, and ``$ref``s
to ``#/components/...`` resolve against the document's components.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import jsonschema
import pytest

from engine.clients import transport
from engine.clients.hrms import HrmsClient, HrmsCredentials, HrmsRefused, HrmsUnavailable
from simulators.hrms import HrmsSimulator, demo_employees
from tests.contract_support import Contract, RecordingPool

CONTRACT = Contract("hrms-api.yml")
SPEC, validate, deref = CONTRACT.spec, CONTRACT.validate, CONTRACT.deref
USER, PASSWORD, KEY = "contract-user", "contract-password", "contract-api-key"
WATERMARK = "2000-01-01T00:00:00Z"
JSON = "application/json"
PATH = "/employees"
OPERATION = SPEC["paths"][PATH]["get"]


# --------------------------------------------------------------------------- the wire


@dataclass
class Session:
    sim: HrmsSimulator
    wire: RecordingPool

    def plain(self, query: str, **headers: str) -> int:
        """A request the client would never send: to get the statuses it never causes."""
        self.wire.by_client = False
        try:
            url = f"{self.sim.base_url}{PATH}?{query}"
            return int(self.wire.request("GET", url, headers=headers).status)
        finally:
            self.wire.by_client = True


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _client_session(sim: HrmsSimulator, hrms: HrmsClient) -> None:
    """The operation through the client, with the answers it meets."""
    page = hrms.employees_changed_since(WATERMARK, None, 4)
    seen = list(page.employees)
    while page.next_cursor is not None:
        page = hrms.employees_changed_since(WATERMARK, page.next_cursor, 4)
        seen.extend(page.employees)
    assert len(seen) == len(demo_employees())
    with pytest.raises(HrmsRefused):
        hrms.employees_changed_since(WATERMARK, "not-a-cursor-it-gave", 4)
    sim.set_mode("rate_limited", count=1, retry_after=2)  # retried within the budget
    assert hrms.employees_changed_since(WATERMARK).employees
    sim.set_mode("error_500", count=1)
    assert hrms.employees_changed_since(WATERMARK).employees
    sim.set_mode("error_503", count=3, retry_after=30)
    with pytest.raises(HrmsUnavailable) as down:
        hrms.employees_changed_since(WATERMARK)
    assert (down.value.status, down.value.retry_after) == (503, 30)
    sim.set_mode("rate_limited", count=3, retry_after=7)
    with pytest.raises(HrmsUnavailable) as limited:
        hrms.employees_changed_since(WATERMARK)
    assert (limited.value.status, limited.value.retry_after) == (429, 7)
    sim.set_mode("ok")


def _plain_session(session: Session) -> None:
    """The statuses the client never causes: bad credentials and queries, an outage."""
    good = {"Authorization": basic(USER, PASSWORD), "X-Api-Key": KEY}
    since = f"updated_since={WATERMARK}"
    for status, query, headers in [
        (401, since, {"Authorization": basic(USER, "wrong"), "X-Api-Key": KEY}),
        (401, since, {"Authorization": basic(USER, PASSWORD), "X-Api-Key": "wrong"}),
        (401, since, {"X-Api-Key": KEY}),
        (400, "updated_since=yesterday", good),
        (400, "page_size=5", good),
        (400, f"{since}&page_size=201", good),
        (400, f"{since}&page_size=0", good),
        (400, f"{since}&department=IT", good),
        (200, f"{since}&page_size=200", good),
    ]:
        assert session.plain(query, **headers) == status, (query, headers)
    session.sim.set_mode("down", count=1)
    assert session.plain(since, **good) == 503


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    wire = RecordingPool()
    patch = pytest.MonkeyPatch()
    patch.setattr(transport, "_pool", lambda: wire)
    patch.setattr("engine.clients.hrms._sleep", lambda _seconds: None)
    try:
        with HrmsSimulator(USER, PASSWORD, KEY, employees=demo_employees()) as sim:
            assert sim.base_url
            hrms = HrmsClient(
                sim.base_url,
                lambda: HrmsCredentials(USER, PASSWORD, KEY),
                timeout_seconds=1.0,
                budget_seconds=3.0,
            )
            _client_session(sim, hrms)
            done = Session(sim, wire)
            _plain_session(done)
            yield done
    finally:
        patch.undo()


# --------------------------------------------------------------------------- the checks


def test_every_request_the_client_sent_follows_the_contract(session: Session) -> None:
    sent = [e for e in session.wire.exchanges if e.by_client]
    assert len(sent) > 10
    declared = {p["name"]: p for p in map(deref, OPERATION["parameters"])}
    for exchange in sent:
        assert (exchange.method, exchange.path) == ("GET", PATH)
        assert set(exchange.query) <= set(declared), exchange.query
        for name, parameter in declared.items():
            if name not in exchange.query:
                assert not parameter.get("required"), name
                continue
            (value,) = exchange.query[name]
            schema = parameter["schema"]
            validate(int(value) if schema.get("type") == "integer" else value, schema)
        assert exchange.sent_headers["Authorization"] == basic(USER, PASSWORD)
        assert exchange.sent_headers["X-Api-Key"] == KEY


def test_every_answer_follows_the_contract_for_its_status(session: Session) -> None:
    for exchange in session.wire.exchanges:
        where = f"{exchange.status} to {exchange.query}"
        assert str(exchange.status) in OPERATION["responses"], f"{where} is not in the contract"
        answer = deref(OPERATION["responses"][str(exchange.status)])
        assert exchange.headers["content-type"].startswith(JSON), where
        validate(json.loads(exchange.data), answer["content"][JSON]["schema"])
        for name, header in answer.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in exchange.headers, f"{where} has no {name}"
            if name.lower() in exchange.headers:
                validate(int(exchange.headers[name.lower()]), header["schema"])


def test_the_simulator_answers_only_statuses_the_contract_lists(session: Session) -> None:
    answered = session.sim.received()
    assert len(answered) == len(session.wire.exchanges)
    for entry in answered:
        assert str(entry["response_status"]) in OPERATION["responses"], entry["response_status"]


def test_every_answer_and_error_code_was_exercised(session: Session) -> None:
    seen = {
        (e.status, json.loads(e.data).get("error", {}).get("code")) for e in session.wire.exchanges
    }
    assert {
        (200, None),
        (400, "VALIDATION_FAILED"),
        (401, "UNAUTHENTICATED"),
        (429, "RATE_LIMITED"),
        (500, "INTERNAL_ERROR"),
        (503, "UNAVAILABLE"),
    } <= seen
    pages = [json.loads(e.data) for e in session.wire.exchanges if e.status == 200]
    cursors = [page["next_cursor"] for page in pages]
    assert None in cursors and any(isinstance(cursor, str) for cursor in cursors)


def test_the_request_log_holds_no_credential(session: Session) -> None:
    logged = json.dumps(session.sim.received())
    assert KEY not in logged and PASSWORD not in logged
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in logged
    assert all(
        entry["headers"].get("X-Api-Key") in (None, "<redacted>")
        for entry in session.sim.received()
    )


# --------------------------------------------------------------------------- the checker


def test_the_checks_can_fail() -> None:
    """The conversion and the references are live: wrong shapes are caught."""
    employee = {"$ref": "#/components/schemas/Employee"}
    good = demo_employees()[0]
    validate(good, employee)
    validate({**good, "branch_code": None, "designation": None}, employee)
    for wrong in (
        {"status": "RESIGNED"},
        {"branch_code": "br001"},
        {"updated_at": "2026-12-03 10:15"},
        {"date_of_exit": "03/12/2026"},
        {"official_email": "not an address"},
        {"username": "Cashier BR001"},
        {"employee_id": ""},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate({**good, **wrong}, employee)
    without = {k: v for k, v in good.items() if k != "updated_at"}
    with pytest.raises(jsonschema.ValidationError):
        validate(without, employee)
    with pytest.raises(jsonschema.ValidationError):
        validate(
            {"error": {"code": "SOMETHING_ELSE", "message": ""}},
            {"$ref": "#/components/schemas/Error"},
        )
