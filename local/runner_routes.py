"""The runner's own routes; everything else goes to the port's API gateway.

On every port: `GET /` (what is served there), `GET /openapi.json` and `GET /docs` (that
API's document). On the main port only: `POST /local/token`, `GET /local/health`,
`GET /_local/endpoints`, `GET /_local/jobs` and `POST /_local/jobs/{name}` (every system's
declared schedules, run now) and the systems' `/_local/...` utilities. Every runner-level
answer is in the port's API error shape and ends with a newline.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from local.gateway import HttpResponse, json_answer
from local.systems import RouteError

if TYPE_CHECKING:
    from local.runner import Runner
    from local.systems import Api

_DOCS = Path(__file__).with_name("docs.html")
Answer = tuple[int, dict[str, str], bytes]
JOBS = "/_local/jobs"
_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")


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
            {"POST /local/token", "GET /_local/endpoints", f"GET {JOBS}", f"POST {JOBS}/{{name}}"}
            | {f"{method} {path}" for method, path in runner.local_routes}
        )
    else:
        root["main"] = runner.urls[runner.main.name]
    return root


def _main_port_route(
    runner: Runner, api: Api, method: str, path: str, *, query: str, body: bytes
) -> HttpResponse | None:
    if (method, path) == ("POST", "/local/token"):
        return _token(runner, api, parse_qs(query, keep_blank_values=True))
    if (method, path) == ("GET", "/local/health"):
        return json_answer(200, {"status": "ok"})
    if (method, path) == ("GET", "/_local/endpoints"):
        return json_answer(200, runner.endpoints())
    if path == JOBS or path.startswith(JOBS + "/"):
        return _jobs_route(runner, api, method, path)
    return _system_route(runner, api, method, path, query=query, body=body)


def _system_route(
    runner: Runner, api: Api, method: str, path: str, *, query: str, body: bytes
) -> HttpResponse | None:
    """A system's own `/_local/...` utility; a refusal in the port's error shape."""
    route = runner.local_routes.get((method, path))
    if route is None:
        return None
    try:
        status, answer = route(query, body)
    except RouteError as refused:
        return api.errors(refused.status, refused.error, refused.message)
    return json_answer(status, answer)


def _token(runner: Runner, api: Api, query: dict[str, list[str]]) -> HttpResponse:
    """Local only: a signed ID token, as Cognito would issue: the demo admin's, or with
    `?user=NAME` a staff member's (`sub` and username NAME, e-mail NAME@example.com)."""
    raw_ttl = query.get("ttl", ["3600"])[0] or "3600"
    if not raw_ttl.lstrip("-").isdigit():
        return api.errors(400, "ValidationError", "ttl must be a whole number of seconds")
    user = query.get("user", [None])[0]
    if user is None:
        return json_answer(200, {"token": runner.issuer.mint(ttl_seconds=int(raw_ttl))})
    if not _USER.fullmatch(user):
        return api.errors(400, "ValidationError", "user is 1 to 64 letters, digits, . _ or -")
    claims: dict[str, Any] = {"sub": user, "cognito:username": user, "email": f"{user}@example.com"}
    for system in runner.systems:
        # A system that knows its staff (the engine's seeded users) signs them in as Cognito
        # would: their groups (roles) in the token, the sign-in trigger run.
        sign_in = getattr(system, "staff_sign_in", None)
        try:
            known = sign_in(user) if sign_in is not None else None
        except RouteError as refused:
            return api.errors(refused.status, refused.error, refused.message)
        if known:
            claims |= known
    return json_answer(200, {"token": runner.issuer.mint(ttl_seconds=int(raw_ttl), **claims)})


def _jobs_route(runner: Runner, api: Api, method: str, path: str) -> HttpResponse | None:
    """GET /_local/jobs, POST /_local/jobs/{name}; None (the gateway's 403) for the rest."""
    if (method, path) == ("GET", JOBS):
        return json_answer(200, {"jobs": [job.describe() for job in runner.jobs.values()]})
    if method == "POST" and path.startswith(JOBS + "/"):
        return _run_job(runner, api, unquote(path[len(JOBS) + 1 :]))
    return None


def _run_job(runner: Runner, api: Api, name: str) -> HttpResponse:
    """A declared schedule's function, now and synchronously: its return value, or the
    error it raised (a Lambda function error), in the port's error shape."""
    if name not in runner.jobs:
        valid = ", ".join(runner.jobs)
        return api.errors(404, "NotFound", f"no job {name!r}; the jobs are: {valid}")
    try:
        answer = runner.run_job(name)
    except Exception as exc:  # the function failed, as an invocation's FunctionError
        job = runner.jobs[name]
        traceback.print_exc(file=sys.stderr)
        message = f"{job.function} failed: {type(exc).__name__}: {exc}"
        return api.errors(500, "InternalError", message[:500])
    return json_answer(200, json.loads(json.dumps(answer, default=_jsonable)))


def _jsonable(value: Any) -> Any:
    """What a handler may return that JSON has no type for."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent == 0 else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)
