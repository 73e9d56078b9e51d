"""The SMS the functions send through SNS, kept for GET /_local/sms (newest first).

moto records each SMS a Publish sends to a phone number, but without the time it was sent;
wrapping its backend's publish adds the time as the message is taken. Only the newest
`LIMIT` are kept, so a long-running runner does not grow.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from moto.sns.models import SNSBackend

LIMIT = 1000
_sent: deque[dict[str, str]] = deque(maxlen=LIMIT)
_lock = threading.Lock()
_original = SNSBackend.publish


def _publish(self: SNSBackend, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
    message_id = _original(self, message, arn, *args, **kwargs)
    phone = kwargs.get("phone_number") or (args[0] if args else None)
    if phone:
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with _lock:
            _sent.appendleft({"to": phone, "text": message, "sent_at": sent_at, "id": message_id})
    return str(message_id)


def install() -> None:
    SNSBackend.publish = _publish  # type: ignore[method-assign]


def messages(to: str | None = None) -> list[dict[str, str]]:
    """Newest first; `to` keeps those to that number (with or without its +91)."""
    with _lock:
        sent = list(_sent)
    if to:
        wanted = to.strip()[-10:]
        sent = [m for m in sent if m["to"][-10:] == wanted]
    return sent
