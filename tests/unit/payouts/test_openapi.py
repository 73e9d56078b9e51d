"""The OpenAPI document: generated from the declarations, complete, consistent and committed."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from local import openapi
from payouts.dal.customers import public_customer
from payouts.declarations import ROUTES
from payouts.logic.create_payout import ACCEPTED_MESSAGE
from payouts.logic.webhooks import Result
from payouts.models.api import CREATE_PAYOUT_REQUEST, ERROR_RESPONSE
from payouts.models.payout import public_view
from shared.declarations import Route

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "openapi.json"
DOCS_HTML = ROOT / "local" / "docs.html"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.build_document()


def all_routes() -> list[tuple[str, Route]]:
    return [(system, route) for system, routes in openapi.SYSTEMS for route in routes]


def op_of(doc: dict[str, Any], route: Route) -> dict[str, Any]:
    return doc["paths"][route.path][route.method.lower()]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for key in ref[2:].split("/"):
        node = node[key.replace("~1", "/").replace("~0", "~")]
    return node


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs_in(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs_in(value)]
    return []


def as_json_schema(doc: dict[str, Any], node: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: refs inlined, `nullable` as a null type."""
    if isinstance(node, list):
        return [as_json_schema(doc, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return as_json_schema(doc, resolve(doc, node["$ref"]))
    out = {key: as_json_schema(doc, value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
    return out


def validate(doc: dict[str, Any], component: str, body: Any) -> None:
    schema = as_json_schema(doc, {"$ref": f"#/components/schemas/{component}"})
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(body)


# --- structure ---------------------------------------------------------------------------

_PARAMETER = {
    "type": "object",
    "required": ["name", "in", "schema"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "in": {"enum": ["path", "query", "header", "cookie"]},
        "required": {"type": "boolean"},
        "schema": {"type": "object"},
    },
}
_OPERATION = {
    "type": "object",
    "required": ["operationId", "summary", "tags", "responses", "security"],
    "properties": {
        "operationId": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "parameters": {"type": "array", "items": _PARAMETER},
        "security": {"type": "array", "items": {"type": "object"}},
        "requestBody": {"type": "object", "required": ["content"]},
        "responses": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "patternProperties": {
                "^[1-5][0-9]{2}$": {"type": "object", "required": ["description"]}
            },
        },
    },
}
_DOCUMENT = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"enum": ["3.0.3"]},
        "info": {"type": "object", "required": ["title", "version"]},
        "paths": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {
                "^/": {
                    "type": "object",
                    "additionalProperties": False,
                    "patternProperties": {f"^{m}$": _OPERATION for m in sorted(METHODS)},
                }
            },
        },
        "components": {"type": "object", "required": ["schemas", "securitySchemes"]},
    },
}


def test_the_document_has_the_openapi_3_0_structure(doc: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(_DOCUMENT).validate(doc)
    for name, schema in doc["components"]["schemas"].items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
        assert "$schema" not in schema
        jsonschema.Draft4Validator.check_schema(as_json_schema(doc, schema))


def test_every_declared_route_is_an_operation_tagged_with_its_system(
    doc: dict[str, Any],
) -> None:
    declared = {(route.path, route.method.lower()) for _, route in all_routes()}
    documented = {(path, method) for path, method, _ in operations(doc)}
    assert documented == declared
    for system, route in all_routes():
        op = op_of(doc, route)
        assert op["tags"] == [system]
        assert op["summary"] == route.summary
    assert [t["name"] for t in doc["tags"]] == [name for name, _ in openapi.SYSTEMS]


def test_the_payouts_routes_are_all_there(doc: dict[str, Any]) -> None:
    assert len(ROUTES) == 5
    assert {(r.method, r.path) for r in ROUTES} <= {
        (method.upper(), path) for path, method, _ in operations(doc)
    }


def test_path_parameters_match_the_template(doc: dict[str, Any]) -> None:
    for _, route in all_routes():
        in_template = re.findall(r"\{([^}]+)\}", route.path)
        params = [p for p in op_of(doc, route).get("parameters", []) if p["in"] == "path"]
        assert [p["name"] for p in params] == in_template, route.path
        assert all(p["required"] is True and p["schema"]["type"] == "string" for p in params)


def test_operation_ids_are_unique_and_derived_from_system_method_and_path(
    doc: dict[str, Any],
) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    payouts = {(r.method, r.path): op_of(doc, r)["operationId"] for r in ROUTES}
    assert payouts[("POST", "/payouts")] == "payouts_post_payouts"
    assert payouts[("GET", "/customers/{customer_id}/payouts")] == (
        "payouts_get_customers_customer_id_payouts"
    )


# --- the create route --------------------------------------------------------------------


def test_create_payout_requires_the_idempotency_key_header(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/payouts"]["post"]
    headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
    assert headers["Idempotency-Key"]["required"] is True
    pattern = headers["Idempotency-Key"]["schema"]["pattern"]
    assert re.fullmatch(pattern, "key-12345")
    assert not re.fullmatch(pattern, "short")
    assert not re.fullmatch(pattern, "has space 123")


def test_create_payout_body_is_the_request_model_without_its_schema_keyword(
    doc: dict[str, Any],
) -> None:
    body = doc["paths"]["/payouts"]["post"]["requestBody"]
    assert body["required"] is True
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CreatePayoutRequest"
    expected = {k: v for k, v in CREATE_PAYOUT_REQUEST.items() if k != "$schema"}
    assert resolve(doc, ref) == expected
    assert "$schema" in CREATE_PAYOUT_REQUEST  # the declaration itself is left alone


def test_every_required_header_is_a_required_header_parameter(doc: dict[str, Any]) -> None:
    for _, route in all_routes():
        params = op_of(doc, route).get("parameters", [])
        headers = {p["name"] for p in params if p["in"] == "header" and p["required"]}
        assert set(route.required_headers) <= headers, route.path


def test_the_list_route_takes_limit_and_cursor(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/customers/{customer_id}/payouts"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {"limit", "cursor"}
    assert query["limit"]["schema"]["type"] == "integer"
    assert (query["limit"]["schema"]["minimum"], query["limit"]["schema"]["maximum"]) == (1, 100)
    assert query["cursor"]["schema"]["type"] == "string"
    assert not any(p["required"] for p in query.values())


# --- security ----------------------------------------------------------------------------


def test_cognito_routes_need_the_cognito_admin_scheme(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["CognitoAdmin"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "Authorization" in scheme["description"]
    assert "/local/token" in scheme["description"]
    cognito = [route for _, route in all_routes() if route.auth == "cognito"]
    assert cognito
    for route in cognito:
        op = op_of(doc, route)
        assert op["security"] == [{"CognitoAdmin": []}], route.path
        assert op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"] == (
            ERROR_REF
        )
    assert "security" not in doc  # no global default: every operation says what it needs


def test_the_webhook_is_public_and_documents_its_own_authentication(
    doc: dict[str, Any],
) -> None:
    op = doc["paths"]["/webhooks/monoova"]["post"]
    assert op["security"] == []
    assert "handler" in op["description"]
    assert "RSA" in op["description"]
    headers = {p["name"]: p for p in op["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Authorization", "Verification-Signature", "Webhookid"}
    assert headers["Authorization"]["required"] is True
    assert headers["Verification-Signature"]["required"] is True
    for _, route in all_routes():
        if route.auth == "none":
            assert op_of(doc, route)["security"] == [], route.path


# --- references and responses ------------------------------------------------------------


def test_every_ref_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    refs = refs_in(doc)
    assert refs
    for ref in refs:
        assert resolve(doc, ref) is not None, ref


def test_every_component_schema_is_used(doc: dict[str, Any]) -> None:
    used = {ref.rsplit("/", 1)[-1] for ref in refs_in(doc)}
    assert set(doc["components"]["schemas"]) == used


def test_every_declared_response_is_documented_and_errors_reference_error(
    doc: dict[str, Any],
) -> None:
    assert doc["components"]["schemas"]["Error"] == {
        k: v for k, v in ERROR_RESPONSE.items() if k != "$schema"
    }
    for _, route in all_routes():
        responses = op_of(doc, route)["responses"]
        for status, description in route.responses.items():
            assert responses[str(status)]["description"] == description
        for status, response in responses.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if int(status) >= 400:
                assert schema == {"$ref": ERROR_REF}, (route.path, status)
            else:
                assert schema is not None and schema["$ref"] != ERROR_REF, (route.path, status)


def test_success_bodies_have_their_schemas(doc: dict[str, Any]) -> None:
    def success(path: str, method: str) -> str:
        response = doc["paths"][path][method]["responses"]
        (status,) = [s for s in response if s.startswith("2")]
        return str(response[status]["content"]["application/json"]["schema"]["$ref"])

    assert success("/payouts", "post").endswith("/PayoutAccepted")
    assert success("/payouts/{transaction_id}", "get").endswith("/Payout")
    assert success("/customers/{customer_id}", "get").endswith("/Customer")
    assert success("/customers/{customer_id}/payouts", "get").endswith("/PayoutPage")
    assert success("/webhooks/monoova", "post").endswith("/WebhookReceipt")
    assert "Retry-After" in doc["paths"]["/payouts"]["post"]["responses"]["503"]["headers"]


def test_route_extras_name_only_declared_routes() -> None:
    declared = {(route.method, route.path) for _, route in all_routes()}
    assert set(openapi.ROUTE_EXTRAS) <= declared


# --- the schemas describe what the handlers really answer --------------------------------

STORED_PAYOUT = {
    "transaction_id": "po_" + "a" * 32,
    "customer_id": "cust-1",
    "amount": Decimal("100.5"),
    "currency": "AUD",
    "payout_method": "PayId",
    "status": "Pending",
    "created_at": "2026-11-21T10:30:00.123Z",
    "idempotency_record": "hidden",
}
FINAL_PAYOUT = {
    **STORED_PAYOUT,
    "status": "Returned",
    "updated_at": "2026-11-22T10:30:00.123Z",
    "status_reason": "Account closed",
    "finalised_at": "2026-11-21T10:31:00.000Z",
    "refunded_at": "2026-11-22T10:30:01.000Z",
    "monoova_transaction_id": Decimal(1234),
}


def test_payout_schemas_match_public_view(doc: dict[str, Any]) -> None:
    for item in (STORED_PAYOUT, FINAL_PAYOUT):
        validate(doc, "Payout", public_view(item))
    full = public_view(FINAL_PAYOUT)
    assert set(full) == set(doc["components"]["schemas"]["Payout"]["properties"])
    page = {"items": [public_view(STORED_PAYOUT), full], "next_cursor": "opaque"}
    validate(doc, "PayoutPage", page)
    validate(doc, "PayoutPage", {"items": [], "next_cursor": None})
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, "Payout", {**full, "amount": 100.5})
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, "Payout", {**full, "amount": "100.5"})


def test_customer_schema_matches_public_customer(doc: dict[str, Any]) -> None:
    customer = {
        "customer_id": "cust-1",
        "available_balance": Decimal("250"),
        "currency": "AUD",
        "destinations": {
            "PayId": {"status": "active", "hint": "j***@example.com", "pay_id_type": "Email"},
            "BankAccount": {"status": "active", "hint": "account ending 678", "bsb": "sealed"},
        },
    }
    validate(doc, "Customer", public_customer(customer))
    validate(doc, "Customer", public_customer({**customer, "destinations": {}}))


def test_accepted_and_receipt_schemas_match_the_handlers(doc: dict[str, Any]) -> None:
    accepted = {
        "transaction_id": "po_" + "b" * 32,
        "status": "Pending",
        "message": ACCEPTED_MESSAGE,
        "created_at": "2026-11-21T10:30:00.123Z",
    }
    validate(doc, "PayoutAccepted", accepted)
    results = doc["components"]["schemas"]["WebhookReceipt"]["properties"]["result"]["enum"]
    answered = {r.value for r in Result if not r.needs_review} | {"dead_lettered"}
    assert set(results) == answered
    for result in results:
        validate(doc, "WebhookReceipt", {"received": True, "result": result})
    validate(doc, "Error", {"error": "NotFound", "message": "m", "timestamp": "t"})


# --- generation --------------------------------------------------------------------------


def test_the_output_is_deterministic_and_servers_are_optional() -> None:
    assert openapi.render(openapi.build_document()) == openapi.render(openapi.build_document())
    assert "servers" not in openapi.build_document()
    with_server = openapi.build_document(server_url="http://127.0.0.1:3000")
    assert with_server["servers"] == [{"url": "http://127.0.0.1:3000"}]
    rendered = openapi.render(with_server)
    assert rendered.endswith("}\n")
    assert rendered.index('"components"') < rendered.index('"paths"')  # keys sorted


def test_a_2xx_without_a_named_body_schema_fails_loudly() -> None:
    route = Route("GET", "/things", "F", auth="cognito", summary="s", responses={200: "ok"})
    with pytest.raises(ValueError, match="ROUTE_EXTRAS"):
        openapi.build_document((("things", (route,)),))


def test_a_route_declared_twice_fails() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        openapi.build_document((("a", ROUTES), ("b", ROUTES[:1])))


def test_draft4_keywords_without_an_openapi_equivalent_are_refused() -> None:
    with pytest.raises(ValueError, match="type as a list"):
        openapi.to_openapi_schema({"properties": {"x": {"type": ["string", "null"]}}})
    with pytest.raises(ValueError, match="patternProperties"):
        openapi.to_openapi_schema({"patternProperties": {"^a": {}}})


def test_the_committed_document_is_in_sync_with_the_declarations() -> None:
    fresh = openapi.render(openapi.build_document())
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.is_file() else ""
    assert committed == fresh, (
        "docs/openapi.json is out of date with the route declarations: run `make openapi` "
        "(python -m local.openapi --output docs/openapi.json) and commit the result"
    )


def test_check_fails_on_a_stale_file_and_passes_on_a_fresh_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "openapi.json"
    assert openapi.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == openapi.render(openapi.build_document())
    assert openapi.main(["--output", str(target), "--check"]) == 0

    target.write_text(target.read_text(encoding="utf-8").replace("Create a payout", "Changed"))
    capsys.readouterr()
    assert openapi.main(["--output", str(target), "--check"]) == 1
    err = capsys.readouterr().err
    assert str(target) in err
    assert "make openapi" in err

    assert openapi.main(["--output", str(tmp_path / "missing.json"), "--check"]) == 1


def test_the_module_runs_from_the_repo_root(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    target.write_text(openapi.render(openapi.build_document()), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}  # no PYTHONPATH
    command = [sys.executable, "-m", "local.openapi", "--output", str(target), "--check"]
    ok = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    target.write_text("{}\n", encoding="utf-8")
    stale = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "make openapi" in stale.stderr


# --- the docs page -----------------------------------------------------------------------


def test_the_docs_page_is_self_contained_and_reads_the_local_document() -> None:
    html = DOCS_HTML.read_text(encoding="utf-8")
    remote = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert remote == []
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.IGNORECASE)
    assert not re.search(r"https?://", html)
    assert re.search(r"""fetch\(\s*["'](?:\./)?openapi\.json["']""", html)
    assert "innerHTML" not in html
    assert "insertAdjacentHTML" not in html
    assert "document.write" not in html
