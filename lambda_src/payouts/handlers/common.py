"""What every payouts handler shares: Powertools logger/metrics and the API error mapping."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from shared import jsonutil
from shared.http import JSON_HEADERS, ApiError, error_body

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "payouts"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Payouts"))
metrics.set_default_dimensions(environment=os.environ.get("ENVIRONMENT", "local"))


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        body=jsonutil.dumps(body),
        headers={**JSON_HEADERS, **(headers or {})},
    )


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, error_body(error, message), headers)


def api_resolver() -> APIGatewayRestResolver:
    """A resolver whose every failure answers in the documented error shape."""
    app = APIGatewayRestResolver()

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.error, exc.message, exc.headers)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "NotFound", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Type only: messages of botocore or crypto errors can carry identifiers.
        logger.error("unhandled error", extra={"error_type": type(exc).__name__})
        return error_response(500, "InternalError", "the request could not be processed")

    return app
