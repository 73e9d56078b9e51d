"""The webhook dead-letter message: the raw payload and why it was not applied."""

from __future__ import annotations

from dataclasses import dataclass

from shared.dead_letters import open_letter, seal

SOURCE = "monoova-webhook"


@dataclass(frozen=True)
class DeadLetter:
    raw_body: bytes
    webhook_id: str | None
    error: str
    request_id: str | None = None

    def to_message(self) -> str:
        return seal(SOURCE, self.raw_body, self.error, self.request_id, webhook_id=self.webhook_id)

    @classmethod
    def from_message(cls, text: str) -> DeadLetter:
        raw_body, data = open_letter(text, SOURCE)
        return cls(
            raw_body=raw_body,
            webhook_id=data.get("webhook_id"),
            error=str(data.get("error", "")),
            request_id=data.get("request_id"),
        )
