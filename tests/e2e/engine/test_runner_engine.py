"""The runner's side of the engine: one port per API, the endpoints and demo listings, each
API's own OpenAPI document, docs and root page, the SMS outbox, and runner-level answers in
each API's own error shape."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.conftest import http
from tests.e2e.engine.conftest import (
    ACTIVE,
    CLOSED,
    NPA,
    OVERDUE,
    SECOND,
    Engine,
    assert_engine_error,
)

NAMES = {"payouts", "portal", "internal", "monoova", "razorpay"}


def test_endpoints_name_every_api_and_simulator_each_on_its_own_port(engine: Engine) -> None:
    assert set(engine.endpoints) >= NAMES, engine.endpoints
    ports = {url.rsplit(":", 1)[1] for name, url in engine.endpoints.items() if name in NAMES}
    assert len(ports) == len(NAMES), engine.endpoints
    answer = http("GET", f"{engine.main}/_local/endpoints")
    assert answer.raw.endswith(b"\n"), answer


def test_demo_lists_loans_with_mobiles_states_and_the_portal_key(engine: Engine) -> None:
    loans = {x["loan_account_number"]: x for x in engine.demo["loans"]}
    assert {ACTIVE, OVERDUE, NPA, CLOSED, SECOND} <= set(loans), loans
    assert loans[ACTIVE]["status"] == "ACTIVE" and loans[CLOSED]["status"] == "CLOSED"
    assert Decimal(loans[OVERDUE]["overdue_amount"]) > 0 and loans[OVERDUE]["days_past_due"] > 0
    assert {x["branch_code"] for x in loans.values()} == {"BR001", "BR002"}
    assert all(x["mobile_number"] for x in loans.values())
    assert engine.demo["portal_api_key"]


def test_each_api_serves_its_own_document_docs_and_root(engine: Engine) -> None:
    expected = {
        "payouts": "/payouts",
        "portal": "/api/v1/customer/payments",
        "internal": "/health",
    }
    for name, path in expected.items():
        base = engine.endpoints[name]
        document = http("GET", f"{base}/openapi.json")
        assert document.status == 200, document
        assert path in document.body["paths"], (name, sorted(document.body["paths"]))
        assert document.body["servers"] == [{"url": base}], document.body.get("servers")
        docs = http("GET", f"{base}/docs")
        assert docs.status == 200 and "<html" in docs.text.lower(), docs
        root = http("GET", f"{base}/")
        assert root.status == 200 and root.raw.endswith(b"\n"), root
        assert root.body["api"] == name and root.body["docs"] == f"{base}/docs", root
    portal = http("GET", f"{engine.portal}/openapi.json").body
    assert (
        "/api/v1/customer/payments" not in http("GET", f"{engine.main}/openapi.json").body["paths"]
    )
    body = portal["paths"]["/api/v1/customer/payments"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("CreatePaymentRequest")


def test_runner_level_answers_on_engine_ports_are_in_the_engine_shape(engine: Engine) -> None:
    for base in (engine.portal, engine.endpoints["internal"]):
        for method in ("GET", "DELETE", "FROB"):
            answer = http(method, f"{base}/nope")
            assert_engine_error(answer, 403, "FORBIDDEN")
    not_json = engine.call("POST", "/api/v1/customer/validate-loan", raw=b"{not json")
    assert_engine_error(not_json, 400, "VALIDATION_ERROR")
    no_session = engine.call("GET", f"/api/v1/customer/loans/{ACTIVE}")
    assert no_session.status in (400, 401), no_session
    assert_engine_error(no_session, no_session.status)


def test_the_sms_outbox_shows_the_newest_first(engine: Engine) -> None:
    mobile = engine.mobile_of(SECOND)
    before = {m["id"] for m in engine.sms(mobile)}
    engine.validate(SECOND, mobile)
    engine.latest_otp(mobile, before)
    everything = http("GET", f"{engine.main}/_local/sms").body
    assert everything and set(everything[0]) >= {"to", "text", "sent_at"}, everything
    times = [m["sent_at"] for m in everything]
    assert times == sorted(times, reverse=True), times
    assert engine.sms(mobile)[0]["to"].endswith(mobile[-10:])


def test_the_health_routes_answer_through_both_apis(engine: Engine) -> None:
    for base in (engine.portal, engine.endpoints["internal"]):
        answer = http("GET", f"{base}/health")  # no key: Route 53 cannot send one
        assert answer.status == 200, answer
        assert answer.body["checks"] == {"dynamodb": "ok", "postgres": "ok"}, answer
