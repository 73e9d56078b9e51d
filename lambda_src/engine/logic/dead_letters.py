"""A RazorPay webhook dead letter: exactly what RazorPay sent (raw body and the headers that
authenticate and identify it) and why it was not applied, so a re-drive verifies and applies
the same bytes."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from shared import clock

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
        return json.dumps(
            {
                "source": SOURCE,
                "raw_body_b64": base64.b64encode(self.raw_body).decode("ascii"),
                "headers": self.headers,
                "error": self.error[:1000],
                "request_id": self.request_id,
                "received_at": clock.iso(clock.now()),
            }
        )

    @classmethod
    def from_message(cls, text: str) -> DeadLetter:
        data: dict[str, Any] = json.loads(text)
        if data.get("source") != SOURCE:
            raise ValueError("not a RazorPay webhook dead letter")
        headers = data.get("headers") or {}
        return cls(
            raw_body=base64.b64decode(data["raw_body_b64"], validate=True),
            headers={str(k).lower(): str(v) for k, v in headers.items()},
            error=str(data.get("error", "")),
            request_id=data.get("request_id"),
        )


def kept_headers(lookup: Any) -> dict[str, str]:
    """The headers worth keeping, by a case-insensitive `lookup(name)`."""
    found = {name: lookup(name) for name in KEPT_HEADERS}
    return {name: str(value) for name, value in found.items() if value is not None}
