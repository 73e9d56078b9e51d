"""The webhook dead-letter message: the raw payload and why it was not applied."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from shared import clock

SOURCE = "monoova-webhook"


@dataclass(frozen=True)
class DeadLetter:
    raw_body: bytes
    webhook_id: str | None
    error: str
    request_id: str | None = None

    def to_message(self) -> str:
        return json.dumps(
            {
                "source": SOURCE,
                "raw_body_b64": base64.b64encode(self.raw_body).decode("ascii"),
                "webhook_id": self.webhook_id,
                "error": self.error[:1000],
                "request_id": self.request_id,
                "received_at": clock.iso(clock.now()),
            }
        )

    @classmethod
    def from_message(cls, text: str) -> DeadLetter:
        data: dict[str, Any] = json.loads(text)
        if data.get("source") != SOURCE:
            raise ValueError("not a Monoova webhook dead letter")
        return cls(
            raw_body=base64.b64decode(data["raw_body_b64"]),
            webhook_id=data.get("webhook_id"),
            error=str(data.get("error", "")),
            request_id=data.get("request_id"),
        )
