"""What the LMS's and the HRMS's contracts (docs/lms-api.yml, docs/hrms-api.yml) share in an
answer other than a success: the error envelope `{"error": {"code", "message"}}` and the
`Retry-After` seconds. What a status means stays with each client.
"""

from __future__ import annotations

from engine.clients.transport import Answer

__all__ = ["error_of", "retry_after_of"]


def error_of(answer: Answer) -> tuple[str, str]:
    """The contract's `{"error": {"code", "message"}}`, or `HTTP<status>` and ""."""
    error = answer.body.get("error")
    error = error if isinstance(error, dict) else {}
    return str(error.get("code") or f"HTTP{answer.status}"), str(error.get("message") or "")


def retry_after_of(answer: Answer) -> int | None:
    text = (answer.header("Retry-After") or "").strip()
    return int(text) if text.isdigit() else None
