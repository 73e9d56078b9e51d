"""The envelope of a webhook dead letter, shared by every system's webhooks.

A dead letter keeps the raw body exactly as received (base64, so no byte changes on the way
through SQS and a re-drive verifies the same signature), why it was not applied, and which
invocation refused it. `source` names the webhook, so one system's replayer never applies
another's letter.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from shared import clock

ERROR_LIMIT = 1000  # characters of the reason kept: enough to act on, well inside SQS's 256 KiB


def seal(source: str, raw_body: bytes, error: str, request_id: str | None, **extra: Any) -> str:
    return json.dumps(
        {
            "source": source,
            "raw_body_b64": base64.b64encode(raw_body).decode("ascii"),
            **extra,
            "error": error[:ERROR_LIMIT],
            "request_id": request_id,
            "received_at": clock.iso(clock.now()),
        }
    )


def open_letter(text: str, source: str) -> tuple[bytes, dict[str, Any]]:
    """The raw body and the rest of the envelope; ValueError if it is not `source`'s letter."""
    data: dict[str, Any] = json.loads(text)
    if data.get("source") != source:
        raise ValueError(f"not a {source} dead letter")
    return base64.b64decode(data["raw_body_b64"], validate=True), data
