"""RazorPay webhook events: the envelope, its exact body, its signature and delivery headers.

* Envelope: ``{"entity": "event", "account_id", "event", "contains", "payload", "created_at"}``
  with ``contains`` naming the payload's entities in order (providers.md 2.3).
* ``X-Razorpay-Signature``: lowercase hex HMAC-SHA256 of the raw body, keyed with the webhook
  secret in force when the event was created. The body and signature are fixed then: every
  retry and replay sends the same bytes, so after a secret rotation an older event still
  carries the old secret's signature, as RazorPay's do (providers.md 2.1).
* ``x-razorpay-event-id``: ``evt_...``, unique per event and the same on its every delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulators.common.jsonutil import dumps
from simulators.common.signing import hmac_sha256_hex
from simulators.common.webhooks import Outgoing
from simulators.razorpay.entities import new_id, now
from simulators.razorpay.ledger import Emitted

__all__ = ["Event", "sign_event"]

USER_AGENT = "Razorpay-Webhook/v1"


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    body: bytes
    signature: str
    created_at: int
    payment_id: str | None
    order_id: str | None
    refund_id: str | None

    def ids(self) -> dict[str, Any]:
        return {
            "event_id": self.id,
            "event": self.name,
            "payment_id": self.payment_id,
            "order_id": self.order_id,
            "refund_id": self.refund_id,
        }

    def view(self) -> dict[str, Any]:
        return {
            **self.ids(),
            "created_at": self.created_at,
            "body": self.body.decode("utf-8"),
            "signature": self.signature,
        }

    def outgoing(self, url: str) -> Outgoing:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Razorpay-Signature": self.signature,
            "x-razorpay-event-id": self.id,
        }
        return Outgoing(url, self.body, headers, {**self.ids(), "signature": self.signature})


def sign_event(emitted: Emitted, account_id: str, secret: str) -> Event:
    created_at = now()
    envelope = {
        "entity": "event",
        "account_id": account_id,
        "event": emitted.name,
        "contains": list(emitted.payload),
        "payload": emitted.payload,
        "created_at": created_at,
    }
    body = dumps(envelope).encode("utf-8")
    return Event(
        id=new_id("evt"),
        name=emitted.name,
        body=body,
        signature=hmac_sha256_hex(secret, body),
        created_at=created_at,
        payment_id=emitted.payment_id,
        order_id=emitted.order_id,
        refund_id=emitted.refund_id,
    )
