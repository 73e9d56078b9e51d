"""The runner's own routes (token, OpenAPI, docs, health); everything else is the API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from local.gateway import gateway_error
from local.openapi import build_document, render

if TYPE_CHECKING:
    from local.runner import Runner

_DOCS = Path(__file__).with_name("docs.html")
_JSON = {"Content-Type": "application/json"}


def serve_safely(
    runner: Runner, method: str, path: str, *, query: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Every request gets an answer in the error shape, even when the runner itself fails."""
    try:
        return serve(runner, method, path, query=query, headers=headers, body=body)
    except Exception as exc:
        print(f"runner error on {method} {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        response = gateway_error(500, "InternalError", "the local runner failed: see its log")
        return response.status, response.headers, response.body


def serve(
    runner: Runner, method: str, path: str, *, query: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    local = _local_route(runner, method, path, query)
    if local is not None:
        return local
    response = runner.gateway.handle(method, path, query, headers, body)
    return response.status, response.headers, response.body


def _local_route(
    runner: Runner, method: str, path: str, query: str
) -> tuple[int, dict[str, str], bytes] | None:
    if (method, path) == ("POST", "/local/token"):
        # Local only: a signed ID token for the demo admin, as Cognito would issue.
        raw_ttl = parse_qs(query).get("ttl", ["3600"])[0]
        if not raw_ttl.lstrip("-").isdigit():
            response = gateway_error(
                400, "ValidationError", "ttl must be a whole number of seconds"
            )
            return response.status, response.headers, response.body
        ttl = int(raw_ttl)
        return 200, _JSON, json.dumps({"token": runner.issuer.mint(ttl_seconds=ttl)}).encode()
    if (method, path) == ("GET", "/local/health"):
        return 200, _JSON, b'{"status": "ok"}'
    if (method, path) == ("GET", "/openapi.json"):
        base = f"http://{runner.args.host}:{runner.server.server_address[1]}"
        return 200, _JSON, render(build_document(server_url=base)).encode()
    if (method, path) == ("GET", "/docs"):
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _DOCS.read_bytes()
    return None
