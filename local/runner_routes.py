"""The runner's own routes; everything else goes to the port's API gateway.

On every port: `GET /` (what is served there), `GET /openapi.json` and `GET /docs` (that
API's document). On the main port only: `POST /local/token`, `GET /local/health`,
`GET /_local/endpoints` and the systems' `/_local/...` utilities. Every runner-level answer
is in the port's API error shape and ends with a newline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from local.gateway import HttpResponse, json_answer

if TYPE_CHECKING:
    from local.runner import Runner
    from local.systems import Api

_DOCS = Path(__file__).with_name("docs.html")
Answer = tuple[int, dict[str, str], bytes]


def serve_safely(
    runner: Runner,
    api: Api,
    method: str,
    path: str,
    *,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> Answer:
    """Every request gets an answer in the error shape, even when the runner itself fails."""
    try:
        response = serve(runner, api, method, path, query=query, headers=headers, body=body)
    except Exception as exc:
        print(f"runner error on {method} {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        response = api.errors(500, "InternalError", "the local runner failed: see its log")
    return response.status, response.headers, response.body


def serve(
    runner: Runner,
    api: Api,
    method: str,
    path: str,
    *,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> HttpResponse:
    base = runner.urls[api.name]
    if method in ("GET", "HEAD"):
        if path == "/":
            return json_answer(200, _root(runner, api))
        if path == "/openapi.json":
            raw = (json.dumps(api.document(base), indent=2, sort_keys=True) + "\n").encode()
            return HttpResponse(200, {"Content-Type": "application/json"}, raw)
        if path == "/docs":
            return HttpResponse(
                200, {"Content-Type": "text/html; charset=utf-8"}, _DOCS.read_bytes()
            )
    if api is runner.main:
        local = _main_port_route(runner, api, method, path, query=query, body=body)
        if local is not None:
            return local
    return runner.gateways[api.name].handle(method, path, query, headers, body)


def _root(runner: Runner, api: Api) -> dict[str, Any]:
    base = runner.urls[api.name]
    root: dict[str, Any] = {
        "api": api.name,
        "title": api.title,
        "docs": f"{base}/docs",
        "openapi": f"{base}/openapi.json",
        "routes": [f"{r.method} {r.path}" for r in api.routes],
    }
    if api.api_key:
        root["api_key"] = "send x-api-key (the local key is in GET /_local/demo on the main port)"
    if api is runner.main:
        root["endpoints"] = runner.endpoints()
        root["runner"] = sorted(
            {"POST /local/token", "GET /_local/endpoints"}
            | {f"{method} {path}" for method, path in runner.local_routes}
        )
    else:
        root["main"] = runner.urls[runner.main.name]
    return root


def _main_port_route(
    runner: Runner, api: Api, method: str, path: str, *, query: str, body: bytes
) -> HttpResponse | None:
    if (method, path) == ("POST", "/local/token"):
        # Local only: a signed ID token for the demo admin, as Cognito would issue.
        raw_ttl = parse_qs(query).get("ttl", ["3600"])[0]
        if not raw_ttl.lstrip("-").isdigit():
            return api.errors(400, "ValidationError", "ttl must be a whole number of seconds")
        return json_answer(200, {"token": runner.issuer.mint(ttl_seconds=int(raw_ttl))})
    if (method, path) == ("GET", "/local/health"):
        return json_answer(200, {"status": "ok"})
    if (method, path) == ("GET", "/_local/endpoints"):
        return json_answer(200, runner.endpoints())
    route = runner.local_routes.get((method, path))
    if route is not None:
        status, answer = route(query, body)
        return json_answer(status, answer)
    return None
