"""What API Gateway does in front of the functions, done locally from the same declarations.

Route matching, the Cognito authorizer, the usage plan's API key, request validation (required
headers and the body model) and the error bodies of the gateway responses the stacks configure
(each API its own shape: `ErrorStyle`); then a REST proxy (v1) event for the function, whose
answer goes back as the HTTP response.
"""

from __future__ import annotations

import base64
import importlib
import json
import queue
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import jsonschema

from local import environ, events
from local.auth import LocalIssuer, TokenRejected
from shared import clock, jsonutil
from shared.declarations import FunctionSpec, Route

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    handler: str


# (status, error name as payouts' gateway responses call it, message) -> the answer.
ErrorStyle = Callable[[int, str, str], HttpResponse]
_JSON = {"Content-Type": "application/json"}


def json_answer(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """A JSON answer as the runner gives it: ending in a newline, so a shell prompt does not
    run into it."""
    raw = (json.dumps(body) + "\n").encode()
    return HttpResponse(status, {**_JSON, **(headers or {})}, raw)


def gateway_error(status: int, error: str, message: str) -> HttpResponse:
    """The body payouts' gateway responses render: {error, message, timestamp}."""
    return json_answer(status, {"error": error, "message": message, "timestamp": _now()})


_ENGINE_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


def engine_gateway_error(status: int, _error: str, message: str) -> HttpResponse:
    """The engine's shape; traceId is what API Gateway's $context.requestId would be."""
    body = {
        "error": {
            "code": _ENGINE_CODES.get(status, "INTERNAL_ERROR"),
            "message": message,
            "details": [],
            "timestamp": _now(),
            "traceId": str(uuid.uuid4()),
        }
    }
    return json_answer(status, body)


def _now() -> str:
    return clock.iso(clock.now())


_Work = tuple[Callable[[], Any], "Future[Any]"]


class _Container:
    """One warm container of a function: a thread of its own that runs one invocation at a
    time, in order. What a handler keeps per thread (engine.dal.pg.db's connection) is then
    kept per container, as in Lambda, instead of per HTTP request thread, which would leave
    a PostgreSQL connection open for every request served."""

    def __init__(self, name: str) -> None:
        self.in_use = 0  # invocations given to it and not yet answered (Functions' lock)
        self._work: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=f"lambda {name}", daemon=True).start()

    def run(self, work: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._work.put((work, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            work, future = self._work.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the caller, as Lambda reports it
                future.set_exception(exc)


class Functions:
    """Imports handlers by name and runs each invocation in a container of its function (its
    own thread, one invocation at a time, as a Lambda container: Powertools' logger and
    metrics are per-container state), each with its own environment variables
    (`environment(name)`), as each Lambda has. Invocations queue for the function's one warm
    container; `scale_out` ones take an idle container or start another."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        environment: Callable[[str], Mapping[str, str]] = lambda _name: {},
    ) -> None:
        self._specs = {spec.name: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("two systems declare a function of the same name")
        self._containers: dict[str, list[_Container]] = {spec.name: [] for spec in specs}
        self._lock = threading.Lock()
        self._environment = environment

    def spec(self, name: str) -> FunctionSpec:
        return self._specs[name]

    def invoke(self, name: str, event: dict[str, Any], *, scale_out: bool = False) -> Any:
        """One invocation, answered when it ends (its exception raised here)."""
        container = self._take(name, scale_out)
        try:
            return container.run(lambda: self._run(name, event))
        finally:
            with self._lock:
                container.in_use -= 1

    def _take(self, name: str, scale_out: bool) -> _Container:
        with self._lock:
            containers = self._containers[name]
            idle = next((c for c in containers if c.in_use == 0), None)
            if not containers or (scale_out and idle is None):
                idle = _Container(f"{name} #{len(containers) + 1}")
                containers.append(idle)
            chosen = idle if scale_out and idle is not None else containers[0]
            chosen.in_use += 1
            return chosen

    def _run(self, name: str, event: dict[str, Any]) -> Any:
        spec = self._specs[name]
        module_name, _, attribute = spec.handler.rpartition(".")
        context = events.LambdaContext(
            function_name=name,
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
        )
        with environ.scoped(self._environment(name)):
            handler: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
            return handler(event, context)


class LocalGateway:
    def __init__(
        self,
        routes: list[Route],
        functions: Functions,
        issuer: LocalIssuer,
        *,
        errors: ErrorStyle = gateway_error,
        api_key: str | None = None,
        keyless: frozenset[str] = frozenset(),
    ) -> None:
        self._routes = [_compile(route, functions) for route in routes]
        self._functions = functions
        self._issuer = issuer
        self.errors = errors
        self._api_key = api_key
        self._keyless = keyless

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> HttpResponse:
        match = self._match(method, path)
        if match is None:
            # What API Gateway answers for a method or path it does not have.
            return self.errors(403, "ClientError", "Missing Authentication Token")
        compiled, params = match
        route = compiled.route
        claims: dict[str, str] | None = None
        if route.auth == "cognito":
            try:
                claims = self._issuer.verify(_header(headers, "Authorization"))
            except TokenRejected as exc:
                return self.errors(401, "Unauthorized", exc.message)
        if self._needs_key(route) and _header(headers, "x-api-key") != self._api_key:
            return self.errors(403, "Forbidden", "Forbidden")  # API Gateway's words
        problem = _validate(route, headers, body)
        if problem:
            return self.errors(400, "ValidationError", problem)
        event = events.rest_event(
            method,
            path,
            resource=route.path,
            path_parameters=params,
            query=query,
            headers=headers,
            body=body if body else None,
            claims=claims,
            # API Gateway base64-encodes what it cannot pass as text.
            binary=bool(body) and not (_is_text(headers) and _is_utf8(body)),
        )
        try:
            result = self._functions.invoke(route.function, event)
        except Exception as exc:
            print(f"{route.function} raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return self.errors(502, "InternalError", "Internal server error")
        return _to_http(result)

    def _needs_key(self, route: Route) -> bool:
        return self._api_key is not None and f"{route.method} {route.path}" not in self._keyless

    def _match(self, method: str, path: str) -> tuple[_CompiledRoute, dict[str, str]] | None:
        for compiled in self._routes:
            found = compiled.pattern.fullmatch(path)
            if found and compiled.route.method == method.upper():
                # API Gateway hands the integration decoded path parameters.
                return compiled, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def _compile(route: Route, functions: Functions) -> _CompiledRoute:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.path)
    return _CompiledRoute(route, re.compile(pattern), functions.spec(route.function).handler)


def _validate(route: Route, headers: dict[str, str], body: bytes) -> str | None:
    missing = [h for h in route.required_headers if not _header(headers, h)]
    if missing:
        return f"Missing required request parameters: [{', '.join(missing)}]"
    if route.request_model is None:
        return None
    try:
        # The handlers' own reader: numbers as Decimal, NaN/Infinity refused, and a document
        # nested 100,000 deep or an integer over 4,300 digits is invalid, not a crash.
        document = jsonutil.loads(body or b"null")
    except jsonutil.InvalidJson:
        return "Invalid request body"
    validator = jsonschema.Draft4Validator(_decimal_schema(route.request_model))
    try:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    except RecursionError:
        return "Invalid request body"
    if errors:
        return "[" + ", ".join(_api_gateway_message(e) for e in errors) + "]"
    return None


def _decimal_schema(model: dict[str, Any]) -> dict[str, Any]:
    """The model with its numbers as Decimal, like the body: 0.01 must not fail `minimum: 0.01`
    because one side went through binary floating point."""
    schema = {k: v for k, v in model.items() if k != "$schema"}
    loaded: dict[str, Any] = json.loads(json.dumps(schema), parse_float=Decimal)
    return loaded


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _api_gateway_message(error: jsonschema.ValidationError) -> str:
    where = "/" + "/".join(str(p) for p in error.path)
    return f"instance {where}: {error.message}"


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _is_text(headers: dict[str, str]) -> bool:
    content_type = (_header(headers, "Content-Type") or "application/json").lower()
    return content_type.startswith(_TEXT_TYPES)


def _to_http(result: dict[str, Any]) -> HttpResponse:
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(key, str(values[-1]))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(int(result.get("statusCode", 200)), headers, raw)
