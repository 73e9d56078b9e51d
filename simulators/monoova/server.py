"""An HTTP simulator of the Monoova Payments API (NPP payouts), for tests and local runs.

It listens on localhost and speaks the published contract (spec v5.29, providers.md section 1):

* ``POST /financial/v2/transaction/execute`` and ``/validate`` with Basic auth
  (username = API key, empty password); bodies are validated against the spec
  (see :mod:`simulators.monoova.spec`), then against the legacy business rules:
  ``InvalidTotalAmount`` (an amount <= 0 or with more than 2 decimals),
  ``InvalidAmountsDontMatch`` (totalAmount != sum of disbursement amounts; a body without
  disbursements sums to 0, as the simulator models payouts only), ``InvalidPaymentSource``
  (anything but ``mAccount``), ``MAccountTokenMustNotBeEmpty`` (no ``mAccount.token``),
  ``MAccountInvalidToTransact`` (a token that is not 16 digits) and
  ``InvalidDisbursementItemDirectCreditDetailBsbNumber`` (an NPP ``bsbNumber`` not in
  '999-999' form; the v2 code for NPP is undocumented, so the legacy Direct Credit code is used).
  A repeated ``uniqueReference`` gives HTTP 400 ``UniqueReferenceExists`` with the previous
  ``transactionId`` (legacy behaviour). ``validate`` never consumes a reference, always answers
  ``transactionId: 0`` and also reports ``UniqueReferenceExists`` for a used reference.
* ``GET /financial/v2/status/{uniqueReference}``. For an unknown reference Monoova documents
  nothing (only 200/400/500); the simulator answers HTTP 404 with
  ``{"status": "TransactionNotFound", ...}``. Callers must not rely on that shape.
* ``GET /public/v1/certificate/public-key`` (no auth): the webhook signing key as the hex of a
  DER PKCS#1 RSAPublicKey, sent as a JSON string (the spec declares
  ``application/octet-stream``).
* Webhooks ``NppPaymentStatus`` / ``NppReturn``: see :mod:`simulators.monoova.webhooks`.
  A non-200 answer is retried once after ``webhook_retry_delay`` (Monoova: 30 s) with the same
  ``Webhookid`` and body.

Simulator-only admin routes (no auth, never logged): ``GET|POST /_simulator/mode``,
``POST /_simulator/reset``, ``GET /_simulator/requests``, ``GET /_simulator/executions``
(optional ``?uniqueReference=``), ``GET /_simulator/deliveries``,
``POST /_simulator/webhooks`` and ``POST /_simulator/webhook-url``.

Modes (``set_mode``): ``ok``, ``reject``, ``return`` and ``decline`` affect execute requests
only; ``error_5xx``, ``unavailable``, ``timeout`` and ``hang`` affect execute and status
requests; ``unauthorized`` answers them 401 as Monoova does for a wrong API key (a rotated
key), without processing them. With ``count`` the mode applies to the next ``count``
requests it affects and then reverts to ``ok``. ``latency_ms`` delays every Monoova
(non-admin) response until the next ``set_mode``/``reset``. Transaction ids (from 1000) and
webhook ids (from 1) keep increasing across ``reset`` so that they stay unique for the
simulator's lifetime.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulators.monoova.jsonutil import dumps, loads
from simulators.monoova.spec import SpecValidator
from simulators.monoova.webhooks import (
    WebhookSigner,
    payment_status_payload,
    post_webhook,
    return_payload,
)

__all__ = ["MODES", "MonoovaSimulator"]

MODES = (
    "ok",
    "reject",
    "return",
    "decline",
    "error_5xx",
    "unavailable",
    "timeout",
    "hang",
    "unauthorized",
)
_EXECUTE_ONLY_MODES = frozenset({"ok", "reject", "return", "decline"})
_NOT_PROCESSED_MODES = frozenset({"error_5xx", "unavailable", "hang", "unauthorized"})
_PAYMENT_STATUSES = ("Payment Successful", "Rejected")
_EVENTS = ("NppPaymentStatus", "NppReturn")

EXECUTE_PATH = "/financial/v2/transaction/execute"
VALIDATE_PATH = "/financial/v2/transaction/validate"
STATUS_PREFIX = "/financial/v2/status/"
PUBLIC_KEY_PATH = "/public/v1/certificate/public-key"
ADMIN_PREFIX = "/_simulator/"

OK_DESCRIPTION = "Operation completed successfully"
LOG_LIMIT = 5_000
_FEE_EX_GST = Decimal("0.10")
_FEE_GST = Decimal("0.01")
_CENT = Decimal("0.01")
_TOKEN_RE = re.compile(r"\d{16}")
_BSB_RE = re.compile(r"\d{3}-\d{3}")
_STATUS_DESCRIPTIONS = {
    "Pending": (
        "Payment is in progress, please do not resubmit the transaction. Use the "
        "/financial/v2/status/ API to check the status at a later time."
    ),
    "Complete": OK_DESCRIPTION,
    "Rejected": "Transaction rejected by banking institution.",
}


@dataclass
class _Transaction:
    transaction_id: int
    unique_reference: str | None
    body: dict[str, Any]
    received_at: datetime
    outcome: str
    generation: int
    status: str = "Pending"
    completed_at: datetime | None = None
    dishonoured_at: datetime | None = None
    manual: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "unique_reference": self.unique_reference,
            "body": copy.deepcopy(self.body),
            "received_at": self.received_at.isoformat(),
            "outcome": self.outcome,
            "transaction_status": self.status,
        }


@dataclass
class _Reply:
    status: int
    payload: Any
    hold: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Request:
    method: str
    path: str
    route: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    authorization: str | None
    raw: bytes
    started: float
    body: Any = None
    validation_errors: list[str] = field(default_factory=list)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class _BodyError(ValueError):
    pass


def _envelope(request: _Request, status: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "durationMs": request.elapsed_ms(),
        "status": status,
        "statusDescription": description,
        **extra,
    }


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def _check_amounts(body: dict[str, Any]) -> tuple[str, str] | None:
    disbursements = [d for d in body.get("disbursements") or [] if isinstance(d, dict)]
    labelled = [("totalAmount", body.get("totalAmount"))]
    labelled += [
        (f"disbursements[{i}].amount", d.get("amount")) for i, d in enumerate(disbursements)
    ]
    for label, value in labelled:
        amount = _as_decimal(value)
        if (
            amount is None
            or not amount.is_finite()
            or amount <= 0
            or amount != amount.quantize(_CENT)
        ):
            return (
                "InvalidTotalAmount",
                f"{label} must be greater than $0.00 with no more than 2 decimal places",
            )
    total = _as_decimal(body.get("totalAmount")) or Decimal(0)
    if (
        sum((_as_decimal(d.get("amount")) or Decimal(0) for d in disbursements), Decimal(0))
        != total
    ):
        return (
            "InvalidAmountsDontMatch",
            "The totalAmount does not match the sum of the disbursement amounts",
        )
    return None


def _check_source(body: dict[str, Any]) -> tuple[str, str] | None:
    if body.get("paymentSource") != "mAccount":
        return "InvalidPaymentSource", "The simulator supports paymentSource 'mAccount' only"
    account = body.get("mAccount")
    token = account.get("token") if isinstance(account, dict) else None
    if not token:
        return "MAccountTokenMustNotBeEmpty", "mAccount.token must not be empty"
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return "MAccountInvalidToTransact", "mAccount.token must be a 16-digit mAccount number"
    return None


def _check_bsbs(body: dict[str, Any]) -> tuple[str, str] | None:
    for index, item in enumerate(body.get("disbursements") or []):
        details = item.get("toNppCreditBankAccountDetails") if isinstance(item, dict) else None
        if isinstance(details, dict):
            bsb = details.get("bsbNumber")
            if not isinstance(bsb, str) or not _BSB_RE.fullmatch(bsb):
                return (
                    "InvalidDisbursementItemDirectCreditDetailBsbNumber",
                    f"disbursements[{index}] bsbNumber must be in the format '999-999'",
                )
    return None


def business_error(body: dict[str, Any]) -> tuple[str, str] | None:
    """The first legacy business-rule violation of a spec-valid body, as (status, text)."""
    for check in (_check_amounts, _check_source, _check_bsbs):
        error = check(body)
        if error:
            return error
    return None


def _fees(count: int) -> dict[str, Any]:
    def fee(multiplier: int) -> dict[str, Decimal]:
        return {
            "feeAmountExcludingGst": _FEE_EX_GST * multiplier,
            "feeAmountGstComponent": _FEE_GST * multiplier,
            "feeAmountIncludingGst": (_FEE_EX_GST + _FEE_GST) * multiplier,
        }

    return {
        **fee(count),
        "feeBreakdown": {
            "disbursementFees": [
                {"disbursementArrayIndex": index, "disbursementFee": fee(1)}
                for index in range(count)
            ]
        },
    }


def _date(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    simulator: MonoovaSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that gave up (read timeout) closes the socket; that is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "MonoovaSimulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        simulator = self.server.simulator
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        raw = self.rfile.read(length) if length > 0 else b""
        if length < 0:
            reply = _Reply(400, {"error": "invalid Content-Length"})
        else:
            try:
                reply = simulator._handle(self.command, self.path, dict(self.headers.items()), raw)
            except Exception as exc:  # a simulator bug: surface it to the caller, keep serving
                reply = _Reply(500, {"status": "Exception", "statusDescription": repr(exc)})
        if reply.hold > 0:
            simulator._stop_event.wait(reply.hold)
        data = dumps(reply.payload).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve


class MonoovaSimulator:
    """A Monoova Payments API simulator on a real localhost HTTP server (daemon thread)."""

    def __init__(
        self,
        api_key: str,
        *,
        webhook_url: str | None = None,
        webhook_token: str = "Basic c2ltdWxhdG9yOnRva2Vu",
        webhook_delay: float = 0.2,
        webhook_retry_delay: float = 30.0,
        hold_seconds: float = 10.0,
        strict: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.api_key = api_key
        self.webhook_token = webhook_token
        self.webhook_delay = webhook_delay
        self.webhook_retry_delay = webhook_retry_delay
        self.hold_seconds = hold_seconds
        self.host = host
        self.port = port
        self._webhook_url = webhook_url
        self._validator = SpecValidator(strict=strict)
        self._signer = WebhookSigner()
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._next_transaction_id = 1000
        self._next_webhook_id = 1
        self._generation = 0
        self._clear_state()

    # ------------------------------------------------------------------ lifecycle

    def _clear_state(self) -> None:
        self._transactions: list[_Transaction] = []
        self._by_reference: dict[str, _Transaction] = {}
        # The request and delivery logs keep the newest entries only, so a long local run
        # does not grow without bound (executions, the money record, are all kept).
        self._requests: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._deliveries: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._mode = "ok"
        self._mode_remaining: int | None = None
        self._latency_ms = 0

    def start(self) -> str:
        """Start listening; returns the base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._stop_event.clear()
        server = _Server((self.host, self.port), _Handler)
        server.simulator = self
        self._server = server
        host, port = server.server_address[:2]
        self.port = int(port)
        self._base_url = f"http://{host!s}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="monoova-simulator",
            daemon=True,
        )
        self._thread.start()
        return self._base_url

    def stop(self) -> None:
        """Stop listening; pending holds, outcomes and webhook retries are abandoned."""
        self._stop_event.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MonoovaSimulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str | None:
        return self._base_url

    @property
    def public_key_hex(self) -> str:
        """Webhook signing key: hex of DER PKCS#1 RSAPublicKey (``3082010A0282010100...``)."""
        return self._signer.public_key_hex

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url

    def set_webhook_url(self, url: str | None) -> None:
        with self._lock:
            self._webhook_url = url

    # ------------------------------------------------------------------ control

    def set_mode(self, mode: str, count: int | None = None, latency_ms: int = 0) -> None:
        """Set the behaviour of following requests (see the module docstring)."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {list(MODES)}")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ValueError("count must be a positive integer or None")
        if count is not None and count < 1:
            raise ValueError("count must be a positive integer or None")
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        with self._lock:
            self._mode = mode
            self._mode_remaining = count
            self._latency_ms = latency_ms

    def mode(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._mode,
                "count": self._mode_remaining,
                "latency_ms": self._latency_ms,
            }

    def reset(self) -> None:
        """Forget transactions, logs and deliveries; mode back to ``ok``, no latency."""
        with self._lock:
            self._generation += 1
            self._clear_state()

    def executions(self, unique_reference: str | None = None) -> list[dict[str, Any]]:
        """Accepted execute calls (the ones that moved money), oldest first."""
        with self._lock:
            return [
                tx.view()
                for tx in self._transactions
                if unique_reference is None or tx.unique_reference == unique_reference
            ]

    def requests_log(self) -> list[dict[str, Any]]:
        """The Monoova API requests received (admin routes excluded; the newest LOG_LIMIT),
        oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._requests))

    def deliveries(self) -> list[dict[str, Any]]:
        """The webhook delivery attempts (the newest LOG_LIMIT), oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._deliveries))

    def _consume_mode(self, kind: str) -> str:
        with self._lock:
            mode = self._mode
            if kind != "execute" and mode in _EXECUTE_ONLY_MODES:
                return "ok"
            if self._mode_remaining is not None:
                self._mode_remaining -= 1
                if self._mode_remaining <= 0:
                    self._mode, self._mode_remaining = "ok", None
            return mode

    # ------------------------------------------------------------------ HTTP entry

    def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        url = urlsplit(path)
        lowered = {name.lower(): value for name, value in headers.items()}
        request = _Request(
            method=method,
            path=path,
            route=url.path,
            query=parse_qs(url.query),
            headers={k: v for k, v in headers.items() if k.lower() != "authorization"},
            authorization=lowered.get("authorization"),
            raw=raw,
            started=time.monotonic(),
        )
        if request.route.startswith(ADMIN_PREFIX):
            return self._admin(request)
        if request.route == PUBLIC_KEY_PATH and method == "GET":
            reply = _Reply(200, self.public_key_hex)
        elif request.route.startswith("/financial/"):
            reply = self._financial(request)
        else:
            reply = _Reply(404, _envelope(request, "NotFound", f"No route for {request.route}"))
        with self._lock:
            latency = self._latency_ms / 1000
            self._requests.append(self._log_entry(request, reply))
        reply.hold += latency
        return reply

    @staticmethod
    def _log_entry(request: _Request, reply: _Reply) -> dict[str, Any]:
        body: Any = request.body
        if body is None and request.raw:
            try:
                body = loads(request.raw)
            except ValueError:
                body = request.raw.decode("utf-8", errors="replace")
        payload = reply.payload
        return {
            "received_at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": body,
            "validation_errors": list(request.validation_errors),
            "response_status": reply.status,
            "monoova_status": payload.get("status") if isinstance(payload, dict) else None,
            "held_seconds": reply.hold,
        }

    def _authorised(self, request: _Request) -> bool:
        header = request.authorization or ""
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, separator, password = decoded.partition(":")
        return (
            bool(separator)
            and hmac.compare_digest(username.encode(), self.api_key.encode())
            and password == ""
        )

    @staticmethod
    def _unauthorised(request: _Request) -> _Reply:
        return _Reply(
            401,
            _envelope(request, "Unauthorized", "Authorization has been denied for this request."),
            headers={"WWW-Authenticate": 'Basic realm="Monoova"'},
        )

    def _financial(self, request: _Request) -> _Reply:
        if not self._authorised(request):
            return self._unauthorised(request)
        route, method = request.route, request.method
        if route in (EXECUTE_PATH, VALIDATE_PATH):
            if method != "POST":
                return _Reply(405, _envelope(request, "MethodNotAllowed", "Use POST"))
            return self._transaction(request, validate_only=route == VALIDATE_PATH)
        suffix = route[len(STATUS_PREFIX) :] if route.startswith(STATUS_PREFIX) else ""
        if suffix and "/" not in suffix:
            if method != "GET":
                return _Reply(405, _envelope(request, "MethodNotAllowed", "Use GET"))
            return self._status(request, unquote(suffix))
        return _Reply(404, _envelope(request, "NotFound", f"No route for {route}"))

    def _failure(self, request: _Request, mode: str) -> _Reply:
        if mode == "unauthorized":
            return self._unauthorised(request)
        if mode == "error_5xx":
            return _Reply(500, _envelope(request, "Exception", "Internal Server Error (simulated)"))
        if mode == "unavailable":
            return _Reply(
                503, _envelope(request, "ServiceUnavailable", "Service Unavailable (simulated)")
            )
        return _Reply(
            504,
            _envelope(request, "GatewayTimeout", "Gateway Timeout (simulated)"),
            hold=self.hold_seconds,
        )

    # ------------------------------------------------------------------ execute / validate

    def _parse_transaction(self, request: _Request) -> dict[str, Any]:
        """Parse and validate; raises ``_BodyError(status, text)`` on a 400."""
        try:
            body = loads(request.raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _BodyError(
                "RequestBodyNotValidJson", f"Request body is not valid JSON: {exc}"
            ) from None
        request.body = body
        errors = self._validator.validate_transaction(body)
        request.validation_errors = errors
        if errors:
            raise _BodyError("ValidationError", "; ".join(errors))
        error = business_error(body)
        if error:
            raise _BodyError(*error)
        return body

    def _transaction(self, request: _Request, validate_only: bool) -> _Reply:
        mode = "ok" if validate_only else self._consume_mode("execute")
        if mode in _NOT_PROCESSED_MODES:
            return self._failure(request, mode)
        hold = self.hold_seconds if mode == "timeout" else 0.0
        try:
            body = self._parse_transaction(request)
        except _BodyError as exc:
            status, description = exc.args
            reference = (
                request.body.get("uniqueReference") if isinstance(request.body, dict) else None
            )
            payload = _envelope(
                request, status, description, transactionId=0, callerUniqueReference=reference
            )
            return _Reply(400, payload, hold=hold)
        reference = body.get("uniqueReference")
        with self._lock:
            existing = self._by_reference.get(reference) if isinstance(reference, str) else None
            if existing is not None:
                payload = _envelope(
                    request,
                    "UniqueReferenceExists",
                    "The uniqueReference already exists",
                    transactionId=0 if validate_only else existing.transaction_id,
                    callerUniqueReference=reference,
                )
                return _Reply(400, payload, hold=hold)
            if mode == "decline":
                payload = _envelope(
                    request,
                    "InvalidDisbursementItemDirectCreditDetailAccountNumber",
                    "The disbursement account number is invalid (simulated decline)",
                    transactionId=0,
                    callerUniqueReference=reference,
                )
                return _Reply(400, payload, hold=hold)
            transaction = None if validate_only else self._record(body, reference, mode)
        if transaction is not None:
            self._schedule_outcome(transaction)
        fees = _fees(len(body.get("disbursements") or []))
        payload = _envelope(
            request,
            "Ok",
            OK_DESCRIPTION,
            transactionId=transaction.transaction_id if transaction is not None else 0,
            feeAmountExcludingGst=fees["feeAmountExcludingGst"],
            feeAmountGstComponent=fees["feeAmountGstComponent"],
            feeAmountIncludingGst=fees["feeAmountIncludingGst"],
            callerUniqueReference=reference,
            feeBreakdown=fees["feeBreakdown"],
        )
        return _Reply(200, payload, hold=hold)

    def _record(self, body: dict[str, Any], reference: Any, mode: str) -> _Transaction:
        """Store an accepted execute (caller holds the lock)."""
        transaction = _Transaction(
            transaction_id=self._take_transaction_id(),
            unique_reference=reference if isinstance(reference, str) else None,
            body=body,
            received_at=datetime.now(UTC),
            outcome=mode if mode in ("reject", "return") else "ok",
            generation=self._generation,
        )
        self._transactions.append(transaction)
        if transaction.unique_reference is not None:
            self._by_reference[transaction.unique_reference] = transaction
        return transaction

    def _take_transaction_id(self) -> int:
        with self._lock:
            value = self._next_transaction_id
            self._next_transaction_id += 1
            return value

    # ------------------------------------------------------------------ status

    def _status(self, request: _Request, reference: str) -> _Reply:
        mode = self._consume_mode("status")
        if mode in _NOT_PROCESSED_MODES:
            return self._failure(request, mode)
        hold = self.hold_seconds if mode == "timeout" else 0.0
        with self._lock:
            transaction = self._by_reference.get(reference)
            if transaction is None:
                payload = _envelope(
                    request,
                    "TransactionNotFound",
                    "No transaction found for this uniqueReference",
                    uniqueReference=reference,
                )
                return _Reply(404, payload, hold=hold)
            status = transaction.status
            description = _STATUS_DESCRIPTIONS.get(status)
            if status == "Dishonoured":
                description = (
                    f"Transaction was Dishonoured on the {_date(transaction.dishonoured_at)}"
                )
            payload = _envelope(
                request,
                "Ok",
                description or OK_DESCRIPTION,
                completedDate=_date(transaction.completed_at),
                creditCardPaymentStatus=None,
                dishonouredDate=_date(transaction.dishonoured_at),
                expectedClearanceDateForFunds=None,
                fundsClearedDate=None,
                transactionStatus=status,
                uniqueReference=reference,
            )
        return _Reply(200, payload, hold=hold)

    # ------------------------------------------------------------------ outcomes & webhooks

    def _schedule_outcome(self, transaction: _Transaction) -> None:
        threading.Thread(
            target=self._run_outcome, args=(transaction,), name="monoova-outcome", daemon=True
        ).start()

    def _current(self, transaction: _Transaction) -> bool:
        return transaction.generation == self._generation and not transaction.manual

    def _run_outcome(self, transaction: _Transaction) -> None:
        if self._stop_event.wait(self.webhook_delay):
            return
        with self._lock:
            if not self._current(transaction):
                return
            rejected = transaction.outcome == "reject"
            self._apply_state(transaction, "Rejected" if rejected else "Complete")
        self._notify(
            transaction, "NppPaymentStatus", "Rejected" if rejected else _PAYMENT_STATUSES[0]
        )
        if transaction.outcome != "return" or self._stop_event.wait(self.webhook_delay):
            return
        with self._lock:
            if not self._current(transaction):
                return
            self._apply_state(transaction, "Dishonoured")
        self._notify(transaction, "NppReturn", None)

    @staticmethod
    def _apply_state(transaction: _Transaction, status: str) -> None:
        now = datetime.now(UTC)
        transaction.status = status
        if status == "Dishonoured":
            transaction.dishonoured_at = now
            transaction.completed_at = transaction.completed_at or now
        else:
            transaction.completed_at = now

    def _notify(self, transaction: _Transaction, event: str, status: str | None) -> None:
        url = self.webhook_url
        if url:
            self._deliver(url, transaction, event, self._payload(transaction, event, status))

    def _payload(self, transaction: _Transaction, event: str, status: str | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        common: dict[str, Any] = {
            "body": transaction.body,
            "unique_reference": transaction.unique_reference,
            "transaction_id": transaction.transaction_id,
            "transaction_date": transaction.received_at,
        }
        if event == "NppReturn":
            return return_payload(
                returned_at=now, return_transaction_id=self._take_transaction_id(), **common
            )
        return payment_status_payload(
            status=status or _PAYMENT_STATUSES[0],
            decided_at=now,
            rejection_transaction_id=self._take_transaction_id() if status == "Rejected" else None,
            **common,
        )

    def _deliver(
        self, url: str, transaction: _Transaction, event: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        body = dumps(payload).encode("utf-8")
        with self._lock:
            webhook_id = self._next_webhook_id
            self._next_webhook_id += 1
        delivery = {
            "url": url,
            "event": event,
            "webhook_id": webhook_id,
            "unique_reference": transaction.unique_reference,
            "body": body.decode("utf-8"),
            "signature": self._signer.sign(body),
            "generation": transaction.generation,
        }
        errors = self._validator.validate_webhook(event, loads(body))
        if errors:
            # A simulator bug, never a caller's: record it loudly instead of sending.
            return self._record_attempt(
                delivery, 1, None, "webhook body fails the spec: " + "; ".join(errors)
            )
        record = self._attempt(delivery, 1)
        if record["status_code"] != 200:
            threading.Thread(
                target=self._retry, args=(delivery,), name="monoova-webhook-retry", daemon=True
            ).start()
        return record

    def _retry(self, delivery: dict[str, Any]) -> None:
        if not self._stop_event.wait(self.webhook_retry_delay):
            self._attempt(delivery, 2)

    def _attempt(self, delivery: dict[str, Any], attempt: int) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/json",
            "Authorization": self.webhook_token,
            "Webhookid": str(delivery["webhook_id"]),
            "Verification-Signature": delivery["signature"],
        }
        status_code, error = post_webhook(delivery["url"], delivery["body"].encode(), headers)
        return self._record_attempt(delivery, attempt, status_code, error)

    def _record_attempt(
        self, delivery: dict[str, Any], attempt: int, status_code: int | None, error: str | None
    ) -> dict[str, Any]:
        record = {
            key: value for key, value in delivery.items() if key not in ("signature", "generation")
        }
        record.update(
            {
                "attempt": attempt,
                "status_code": status_code,
                "error": error,
                "sent_at": datetime.now(UTC).isoformat(),
                "signature": delivery["signature"],
            }
        )
        with self._lock:
            if delivery["generation"] == self._generation:
                self._deliveries.append(record)
        return dict(record)

    def send_webhook(
        self,
        unique_reference: str,
        event: str = "NppPaymentStatus",
        status: str = "Payment Successful",
    ) -> dict[str, Any]:
        """Send a webhook for a recorded execute now and return the first attempt's record.

        ``event`` is ``NppPaymentStatus`` (``status`` ``Payment Successful`` or ``Rejected``)
        or ``NppReturn`` (``status`` ignored). The transaction's status follows (Complete,
        Rejected or Dishonoured) and its automatic outcome, if still pending, is cancelled.
        Raises ``LookupError`` (unknown reference), ``ValueError`` (bad event/status) or
        ``RuntimeError`` (no webhook URL). A non-200 answer is retried once in the background.
        """
        if event not in _EVENTS:
            raise ValueError(f"event must be one of {list(_EVENTS)}")
        if event == "NppPaymentStatus" and status not in _PAYMENT_STATUSES:
            raise ValueError(f"status must be one of {list(_PAYMENT_STATUSES)}")
        url = self.webhook_url
        with self._lock:
            transaction = self._by_reference.get(unique_reference)
            if transaction is None:
                raise LookupError(f"no execution with uniqueReference {unique_reference!r}")
            if not url:
                raise RuntimeError("no webhook URL is set")
            transaction.manual = True
            if event == "NppReturn":
                self._apply_state(transaction, "Dishonoured")
            else:
                self._apply_state(transaction, "Complete" if status != "Rejected" else "Rejected")
        payload = self._payload(transaction, event, None if event == "NppReturn" else status)
        return self._deliver(url, transaction, event, payload)

    # ------------------------------------------------------------------ admin API

    def _admin(self, request: _Request) -> _Reply:
        routes = {
            ("GET", "mode"): lambda _body: (200, self.mode()),
            ("POST", "mode"): self._admin_set_mode,
            ("POST", "reset"): self._admin_reset,
            ("GET", "requests"): lambda _body: (200, self.requests_log()),
            ("GET", "executions"): lambda _body: (
                200,
                self.executions(next(iter(request.query.get("uniqueReference", [])), None)),
            ),
            ("GET", "deliveries"): lambda _body: (200, self.deliveries()),
            ("POST", "webhooks"): self._admin_send_webhook,
            ("POST", "webhook-url"): self._admin_webhook_url,
        }
        handler = routes.get((request.method, request.route[len(ADMIN_PREFIX) :].strip("/")))
        if handler is None:
            return _Reply(404, {"error": f"no admin route {request.method} {request.route}"})
        try:
            body = loads(request.raw) if request.raw.strip() else {}
            if not isinstance(body, dict):
                raise TypeError("body must be a JSON object")
            status, payload = handler(body)
        except LookupError as exc:
            status, payload = 404, {"error": str(exc)}
        except RuntimeError as exc:
            status, payload = 409, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": str(exc)}
        return _Reply(status, payload)

    def _admin_set_mode(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.set_mode(
            body.get("mode", "ok"), count=body.get("count"), latency_ms=body.get("latency_ms") or 0
        )
        return 200, self.mode()

    def _admin_reset(self, _body: dict[str, Any]) -> tuple[int, Any]:
        self.reset()
        return 200, {"reset": True}

    def _admin_send_webhook(self, body: dict[str, Any]) -> tuple[int, Any]:
        reference = body.get("uniqueReference")
        if not isinstance(reference, str):
            raise ValueError("uniqueReference is required")
        result = self.send_webhook(
            reference,
            event=body.get("event", "NppPaymentStatus"),
            status=body.get("status", "Payment Successful"),
        )
        return 200, result

    def _admin_webhook_url(self, body: dict[str, Any]) -> tuple[int, Any]:
        url = body.get("url")
        if url is not None and not isinstance(url, str):
            raise ValueError("url must be a string or null")
        self.set_webhook_url(url)
        return 200, {"url": url}
