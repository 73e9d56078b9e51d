"""The OpenAPI 3.0.3 documents of the engine's two APIs, from their route declarations.

Request bodies are the routes' request shapes (engine.models.shapes, the portal's and the
internal LMS routes': the same declaration the gateway model and the handler's parser come
from), answered bodies the response schemas of engine.models.portal where one is declared for
the route, and every error the engine's error shape. The portal's key (`x-api-key`) and
session (`X-Session-Token`) appear as what they are.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Sequence
from typing import Any

from engine.models import portal, rbac
from engine.models.errors import ERROR_RESPONSE
from shared.declarations import Route

ERROR = "EngineError"
JSON = "application/json"
# The answer body of a route, by (method, path, status) -> a portal.RESPONSES name. A name the
# models do not declare (yet) is documented as an object.
BODIES = {
    ("POST", "/api/v1/customer/validate-loan", 200): "Challenge",
    ("POST", "/api/v1/customer/sessions", 201): "Session",
    ("GET", "/api/v1/customer/loans/{loan_account_number}", 200): "Loan",
    ("GET", "/api/v1/customer/loans/{loan_account_number}/payments", 200): "PaymentPage",
    ("POST", "/api/v1/customer/payments", 201): "PaymentCreated",
    ("POST", "/api/v1/customer/payment-notification", 200): "PaymentStatus",
    ("GET", "/api/v1/customer/payments/{payment_id}", 200): "Payment",
    ("GET", "/api/v1/customer/payments/{payment_id}/receipt", 200): "Receipt",
}
HEADERS = {
    "X-Session-Token": "The session_token POST /api/v1/customer/sessions answered (15 minutes).",
    "Idempotency-Key": "8 to 128 of A-Z a-z 0-9 _ -: the same key and body answer the first "
    "answer again; the same key with another body is a 409.",
}


def build_document(
    title: str, routes: Sequence[Route], *, server_url: str | None, keyless: frozenset[str]
) -> dict[str, Any]:
    schemas: dict[str, Any] = {ERROR: _openapi(ERROR_RESPONSE)}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = _operation(route, schemas, keyed=f"{route.method} {route.path}" not in keyless)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "0.1.0", "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "StaffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff user pool ID token; locally POST /local/token.",
                },
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


_DESCRIPTION = (
    "Generated from the engine's route and shape declarations. Every error has the shape "
    "`EngineError` (`{error: {code, message, details, timestamp, traceId}}`); amounts in "
    'answers are decimal strings ("2500.00"), and requests take a JSON number or a decimal '
    "string with at most 2 decimals."
)


def _operation(route: Route, schemas: dict[str, Any], *, keyed: bool) -> dict[str, Any]:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_").lower()
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{slug}",
        "summary": route.summary,
        "responses": _responses(route, schemas),
    }
    if route.auth == "cognito":
        operation["security"] = [{"StaffToken": []}]
    if route.permission is not None:
        operation["x-permission"] = permission_of(route)
        operation["description"] = _permission_text(operation["x-permission"])
    else:
        operation["security"] = [{"ApiKey": []}] if keyed else []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([^{}]+)\}", route.path)
    ]
    parameters += [
        {
            "name": header,
            "in": "header",
            "required": True,
            "description": HEADERS.get(header, header),
            "schema": {"type": "string"},
        }
        for header in route.required_headers
    ]
    if parameters:
        operation["parameters"] = parameters
    shape = _shape(route)
    if shape is not None:
        schemas[shape.title] = shape.openapi_schema()
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{shape.title}"}}},
        }
    return operation


def permission_of(route: Route) -> dict[str, Any]:
    """The route's declared permission and scope, and the roles that hold the permission
    (engine.models.rbac): what the handler enforces, as the document shows it."""
    holders = [r.name for r in rbac.ROLES if route.permission in r.permissions]
    return {"permission": route.permission, "scope": route.scope, "roles": holders}


def _permission_text(permission: dict[str, Any]) -> str:
    scope = str(permission["scope"]).replace("_", " ")
    roles = ", ".join(permission["roles"]) or "none"
    # /docs renders plain text with `code` spans only (local/docs.html).
    return f"Permission `{permission['permission']}` ({scope}); roles: {roles}."


# Every module whose REQUESTS declare request shapes (the gateway model's title names one).
SHAPE_MODULES = ("portal", "lms_admin", "collections", "dcr", "users")


def _shape(route: Route) -> Any:
    title = (route.request_model or {}).get("title")
    if not title:
        return None
    shapes = [s for name in SHAPE_MODULES for s in _requests(name)]
    return next((s for s in shapes if s.title == title), None)


def _requests(module: str) -> tuple[Any, ...]:
    return tuple(getattr(importlib.import_module(f"engine.models.{module}"), "REQUESTS", ()))


def _responses(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, description in sorted(route.responses.items()):
        answer: dict[str, Any] = {"description": description}
        if status >= 400:
            answer["content"] = {JSON: {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}
        else:
            name = BODIES.get((route.method, route.path, status))
            declared = portal.RESPONSES.get(name) if name else None
            if declared is not None and name is not None:
                schemas[name] = _openapi(declared)
                answer["content"] = {JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}
            else:
                answer["content"] = {JSON: {"schema": {"type": "object"}}}
        responses[str(status)] = answer
    return responses


def _openapi(schema: dict[str, Any]) -> dict[str, Any]:
    converted = copy.deepcopy(schema)
    converted.pop("$schema", None)
    return converted
