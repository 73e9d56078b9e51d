"""What every engine handler shares: the logger, the log-context decorator, and `api_handler`,
which answers API Gateway events through a router in the engine's error shape and publishes
each answer's `api_response_time`.

The router's modules are imported by `router()`, which an API handler calls as it is
imported (so they are in its cold import); the stream, queue and scheduled functions, which
answer no API, never load them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from engine import metrics, telemetry
from shared import log_context

if TYPE_CHECKING:
    from shared.api import Router

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "engine"))
inject_context = log_context.injector(logger)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def router() -> Router:
    from engine.models.errors import ENGINE_ERRORS  # noqa: PLC0415 - see the docstring
    from shared.api import Router  # noqa: PLC0415

    return Router(logger, ENGINE_ERRORS)


def api_handler(routes: Router) -> LambdaHandler:
    """The Lambda entry point for `routes`, timed per route and answer status."""

    @inject_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        answer = routes.resolve(event, context)
        elapsed_ms = (time.perf_counter() - started) * 1000
        telemetry.publish(
            metrics.API_RESPONSE_TIME,
            round(elapsed_ms, 3),
            endpoint=str(event.get("resource", "")),
            method=str(event.get("httpMethod", "")).upper(),
            status_code=str(answer.get("statusCode", "")),
        )
        return answer

    return handler
