"""The engine's OpenAPI documents carry every route's request body from its declared shape."""

from __future__ import annotations

from engine import declarations
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
