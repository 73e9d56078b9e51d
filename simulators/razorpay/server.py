"""An HTTP simulator of RazorPay's payment gateway API (India), for tests and local runs.

It speaks the published contract (providers.md section 2) on localhost:

* Every ``/v1`` route takes Basic auth ``key_id:key_secret``; anything else is a 401
  ``{"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed", ...}}``.
* ``POST /v1/orders`` (rules in :mod:`simulators.razorpay.rules`; ``unique_receipt: true``
  returns the existing order for a repeated receipt), ``GET /v1/orders`` (``count``, ``skip``,
  ``receipt``), ``GET /v1/orders/{id}``, ``GET /v1/orders/{id}/payments``,
  ``GET /v1/payments/{id}``, ``POST /v1/payments/{id}/capture`` (``amount`` equal to the
  payment's, ``currency``; authorized payments only), ``POST /v1/payments/{id}/refund``
  (optional ``X-Refund-Idempotency``, at least 10 characters: a repeat returns the first
  refund), ``GET /v1/payments/{id}/refunds`` and ``GET /v1/refunds/{id}``. Collections are
  ``{"entity": "collection", "count", "items"}``, newest first. Refunds are processed at once.
* Webhooks (:mod:`simulators.razorpay.events`) go to the configured URL ``webhook_delay``
  seconds after what caused them, one after the other; an answer that is not 2xx is retried
  after each of ``webhook_retry_delays`` (RazorPay backs off exponentially for 24 hours).

Simulator-only admin routes (no auth, never logged), under ``/_simulator/``:
``GET|POST mode``, ``POST reset``, ``GET received`` (the request log, without Authorization),
``POST checkout {"order_id", "outcome"?, "method"?, "email"?, "contact"?}`` (pays an order as
Standard Checkout would), ``GET deliveries``, ``GET events`` (``?payment_id=``),
``POST webhooks {"event_id"} | {"payment_id", "event"?}`` (send a stored event again, same id,
body and signature), ``POST webhook-url {"url"}``, ``POST webhook-secret {"secret"}`` (rotate),
``GET orders``, ``GET payments`` (``?order_id=``) and ``GET refunds``. The request log, the
deliveries and the stored events keep the newest ``log_limit`` (10,000) entries each.

Checkout outcomes: ``captured`` (auto-capture: payment.authorized, payment.captured,
order.paid), ``authorized`` (auto-capture off: payment.authorized; the merchant captures),
``failed`` (payment.failed) and ``failed_then_captured`` (payment.failed now; the payment stays
``failed`` until ``late_capture_delay`` seconds later, when it is captured and payment.captured
and order.paid follow). A paying outcome answers ``{razorpay_payment_id, razorpay_order_id,
razorpay_signature}``, the signature being HMAC-SHA256 hex of ``order_id|payment_id`` keyed with
the key secret; ``failed`` answers Checkout's ``{"error": {..., "metadata": {payment_id,
order_id}}}``.

Modes (``set_mode``; ``count`` limits one to the requests it affects): ``fail`` and
``failed_then_captured`` choose the outcome of checkouts that name none; ``duplicate`` (each
webhook delivered ``times`` times at once, default 5), ``out_of_order`` (each batch of webhooks
delivered newest first) and ``lost_webhook`` (none sent; ``POST webhooks`` can replay them)
affect checkouts, captures and refunds; ``error_5xx`` (500, nothing done), ``timeout`` (done,
then the connection held ``hold_seconds`` and dropped without an answer) and ``slow``
(``latency_ms``, 2000 unless given) affect ``/v1`` requests. ``latency_ms`` with another mode
delays every ``/v1`` answer while that mode lasts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from simulators.common.admin import AdminRoutes
from simulators.common.http import ADMIN_PREFIX, HttpSimulator, Reply, Request
from simulators.common.jsonutil import loads
from simulators.common.log import DEFAULT_LOG_LIMIT, BoundedLog
from simulators.common.modes import Active, ModeState
from simulators.common.signing import basic_credentials, hmac_sha256_hex, same_text
from simulators.common.webhooks import Faults, RetryPolicy, WebhookSender
from simulators.razorpay import rules
from simulators.razorpay.entities import FAILURE, new_id
from simulators.razorpay.errors import (
    AUTHENTICATION_FAILED,
    RazorpayError,
    bad_request,
    server_error,
    unknown_url,
)
from simulators.razorpay.events import Event, sign_event
from simulators.razorpay.ledger import Emitted, Ledger

__all__ = ["MODES", "RazorpaySimulator"]

MODES = (
    "ok",
    "fail",
    "failed_then_captured",
    "duplicate",
    "out_of_order",
    "lost_webhook",
    "error_5xx",
    "timeout",
    "slow",
)
_WEBHOOK_MODES = frozenset({"duplicate", "out_of_order", "lost_webhook"})
_CHECKOUT_MODES = _WEBHOOK_MODES | {"fail", "failed_then_captured"}
_API_MODES = frozenset({"error_5xx", "timeout", "slow"})
_MODE_OUTCOMES = {"fail": "failed", "failed_then_captured": "failed_then_captured"}
DEFAULT_DUPLICATES = 5
DEFAULT_SLOW_MS = 2000
DEFAULT_RETRY_DELAYS = RetryPolicy.backoff(0.5, retries=5).delays
DEFAULT_EMAIL = "customer@example.com"
DEFAULT_CONTACT = "+919000090000"
_PAGE_MAX = 100

Route = Callable[[Request, str], tuple[int, Any]]


def _collection(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"entity": "collection", "count": len(items), "items": items}


def _faults(active: Active) -> Faults:
    return Faults(
        drop=active.mode == "lost_webhook",
        copies=active.options["times"] if active.mode == "duplicate" else 1,
        reverse=active.mode == "out_of_order",
    )


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_value(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise bad_request(f"The {name} must be an integer between {low} and {high}.", name)
    return int(text)


class RazorpaySimulator(HttpSimulator):
    """A RazorPay API simulator on a real localhost HTTP server (daemon thread)."""

    thread_name = "razorpay-simulator"
    server_version = "RazorpaySimulator/1.0"

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        *,
        webhook_url: str | None = None,
        webhook_delay: float = 0.2,
        webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        late_capture_delay: float = 1.0,
        hold_seconds: float = 10.0,
        account_id: str | None = None,
        log_limit: int = DEFAULT_LOG_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not (key_id and key_secret and webhook_secret):
            raise ValueError("key_id, key_secret and webhook_secret must not be empty")
        super().__init__(host, port)
        self.key_id = key_id
        self._key_secret = key_secret
        self._webhook_secret = webhook_secret
        self._webhook_url = webhook_url
        self.webhook_delay = webhook_delay
        self.late_capture_delay = late_capture_delay
        self.hold_seconds = hold_seconds
        self.account_id = account_id or new_id("acc")
        self._lock = threading.Lock()
        self._events: dict[str, Event] = {}  # insertion order: oldest first
        self._event_limit = log_limit
        self._ledger = Ledger()
        self._modes = ModeState(
            MODES,
            options={"times": DEFAULT_DUPLICATES},
            latency_outlives_count=False,
            slow_ms=DEFAULT_SLOW_MS,
        )
        self._requests = BoundedLog(log_limit)
        policy = RetryPolicy(tuple(webhook_retry_delays))
        self._sender = WebhookSender(
            policy, self.stopped, limit=log_limit, abandon_on_reset=True, name="razorpay"
        )
        self._admin_routes = self._declare_admin_routes()
        self._routes = self._declare_routes()

    # ------------------------------------------------------------------ configuration

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url

    def set_webhook_url(self, url: str | None) -> None:
        with self._lock:
            self._webhook_url = url

    def set_webhook_secret(self, secret: str) -> None:
        """Rotate the webhook secret: new events are signed with it, older ones keep theirs."""
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret must be a non-empty string")
        with self._lock:
            self._webhook_secret = secret

    def set_mode(
        self, mode: str, count: int | None = None, latency_ms: int = 0, times: int | None = None
    ) -> None:
        """Set the behaviour of following requests (see the module docstring)."""
        self._modes.set(mode, count=count, latency_ms=latency_ms, times=times)

    def mode(self) -> dict[str, Any]:
        return self._modes.snapshot()

    def reset(self) -> None:
        """Forget orders, payments, events, logs and pending deliveries; mode back to ``ok``."""
        with self._lock:
            self._events.clear()
        self._ledger.clear()
        self._requests.clear()
        self._sender.reset()
        self._modes.reset()

    # ------------------------------------------------------------------ views

    def orders(self) -> list[dict[str, Any]]:
        return self._ledger.orders()

    def payments(self, order_id: str | None = None) -> list[dict[str, Any]]:
        return self._ledger.payments(order_id)

    def refunds(self) -> list[dict[str, Any]]:
        return self._ledger.refunds()

    def events(self, payment_id: str | None = None) -> list[dict[str, Any]]:
        """The events created (sent or not), oldest first: the newest ``log_limit``."""
        with self._lock:
            return [
                event.view()
                for event in self._events.values()
                if payment_id is None or event.payment_id == payment_id
            ]

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt with its answer, oldest first."""
        return self._sender.records()

    def requests_log(self) -> list[dict[str, Any]]:
        """Every ``/v1`` request received (admin routes excluded), oldest first."""
        return self._requests.entries()

    received = requests_log

    # ------------------------------------------------------------------ checkout and webhooks

    def checkout(
        self,
        order_id: str,
        outcome: str | None = None,
        method: str = "upi",
        email: str = DEFAULT_EMAIL,
        contact: str = DEFAULT_CONTACT,
    ) -> dict[str, Any]:
        """Pay ``order_id`` as Standard Checkout would; see the module docstring."""
        self._ledger.check_checkout(order_id, outcome, method)
        active = self._modes.consume(_CHECKOUT_MODES)
        chosen = outcome or _MODE_OUTCOMES.get(active.mode, "captured")
        payment, emitted = self._ledger.checkout(order_id, chosen, method, email, contact)
        self._emit(emitted, _faults(active))
        if chosen == "failed_then_captured":
            self._schedule_late_capture(payment["id"], _faults(active))
        if chosen == "failed":
            metadata = {"payment_id": payment["id"], "order_id": order_id}
            return {"error": self._checkout_error(metadata)}
        return {
            "razorpay_payment_id": payment["id"],
            "razorpay_order_id": order_id,
            "razorpay_signature": hmac_sha256_hex(self._key_secret, f"{order_id}|{payment['id']}"),
        }

    @staticmethod
    def _checkout_error(metadata: dict[str, str]) -> dict[str, Any]:
        return {
            "code": FAILURE["error_code"],
            "description": FAILURE["error_description"],
            "source": FAILURE["error_source"],
            "step": FAILURE["error_step"],
            "reason": FAILURE["error_reason"],
            "metadata": metadata,
        }

    def send_webhook(
        self,
        event_id: str | None = None,
        *,
        payment_id: str | None = None,
        event: str | None = None,
    ) -> dict[str, Any]:
        """Deliver a stored event again now (same id, body, signature); the first attempt's record.

        Name it by ``event_id``, or by ``payment_id`` (its latest event, or its latest ``event``).
        Raises ``LookupError`` (no such event), ``ValueError`` (neither given) or
        ``RuntimeError`` (no webhook URL). A non-2xx answer is retried in the background.
        """
        with self._lock:
            chosen = self._find_event(event_id, payment_id, event)
            url = self._webhook_url
        if not url:
            raise RuntimeError("no webhook URL is set")
        return self._sender.deliver(chosen.outgoing(url))

    def _find_event(self, event_id: str | None, payment_id: str | None, name: str | None) -> Event:
        if event_id is not None:
            if event_id not in self._events:
                raise LookupError(f"no event {event_id!r}")
            return self._events[event_id]
        if payment_id is None:
            raise ValueError("event_id or payment_id is required")
        for candidate in reversed(self._events.values()):
            if candidate.payment_id == payment_id and name in (None, candidate.name):
                return candidate
        raise LookupError(f"no {name or 'event'} for payment {payment_id!r}")

    def _emit(self, emitted: list[Emitted], faults: Faults) -> None:
        with self._lock:
            events = [sign_event(e, self.account_id, self._webhook_secret) for e in emitted]
            self._events.update((event.id, event) for event in events)
            while len(self._events) > self._event_limit:
                del self._events[next(iter(self._events))]
            url = self._webhook_url
        if url and events:
            outgoing = [event.outgoing(url) for event in events]
            self._sender.send(outgoing, delay=self.webhook_delay, faults=faults)

    def _schedule_late_capture(self, payment_id: str, faults: Faults) -> None:
        def capture_late() -> None:
            # After a reset the ledger no longer knows the payment, and nothing happens.
            if not self.stopped.wait(self.late_capture_delay):
                self._emit(self._ledger.late_capture(payment_id), faults)

        threading.Thread(target=capture_late, name="razorpay-late-capture", daemon=True).start()

    # ------------------------------------------------------------------ HTTP entry

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        request = Request.parse(method, path, headers, raw)
        if request.route.startswith(ADMIN_PREFIX):
            return self._admin_routes.dispatch(request)
        reply = self._api(request)
        self._requests.append(self._log_entry(request, reply))
        return reply

    def crash_reply(self, exc: Exception) -> Reply:
        return Reply(500, server_error().payload())

    def _authorised(self, request: Request) -> bool:
        credentials = basic_credentials(request.authorization)
        if credentials is None:
            return False
        key_id, key_secret = credentials
        id_ok = same_text(key_id, self.key_id)
        return same_text(key_secret, self._key_secret) and id_ok

    def _api(self, request: Request) -> Reply:
        if not self._authorised(request):
            return Reply(AUTHENTICATION_FAILED.status, AUTHENTICATION_FAILED.payload())
        active = self._modes.consume(_API_MODES)
        if active.mode == "error_5xx":
            reply = Reply(500, server_error().payload())
        else:
            try:
                reply = Reply(*self._route(request))
            except RazorpayError as exc:
                reply = Reply(exc.status, exc.payload())
        if active.mode == "timeout":
            reply.hold, reply.drop = self.hold_seconds, True
        reply.hold += active.latency_ms / 1000
        return reply

    def _route(self, request: Request) -> tuple[int, Any]:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.route)
            if match and method == request.method:
                return handler(request, match.groupdict().get("id", ""))
        raise unknown_url()

    @staticmethod
    def _log_entry(request: Request, reply: Reply) -> dict[str, Any]:
        error = reply.payload.get("error") if isinstance(reply.payload, dict) else None
        return {
            "received_at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": request.logged_body(),
            "response_status": reply.status,
            "error_code": error.get("code") if isinstance(error, dict) else None,
            "held_seconds": reply.hold,
            "dropped": reply.drop,
        }

    # ------------------------------------------------------------------ /v1 routes

    def _declare_routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        one = "(?P<id>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            ("POST", "/v1/orders", self._create_order),
            ("GET", "/v1/orders", self._list_orders),
            ("GET", f"/v1/orders/{one}", lambda _r, oid: (200, self._ledger.order(oid))),
            ("GET", f"/v1/orders/{one}/payments", self._order_payments),
            ("GET", f"/v1/payments/{one}", lambda _r, pid: (200, self._ledger.payment(pid))),
            ("POST", f"/v1/payments/{one}/capture", self._capture),
            ("POST", f"/v1/payments/{one}/refund", self._refund),
            ("GET", f"/v1/payments/{one}/refunds", self._payment_refunds),
            ("GET", f"/v1/refunds/{one}", lambda _r, rid: (200, self._ledger.refund(rid))),
        ]
        return [(method, re.compile(path), handler) for method, path, handler in table]

    @staticmethod
    def _json(request: Request) -> Any:
        try:
            request.body = loads(request.raw) if request.raw.strip() else {}
        except ValueError:  # UnicodeDecodeError included
            raise bad_request("The request body is not valid JSON") from None
        return request.body

    def _create_order(self, request: Request, _id: str) -> tuple[int, Any]:
        order, _created = self._ledger.create_order(rules.order_request(self._json(request)))
        return 200, order

    def _list_orders(self, request: Request, _id: str) -> tuple[int, Any]:
        count = _int_query(request, "count", 10, 1, _PAGE_MAX)
        skip = _int_query(request, "skip", 0, 0, 10**9)
        newest_first = list(reversed(self._ledger.orders(request.query_value("receipt"))))
        return 200, _collection(newest_first[skip : skip + count])

    def _order_payments(self, _request: Request, order_id: str) -> tuple[int, Any]:
        return 200, _collection(list(reversed(self._ledger.payments(order_id))))

    def _payment_refunds(self, _request: Request, payment_id: str) -> tuple[int, Any]:
        return 200, _collection(list(reversed(self._ledger.refunds(payment_id))))

    def _capture(self, request: Request, payment_id: str) -> tuple[int, Any]:
        capture = rules.capture_request(self._json(request))
        payment, emitted = self._ledger.capture(payment_id, capture)
        self._emit(emitted, _faults(self._modes.consume(_WEBHOOK_MODES)))
        return 200, payment

    def _refund(self, request: Request, payment_id: str) -> tuple[int, Any]:
        key = rules.refund_key(request.header("X-Refund-Idempotency"))
        refund_request = rules.refund_request(self._json(request))
        refund, emitted = self._ledger.refund_payment(payment_id, refund_request, key)
        if emitted:
            self._emit(emitted, _faults(self._modes.consume(_WEBHOOK_MODES)))
        return 200, refund

    # ------------------------------------------------------------------ admin routes

    def _declare_admin_routes(self) -> AdminRoutes:
        admin = AdminRoutes()
        admin.add_standard(
            mode=self.mode,
            set_mode=self.set_mode,
            reset=self.reset,
            received=self.requests_log,
            mode_options=("times",),
        )
        admin.add_webhook_url(self.set_webhook_url)
        admin.add("POST", "webhook-secret", self._admin_rotate_secret)
        admin.add("POST", "checkout", self._admin_checkout)
        admin.add("POST", "webhooks", self._admin_send_webhook)
        admin.add("GET", "deliveries", lambda _r, _b: (200, self.deliveries()))
        admin.add("GET", "events", lambda r, _b: (200, self.events(r.query_value("payment_id"))))
        admin.add("GET", "orders", lambda _r, _b: (200, self.orders()))
        admin.add("GET", "payments", lambda r, _b: (200, self._admin_payments(r)))
        admin.add("GET", "refunds", lambda _r, _b: (200, self.refunds()))
        return admin

    def _admin_rotate_secret(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        secret = body.get("secret")
        if not isinstance(secret, str):
            raise ValueError("secret must be a non-empty string")
        self.set_webhook_secret(secret)
        return 200, {"rotated": True}

    def _admin_checkout(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        order_id = body.get("order_id")
        if not isinstance(order_id, str):
            raise ValueError("order_id is required")
        options = {k: body[k] for k in ("outcome", "method", "email", "contact") if k in body}
        return 200, self.checkout(order_id, **options)

    def _admin_send_webhook(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, self.send_webhook(
            body.get("event_id"), payment_id=body.get("payment_id"), event=body.get("event")
        )

    def _admin_payments(self, request: Request) -> list[dict[str, Any]]:
        try:
            return self.payments(request.query_value("order_id"))
        except RazorpayError as exc:
            raise LookupError(exc.description) from None
