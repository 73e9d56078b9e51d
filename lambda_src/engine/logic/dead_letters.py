"""A RazorPay webhook dead letter: exactly what RazorPay sent (raw body and the headers that
authenticate and identify it) and why it was not applied, so a re-drive verifies and applies
the same bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.dead_letters import open_letter, seal

SOURCE = "razorpay-webhook"
KEPT_HEADERS = ("x-razorpay-signature", "x-razorpay-event-id", "content-type", "user-agent")


@dataclass(frozen=True)
class DeadLetter:
    raw_body: bytes
    headers: dict[str, str]
    error: str
    request_id: str | None = None

    @property
    def signature(self) -> str | None:
        return self.headers.get("x-razorpay-signature")

    @property
    def event_id(self) -> str | None:
        return self.headers.get("x-razorpay-event-id")

    def to_message(self) -> str:
        return seal(SOURCE, self.raw_body, self.error, self.request_id, headers=self.headers)

    @classmethod
    def from_message(cls, text: str) -> DeadLetter:
        raw_body, data = open_letter(text, SOURCE)
        headers = data.get("headers") or {}
        return cls(
            raw_body=raw_body,
            headers={str(k).lower(): str(v) for k, v in headers.items()},
            error=str(data.get("error", "")),
            request_id=data.get("request_id"),
        )


def kept_headers(lookup: Any) -> dict[str, str]:
    """The headers worth keeping, by a case-insensitive `lookup(name)`."""
    found = {name: lookup(name) for name in KEPT_HEADERS}
    return {name: str(value) for name, value in found.items() if value is not None}
