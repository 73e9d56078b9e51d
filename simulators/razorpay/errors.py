"""RazorPay's error answers: ``{"error": {"code", "description", "source", "step", "reason",
"metadata"}}``, with ``field`` where one input field is at fault (as RazorPay adds it).

RazorPay answers an id that does not exist with HTTP 400 ("The id provided does not exist"),
not 404, and an unknown URL with 400 too; callers must not rely on a 404.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AUTHENTICATION_FAILED",
    "RazorpayError",
    "bad_request",
    "no_such_id",
    "server_error",
    "unknown_url",
]


class RazorpayError(Exception):
    def __init__(
        self,
        status: int,
        description: str,
        *,
        code: str = "BAD_REQUEST_ERROR",
        field: str | None = None,
        source: str = "business",
        step: str = "payment_initiation",
        reason: str = "input_validation_failed",
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.field = field
        self.source, self.step, self.reason = source, step, reason

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "description": self.description,
            "source": self.source,
            "step": self.step,
            "reason": self.reason,
            "metadata": {},
        }
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def bad_request(description: str, field: str | None = None) -> RazorpayError:
    return RazorpayError(400, description, field=field)


def no_such_id() -> RazorpayError:
    return RazorpayError(400, "The id provided does not exist")


def unknown_url() -> RazorpayError:
    return RazorpayError(
        400, "The requested URL was not found on the server.", source="NA", step="NA", reason="NA"
    )


def server_error() -> RazorpayError:
    return RazorpayError(
        500,
        "The server encountered an error. The incident has been reported to admins.",
        code="SERVER_ERROR",
        source="NA",
        step="NA",
        reason="NA",
    )


AUTHENTICATION_FAILED = RazorpayError(
    401, "Authentication failed", source="NA", step="NA", reason="NA"
)
