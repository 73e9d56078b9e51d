"""The OpenAPI 3.0.3 document of the HTTP APIs, generated from the route declarations.

    python -m local.openapi [--output docs/openapi.json] [--check]

Paths, methods, auth, summaries, required headers, request models and response codes come
from each system's `ROUTES`; what the declarations do not say (query parameters, the shapes
of successful bodies, handler-side authentication) is written down here, per route, in
`ROUTE_EXTRAS`. The output is deterministic so `docs/openapi.json` can be committed and a
test can tell when it is stale.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "lambda_src") not in sys.path:  # `python -m local.openapi` from the repo root
    sys.path.insert(0, str(ROOT / "lambda_src"))

from payouts.declarations import ROUTES as PAYOUTS_ROUTES  # noqa: E402
from payouts.models.api import (  # noqa: E402
    CUSTOMER_ID_PATTERN,
    ERROR_RESPONSE,
    PAYOUT_METHODS,
)
from payouts.models.status import Status  # noqa: E402
from shared.declarations import Route  # noqa: E402

OPENAPI_VERSION = "3.0.3"
API_VERSION = "0.1.0"
DEFAULT_OUTPUT = ROOT / "docs" / "openapi.json"
SECURITY_SCHEME = "CognitoAdmin"
ERROR_SCHEMA = "Error"
JSON = "application/json"

# (system name, its routes); every system appends its own. The name is the operations' tag.
SYSTEMS: tuple[tuple[str, Sequence[Route]], ...] = (("payouts", PAYOUTS_ROUTES),)

API_DESCRIPTION = (
    "Generated from the route declarations (`lambda_src/*/declarations.py`) by "
    "`make openapi`; do not edit by hand.\n\n"
    "Errors always have the shape `Error` (`{error, message, timestamp}`), whether the "
    "handler or API Gateway (validation, authorizer, throttling) answers. Amounts in "
    'responses are decimal strings (`"100.50"`) so no client parses money as a float.'
)
NO_AUTHORIZER = "Public at API Gateway (no authorizer): the handler authenticates each request."

_TIMESTAMP = {"type": "string", "format": "date-time", "example": "2026-11-21T10:30:00.123Z"}
_MONEY = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "100.50"}
_TRANSACTION_ID = {
    "type": "string",
    "description": "Monoova's uniqueReference too: `po_` + 32 hex characters.",
    "example": "po_2f1c0e5a9b7d4c3e8f6a1b2c3d4e5f60",
}
_CUSTOMER_ID = {"type": "string", "pattern": CUSTOMER_ID_PATTERN, "example": "cust-1"}

# Bodies the declarations do not model: the handlers' answers (`public_view`, `public_customer`,
# ...) and the webhook's payload, by component name.
BODY_SCHEMAS: dict[str, dict[str, Any]] = {
    "PayoutAccepted": {
        "title": "PayoutAccepted",
        "type": "object",
        "additionalProperties": False,
        "required": ["transaction_id", "status", "message", "created_at"],
        "properties": {
            "transaction_id": _TRANSACTION_ID,
            "status": {"type": "string", "enum": [Status.PENDING.value]},
            "message": {"type": "string"},
            "created_at": _TIMESTAMP,
        },
    },
    "Payout": {
        "title": "Payout",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "transaction_id",
            "customer_id",
            "amount",
            "currency",
            "payout_method",
            "status",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "transaction_id": _TRANSACTION_ID,
            "customer_id": _CUSTOMER_ID,
            "amount": _MONEY,
            "currency": {"type": "string", "example": "AUD"},
            "payout_method": {"type": "string", "enum": list(PAYOUT_METHODS)},
            "status": {"type": "string", "enum": [s.value for s in Status]},
            "status_reason": {"type": "string", "description": "Why it was rejected or returned."},
            "monoova_transaction_id": {"type": "integer"},
            "created_at": _TIMESTAMP,
            "updated_at": _TIMESTAMP,
            "finalised_at": _TIMESTAMP,
            "refunded_at": _TIMESTAMP,
        },
    },
    "PayoutPage": {
        "title": "PayoutPage",
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Payout"}},
            "next_cursor": {
                "type": "string",
                "nullable": True,
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    },
    "Customer": {
        "title": "Customer",
        "type": "object",
        "additionalProperties": False,
        "required": ["customer_id", "available_balance", "currency", "destinations"],
        "properties": {
            "customer_id": _CUSTOMER_ID,
            "available_balance": _MONEY,
            "currency": {"type": "string", "example": "AUD"},
            "destinations": {
                "type": "array",
                "description": "Payout destinations by masked hint; nothing decryptable.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["method", "status", "hint"],
                    "properties": {
                        "method": {"type": "string", "enum": list(PAYOUT_METHODS)},
                        "status": {"type": "string", "example": "active"},
                        "hint": {"type": "string", "example": "account ending 678"},
                        "pay_id_type": {"type": "string", "example": "Email"},
                    },
                },
            },
        },
    },
    "WebhookReceipt": {
        "title": "WebhookReceipt",
        "type": "object",
        "additionalProperties": False,
        "required": ["received", "result"],
        "properties": {
            "received": {"type": "boolean"},
            "result": {
                "type": "string",
                "enum": ["applied", "duplicate", "stale", "dead_lettered"],
            },
        },
    },
    "MonoovaWebhookEvent": {
        "title": "MonoovaWebhookEvent",
        "type": "object",
        "description": (
            "An NppPaymentStatus or an NppReturn (told apart by its `Return*` fields). Only "
            "the fields listed are read; the signature covers the raw bytes, so send them "
            "exactly as signed."
        ),
        "required": ["UniqueReference"],
        "properties": {
            "UniqueReference": {"type": "string", "maxLength": 200},
            "Status": {"type": "string", "example": "Payment Successful"},
            "Amount": {"type": "number"},
            "TransactionId": {"type": "integer"},
            "RejectionReasonDescription": {"type": "string"},
            "ReturnReason": {"type": "string"},
            "ReturnDate": {"type": "string"},
            "ReturnTransactionId": {"type": "integer"},
        },
    },
}


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "path" | "query" | "header"
    schema: dict[str, Any]
    description: str
    required: bool = False

    def to_openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "description": self.description,
            "schema": copy.deepcopy(self.schema),
        }


@dataclass(frozen=True)
class RouteExtras:
    """What a Route does not declare: 2xx body schemas (None: no body) and the rest."""

    bodies: Mapping[int, str | None]
    parameters: tuple[Param, ...] = ()
    request_body: str | None = None  # a BODY_SCHEMAS name, when the route has no request_model
    description: str | None = None
    responses: Mapping[int, str] = field(default_factory=dict)  # added to route.responses
    response_headers: Mapping[int, Mapping[str, dict[str, Any]]] = field(default_factory=dict)


# Known headers: their schema and meaning, wherever they appear.
HEADERS: dict[str, tuple[dict[str, Any], str]] = {
    "Idempotency-Key": (
        {"type": "string", "pattern": r"^[\x21-\x7e]{8,128}$"},
        "8 to 128 printable ASCII characters. The same key with the same body replays the "
        "first answer; with a different body it is a 409.",
    ),
}

# Path parameters by name; any other is a plain string.
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "transaction_id": (
        {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}$"},
        "The payout's id (`po_` + 32 hex), as answered by POST /payouts.",
    ),
    "customer_id": ({"type": "string", "pattern": CUSTOMER_ID_PATTERN}, "The customer's id."),
}

_WEBHOOK_DESCRIPTION = (
    "Called by Monoova, not by people. `Authorization` must equal the subscription token "
    "(constant-time compare; the previous token is also accepted during a rotation) and "
    "`Verification-Signature` must be the base64 RSA PKCS#1 v1.5 SHA-256 signature of the raw "
    "body by one of Monoova's published keys; otherwise 401. `Webhookid` (with the reference "
    "and outcome) makes redelivery a no-op. An authenticated event that cannot be applied goes "
    "to the dead-letter queue and is still answered 200 (`dead_lettered`); 500 only when that "
    "send fails, so Monoova's single retry is not wasted."
)

# Per-route extras, keyed by (method, path).
ROUTE_EXTRAS: dict[tuple[str, str], RouteExtras] = {
    ("POST", "/payouts"): RouteExtras(
        bodies={202: "PayoutAccepted"},
        description=(
            "Debits the available balance and records the payout in one transaction, then "
            "submits it to Monoova. 202 also answers a replay with the same Idempotency-Key "
            "and body. Follow the payout with GET /payouts/{transaction_id}."
        ),
        response_headers={
            503: {
                "Retry-After": {
                    "description": "Seconds until the circuit may close; nothing was debited.",
                    "schema": {"type": "integer"},
                }
            }
        },
    ),
    ("GET", "/payouts/{transaction_id}"): RouteExtras(
        bodies={200: "Payout"}, responses={400: "transaction_id is not valid"}
    ),
    ("GET", "/customers/{customer_id}"): RouteExtras(
        bodies={200: "Customer"}, responses={400: "customer_id is not valid"}
    ),
    ("GET", "/customers/{customer_id}/payouts"): RouteExtras(
        bodies={200: "PayoutPage"},
        parameters=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "Page size, 1 to 100.",
            ),
            Param(
                "cursor",
                "query",
                {"type": "string"},
                "Opaque `next_cursor` of the previous page; valid only for this customer.",
            ),
        ),
    ),
    ("POST", "/webhooks/monoova"): RouteExtras(
        bodies={200: "WebhookReceipt"},
        request_body="MonoovaWebhookEvent",
        description=_WEBHOOK_DESCRIPTION,
        responses={500: "The event could not be dead-lettered; Monoova retries once"},
        parameters=(
            Param(
                "Authorization",
                "header",
                {"type": "string"},
                "The webhook subscription token, verbatim (not a Cognito token).",
                required=True,
            ),
            Param(
                "Verification-Signature",
                "header",
                {"type": "string", "format": "byte"},
                "Base64 RSA PKCS#1 v1.5 SHA-256 signature of the raw body.",
                required=True,
            ),
            Param(
                "Webhookid",
                "header",
                {"type": "string"},
                "Monoova's id of this webhook, the same on its retry; used to deduplicate.",
            ),
        ),
    ),
}

# Every Cognito route can be refused by the authorizer before the handler runs.
_AUTHORIZER_REFUSAL = "Missing, invalid or expired Cognito ID token (API Gateway authorizer)"
_UNSUPPORTED_IN_OPENAPI_30 = frozenset(
    {"id", "definitions", "dependencies", "patternProperties", "additionalItems", "const"}
)


def build_document(
    systems: Sequence[tuple[str, Sequence[Route]]] = SYSTEMS, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of every route of `systems` (tag = system name)."""
    schemas: dict[str, dict[str, Any]] = {ERROR_SCHEMA: to_openapi_schema(ERROR_RESPONSE)}
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for system, routes in systems:
        for route in routes:
            method = route.method.lower()
            if method in paths.get(route.path, {}):
                raise ValueError(f"{route.method} {route.path} is declared twice")
            operation = _operation(system, route, schemas)
            if operation["operationId"] in operation_ids:
                raise ValueError(f"operationId {operation['operationId']} is not unique")
            operation_ids.add(operation["operationId"])
            paths.setdefault(route.path, {})[method] = operation
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Payments platform API",
            "version": API_VERSION,
            "description": API_DESCRIPTION,
        },
        "tags": [{"name": system} for system, _ in systems],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "The ID token of a user of the admin Cognito user pool. API Gateway's "
                        "Cognito authorizer reads the raw ID token from the `Authorization` "
                        "header (`Authorization: <id token>`) and answers 401 before any "
                        "handler runs. Locally, `POST /local/token` mints one."
                    ),
                }
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def operation_id(system: str, route: Route) -> str:
    """`payouts_get_customers_customer_id_payouts`: system, method, path without braces."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_")
    return f"{system}_{route.method.lower()}_{slug}".lower()


def path_parameter_names(path: str) -> list[str]:
    return re.findall(r"\{([^{}]+)\}", path)


def to_openapi_schema(model: Mapping[str, Any]) -> dict[str, Any]:
    """A draft-04 JSON Schema as an OpenAPI 3.0 schema: `$schema` dropped, the rest kept.

    Keywords OpenAPI 3.0 does not have are refused rather than silently mistranslated.
    """
    converted = copy.deepcopy(dict(model))
    converted.pop("$schema", None)
    _check_supported(converted, "#")
    return converted


def _check_supported(schema: Any, where: str) -> None:
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            _check_supported(item, f"{where}/{i}")
        return
    if not isinstance(schema, dict):
        return
    unsupported = sorted(_UNSUPPORTED_IN_OPENAPI_30 & schema.keys())
    if unsupported or isinstance(schema.get("type"), list):
        what = ", ".join(unsupported) or "type as a list"
        raise ValueError(f"{where}: {what} has no OpenAPI 3.0 equivalent")
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                _check_supported(sub, f"{where}/properties/{name}")
        elif key not in ("enum", "required", "example", "default"):
            _check_supported(value, f"{where}/{key}")


def _operation(system: str, route: Route, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    extras = ROUTE_EXTRAS.get((route.method.upper(), route.path), RouteExtras(bodies={}))
    operation: dict[str, Any] = {
        "operationId": operation_id(system, route),
        "tags": [system],
        "summary": route.summary,
        "parameters": _parameters(route, extras),
        "responses": _responses(route, extras, schemas),
    }
    if route.auth == "cognito":
        operation["security"] = [{SECURITY_SCHEME: []}]
        if extras.description:
            operation["description"] = extras.description
    else:
        operation["security"] = []
        operation["description"] = " ".join(filter(None, [NO_AUTHORIZER, extras.description]))
    body = _request_body(route, extras, schemas)
    if body is not None:
        operation["requestBody"] = body
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _parameters(route: Route, extras: RouteExtras) -> list[dict[str, Any]]:
    parameters = []
    for name in path_parameter_names(route.path):
        schema, description = PATH_PARAMETERS.get(name, ({"type": "string"}, name))
        parameters.append(Param(name, "path", schema, description, required=True).to_openapi())
    for header in route.required_headers:
        schema, description = HEADERS.get(header, ({"type": "string"}, header))
        parameters.append(Param(header, "header", schema, description, required=True).to_openapi())
    declared = {(p["in"], p["name"].lower()) for p in parameters}
    for extra in extras.parameters:
        if (extra.location, extra.name.lower()) not in declared:
            parameters.append(extra.to_openapi())
    return parameters


def _request_body(
    route: Route, extras: RouteExtras, schemas: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    if route.request_model is not None:
        name = str(route.request_model.get("title") or f"{route.function}Request")
        _add_schema(schemas, name, to_openapi_schema(route.request_model))
    elif extras.request_body is not None:
        name = extras.request_body
        _add_body_schema(schemas, name)
    else:
        return None
    return {"required": True, "content": {JSON: {"schema": _ref(name)}}}


def _responses(
    route: Route, extras: RouteExtras, schemas: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    declared = {**extras.responses, **route.responses}
    if route.auth == "cognito":
        declared.setdefault(401, _AUTHORIZER_REFUSAL)
    responses: dict[str, Any] = {}
    for status in sorted(declared):
        response: dict[str, Any] = {"description": declared[status]}
        if status >= 400:
            response["content"] = {JSON: {"schema": _ref(ERROR_SCHEMA)}}
        elif 200 <= status < 300:
            if status not in extras.bodies:
                raise ValueError(
                    f"{route.method} {route.path} answers {status}: name its body schema "
                    "in ROUTE_EXTRAS of local/openapi.py"
                )
            name = extras.bodies[status]
            if name is not None:
                _add_body_schema(schemas, name)
                response["content"] = {JSON: {"schema": _ref(name)}}
        if status in extras.response_headers:
            response["headers"] = copy.deepcopy(dict(extras.response_headers[status]))
        responses[str(status)] = response
    return responses


def _add_body_schema(schemas: dict[str, dict[str, Any]], name: str) -> None:
    """Adds a BODY_SCHEMAS entry and the entries it refers to."""
    schema = BODY_SCHEMAS[name]
    _add_schema(schemas, name, schema)
    for ref in sorted(_refs(schema)):
        target = ref.removeprefix("#/components/schemas/")
        if target not in schemas:
            _add_body_schema(schemas, target)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _add_schema(schemas: dict[str, dict[str, Any]], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are both called {name}")
    schemas[name] = copy.deepcopy(schema)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.openapi", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh render"
    )
    parser.add_argument("--server-url", default=None, help="add a `servers` entry (not for docs/)")
    args = parser.parse_args(argv)
    fresh = render(build_document(server_url=args.server_url))
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != fresh:
            state = "is missing" if current is None else "is out of date"
            print(
                f"{output} {state} with the route declarations: run `make openapi`",
                file=sys.stderr,
            )
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(fresh, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
