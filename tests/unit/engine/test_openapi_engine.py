"""The engine's OpenAPI documents carry every route's request body from its declared shape."""

from __future__ import annotations

from engine import declarations
from engine.models import rbac
from local import openapi_engine


def test_every_route_with_a_request_model_has_its_body_in_the_document() -> None:
    for title, routes in (
        ("Customer portal API", declarations.PORTAL_ROUTES),
        ("Internal engine API", declarations.INTERNAL_ROUTES),
    ):
        document = openapi_engine.build_document(
            title, routes, server_url="http://127.0.0.1", keyless=frozenset()
        )
        for route in routes:
            if route.request_model is None:
                continue
            operation = document["paths"][route.path][route.method.lower()]
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[-1]
            assert name == route.request_model["title"]
            assert document["components"]["schemas"][name]["properties"]


def test_every_staff_operation_shows_its_permission_scope_and_roles() -> None:
    document = openapi_engine.build_document(
        "Internal engine API",
        declarations.INTERNAL_ROUTES,
        server_url=None,
        keyless=frozenset(),
    )
    staff = [r for r in declarations.INTERNAL_ROUTES if r.auth == "cognito"]
    assert staff
    for route in staff:
        operation = document["paths"][route.path][route.method.lower()]
        shown = operation["x-permission"]
        holders = [r.name for r in rbac.ROLES if route.permission in r.permissions]
        assert shown == {"permission": route.permission, "scope": route.scope, "roles": holders}
        assert holders, f"{route.method} {route.path}: no role may call it"
        # /docs renders the description; the extension alone is invisible there.
        assert f"`{route.permission}`" in operation["description"]
        assert "*" not in operation["description"]  # docs.html renders `code` spans only
    health = document["paths"]["/health"]["get"]
    assert "x-permission" not in health
