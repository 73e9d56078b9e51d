"""RazorPay's payment-gateway API (orders, payments, capture) and its two signatures.

Amounts cross this module as Decimal rupees and leave it as integer paise: the conversion
happens here and nowhere else. Every call is one of:

* an answer (2xx): parsed into `Order` / `GatewayPayment`;
* `Refused` (a 4xx other than 408/429): RazorPay read the request and said no; retrying the
  same request cannot change that;
* `Unavailable` (5xx, 408, 429, timeout, connection error, unreadable 2xx, 401/403): no
  definite answer, or our credentials failed. The caller must assume RazorPay may have done it,
  which is safe because every write here is idempotent at RazorPay: an order is created with
  `unique_receipt` (a repeat returns the same order) and a capture of a captured payment is
  refused, never repeated.

Retries happen here (engine.clients.transport), within a time budget per call, with jittered
backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from engine.clients.transport import Answer, JsonTransport, Result
from engine.models.payment import CURRENCY, paise, rupees
from shared import jsonutil

_RETRYABLE_4XX = frozenset({408, 429})
_AUTH_STATUSES = frozenset({401, 403})
# RazorPay's receipt field holds at most 40 characters.
RECEIPT_MAX = 40


class RazorpayError(Exception):
    """A call that did not give the caller an answer it can use."""


class Unavailable(RazorpayError):
    """No definite answer (or our credentials were refused): RazorPay may have acted."""


class Refused(RazorpayError):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"RazorPay refused ({status} {code}): {description[:200]}")
        self.status = status
        self.code = code
        self.description = description


@dataclass(frozen=True)
class Credentials:
    key_id: str
    key_secret: str


@dataclass(frozen=True)
class Order:
    id: str
    amount: Decimal
    currency: str
    receipt: str | None
    status: str  # created | attempted | paid


@dataclass(frozen=True)
class GatewayPayment:
    """A RazorPay payment entity (its id is RazorPay's `pay_...`, not ours)."""

    id: str
    order_id: str | None
    amount: Decimal
    currency: str
    status: str  # created | authorized | captured | refunded | failed
    method: str | None
    amount_refunded: Decimal
    error_code: str | None
    error_description: str | None
    # Whether the money was ever captured: "refunded" alone does not say (an authorization
    # left uncaptured for days is refunded to the customer without ever being ours).
    captured: bool = False

    @classmethod
    def parse(cls, body: dict[str, Any]) -> GatewayPayment:
        return cls(
            id=_text(body, "id"),
            order_id=body.get("order_id") if isinstance(body.get("order_id"), str) else None,
            amount=rupees(_paise(body, "amount")),
            currency=_text(body, "currency"),
            status=_text(body, "status"),
            method=body.get("method") if isinstance(body.get("method"), str) else None,
            amount_refunded=rupees(_paise(body, "amount_refunded", default=0)),
            error_code=_optional_text(body.get("error_code")),
            error_description=_optional_text(body.get("error_description")),
            captured=body.get("captured") is True or body.get("status") == "captured",
        )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Unavailable(f"RazorPay's answer has no {name}")
    return value


def _optional_text(value: Any) -> str | None:
    return str(value)[:500] if value else None


def _paise(body: dict[str, Any], name: str, default: int | None = None) -> int:
    value = body.get(name)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unavailable(f"RazorPay's answer has no integer {name}")
    return value


def _order(body: dict[str, Any]) -> Order:
    receipt = body.get("receipt")
    return Order(
        id=_text(body, "id"),
        amount=rupees(_paise(body, "amount")),
        currency=_text(body, "currency"),
        receipt=receipt if isinstance(receipt, str) else None,
        status=_text(body, "status"),
    )


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def checkout_signature_ok(
    stored_order_id: str, razorpay_payment_id: str, signature: str, key_secret: str
) -> bool:
    """Standard Checkout's signature: HMAC-SHA256 hex of `order_id|payment_id` under the key
    secret, over the order id we stored, never the one the browser sent back."""
    expected = hmac_hex(key_secret, f"{stored_order_id}|{razorpay_payment_id}".encode())
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8"))


def webhook_signature_ok(raw_body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """HMAC-SHA256 hex of the raw body under the webhook secret; during a rotation RazorPay
    still signs retries of older events with the previous secret, so each is tried. Every
    secret is compared, always, so timing does not tell which one nearly matched."""
    if not signature:
        return False
    offered = signature.encode("utf-8")
    matches = [
        hmac.compare_digest(hmac_hex(secret, raw_body).encode(), offered)
        for secret in secrets
        if secret
    ]
    return any(matches)


def _sleep(seconds: float) -> None:
    """Module-level so tests can make the backoff instant."""
    time.sleep(seconds)


def _retryable(result: Result) -> bool:
    """No answer, a 5xx, 408 or 429: worth another attempt within the budget."""
    return not isinstance(result, Answer) or _no_definite_answer(result)


def _no_definite_answer(answer: Answer) -> bool:
    return answer.status >= 500 or answer.status in _RETRYABLE_4XX


class RazorpayClient:
    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], Credentials],
        *,
        timeout_seconds: float = 3.0,
        backoff: tuple[float, ...] = (0.25, 1.0),
        budget_seconds: float = 8.0,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._credentials = credentials
        self._transport = JsonTransport(
            base_url,
            timeout_seconds=timeout_seconds,
            budget_seconds=budget_seconds,
            backoff=backoff,
            # Looked up at each pause, not bound now, so a test replacing _sleep is obeyed.
            sleep=lambda seconds: _sleep(seconds),  # noqa: PLW0108
            monotonic=monotonic,
            rand=rand,
        )

    @property
    def calls(self) -> int:
        """HTTP requests made (attempts), for the per-operation counts."""
        return self._transport.calls

    def credentials(self) -> Credentials:
        """Read through the secret's cache: a rotated key is picked up within minutes."""
        return self._credentials()

    def create_order(self, receipt: str, amount: Decimal, notes: dict[str, str]) -> Order:
        """`unique_receipt`: a repeat (our retry, a duplicate request) gets the same order."""
        if len(receipt) > RECEIPT_MAX:
            raise ValueError("receipt is longer than RazorPay takes")
        body = {
            "amount": paise(amount),
            "currency": CURRENCY,
            "receipt": receipt,
            "notes": notes,
            "unique_receipt": True,
        }
        return _order(self._call("POST", "/v1/orders", body))

    def order(self, order_id: str) -> Order:
        return _order(self._call("GET", f"/v1/orders/{quote(order_id, safe='')}"))

    def order_by_receipt(self, receipt: str) -> Order | None:
        """The order made for `receipt`, if any (a create whose answer we never read)."""
        query = urlencode({"receipt": receipt, "count": 1})
        items = self._call("GET", f"/v1/orders?{query}").get("items")
        orders = (
            [_order(i) for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        )
        return orders[0] if orders else None

    def order_payments(self, order_id: str) -> list[GatewayPayment]:
        body = self._call("GET", f"/v1/orders/{quote(order_id, safe='')}/payments")
        items = body.get("items")
        if not isinstance(items, list):
            raise Unavailable("RazorPay's collection has no items")
        return [GatewayPayment.parse(i) for i in items if isinstance(i, dict)]

    def payment(self, razorpay_payment_id: str) -> GatewayPayment:
        path = f"/v1/payments/{quote(razorpay_payment_id, safe='')}"
        return GatewayPayment.parse(self._call("GET", path))

    def capture(self, razorpay_payment_id: str, amount: Decimal) -> GatewayPayment:
        path = f"/v1/payments/{quote(razorpay_payment_id, safe='')}/capture"
        body = {"amount": paise(amount), "currency": CURRENCY}
        return GatewayPayment.parse(self._call("POST", path, body))

    # ------------------------------------------------------------------ transport

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        deadline = self._transport.deadline()
        payload = jsonutil.dumps_exact(body).encode() if body is not None else None
        headers = self._headers()
        answer = self._transport.send(
            method, path, body=payload, headers=headers, retry=_retryable, deadline=deadline
        )
        if not isinstance(answer, Answer) or _no_definite_answer(answer):
            route = path.split("?", maxsplit=1)[0]
            raise Unavailable(f"RazorPay gave no answer to {method} {route}")
        if answer.status in _AUTH_STATUSES:
            raise Unavailable(f"RazorPay refused our credentials ({answer.status})")
        if answer.status >= 400:
            raise _refused(answer)
        return answer.body

    def _headers(self) -> dict[str, str]:
        credentials = self._credentials()
        pair = f"{credentials.key_id}:{credentials.key_secret}".encode()
        return {
            "Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }


def _refused(answer: Answer) -> Refused:
    error = answer.body.get("error")
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"HTTP{answer.status}")
    return Refused(answer.status, code, str(error.get("description") or ""))
