"""An HTTP simulator of the Monoova Payments API (NPP payouts), for tests and local runs.

It listens on localhost and speaks Monoova's published contract (Payments API spec v5.29):

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
``POST /_simulator/reset``, ``GET /_simulator/requests`` (and its alias
``GET /_simulator/received``, the name every simulator has), ``GET /_simulator/executions``
(optional ``?uniqueReference=``), ``GET /_simulator/deliveries``,
``POST /_simulator/webhooks`` and ``POST /_simulator/webhook-url``. The request log and the
delivery log keep the newest 10,000 entries.

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

import copy
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from simulators.common.admin import AdminRoutes
from simulators.common.http import ADMIN_PREFIX, HttpSimulator, Reply, Request
from simulators.common.jsonutil import dumps, loads
from simulators.common.log import BoundedLog
from simulators.common.modes import ModeState
from simulators.common.signing import basic_credentials, same_text
from simulators.common.webhooks import Outgoing, RetryPolicy, WebhookSender
from simulators.monoova.spec import SpecValidator
from simulators.monoova.webhooks import WebhookSigner, payment_status_payload, return_payload

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
_ANY_REQUEST_MODES = frozenset(MODES) - _EXECUTE_ONLY_MODES
_NOT_PROCESSED_MODES = frozenset({"error_5xx", "unavailable", "hang", "unauthorized"})
_PAYMENT_STATUSES = ("Payment Successful", "Rejected")
_EVENTS = ("NppPaymentStatus", "NppReturn")

EXECUTE_PATH = "/financial/v2/transaction/execute"
VALIDATE_PATH = "/financial/v2/transaction/validate"
STATUS_PREFIX = "/financial/v2/status/"
PUBLIC_KEY_PATH = "/public/v1/certificate/public-key"

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
class _Request(Request):
    validation_errors: list[str] = field(default_factory=list)


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


class MonoovaSimulator(HttpSimulator):
    """A Monoova Payments API simulator on a real localhost HTTP server (daemon thread)."""

    thread_name = "monoova-simulator"
    server_version = "MonoovaSimulator/1.0"

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
        super().__init__(host, port)
        self.api_key = api_key
        self.webhook_token = webhook_token
        self.webhook_delay = webhook_delay
        self.hold_seconds = hold_seconds
        self._webhook_url = webhook_url
        self._validator = SpecValidator(strict=strict)
        self._signer = WebhookSigner()
        self._lock = threading.RLock()
        self._modes = ModeState(MODES)
        self._sender = WebhookSender(_retry_once(webhook_retry_delay), self.stopped, name="monoova")
        self._admin_routes = self._declare_admin_routes()
        self._next_transaction_id = 1000
        self._next_webhook_id = 1
        self._generation = 0
        self._clear_state()

    # ------------------------------------------------------------------ lifecycle

    def _clear_state(self) -> None:
        self._transactions: list[_Transaction] = []
        self._by_reference: dict[str, _Transaction] = {}
        self._requests = BoundedLog(LOG_LIMIT)  # read here so a test may lower it
        self._sender.reset()
        self._modes.reset()

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

    @property
    def webhook_retry_delay(self) -> float:
        """Seconds before the one retry of a webhook that was not answered 200 (Monoova: 30)."""
        return self._sender.policy.delays[0]

    @webhook_retry_delay.setter
    def webhook_retry_delay(self, seconds: float) -> None:
        self._sender.policy = _retry_once(seconds)

    # ------------------------------------------------------------------ control

    def set_mode(self, mode: str, count: int | None = None, latency_ms: int = 0) -> None:
        """Set the behaviour of following requests (see the module docstring)."""
        self._modes.set(mode, count=count, latency_ms=latency_ms)

    def mode(self) -> dict[str, Any]:
        return self._modes.snapshot()

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
        """Every Monoova API request received (admin routes excluded), oldest first."""
        return self._requests.entries()

    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt, oldest first."""
        return self._sender.records()

    def _consume_mode(self, kind: str) -> str:
        applies = MODES if kind == "execute" else _ANY_REQUEST_MODES
        return self._modes.consume(applies).mode

    # ------------------------------------------------------------------ HTTP entry

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        request = _Request.parse(method, path, headers, raw)
        if request.route.startswith(ADMIN_PREFIX):
            return self._admin_routes.dispatch(request)
        if request.route == PUBLIC_KEY_PATH and method == "GET":
            reply = Reply(200, self.public_key_hex)
        elif request.route.startswith("/financial/"):
            reply = self._financial(request)
        else:
            reply = Reply(404, _envelope(request, "NotFound", f"No route for {request.route}"))
        latency = self._modes.latency_ms / 1000
        self._requests.append(self._log_entry(request, reply))
        reply.hold += latency
        return reply

    def crash_reply(self, exc: Exception) -> Reply:
        return Reply(500, {"status": "Exception", "statusDescription": repr(exc)})

    @staticmethod
    def _log_entry(request: _Request, reply: Reply) -> dict[str, Any]:
        payload = reply.payload
        return {
            "received_at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": request.logged_body(),
            "validation_errors": list(request.validation_errors),
            "response_status": reply.status,
            "monoova_status": payload.get("status") if isinstance(payload, dict) else None,
            "held_seconds": reply.hold,
        }

    def _authorised(self, request: _Request) -> bool:
        credentials = basic_credentials(request.authorization)
        if credentials is None:
            return False
        username, password = credentials
        return same_text(username, self.api_key) and password == ""

    @staticmethod
    def _unauthorised(request: _Request) -> Reply:
        return Reply(
            401,
            _envelope(request, "Unauthorized", "Authorization has been denied for this request."),
            headers={"WWW-Authenticate": 'Basic realm="Monoova"'},
        )

    def _financial(self, request: _Request) -> Reply:
        if not self._authorised(request):
            return self._unauthorised(request)
        route, method = request.route, request.method
        if route in (EXECUTE_PATH, VALIDATE_PATH):
            if method != "POST":
                return Reply(405, _envelope(request, "MethodNotAllowed", "Use POST"))
            return self._transaction(request, validate_only=route == VALIDATE_PATH)
        suffix = route[len(STATUS_PREFIX) :] if route.startswith(STATUS_PREFIX) else ""
        if suffix and "/" not in suffix:
            if method != "GET":
                return Reply(405, _envelope(request, "MethodNotAllowed", "Use GET"))
            return self._status(request, unquote(suffix))
        return Reply(404, _envelope(request, "NotFound", f"No route for {route}"))

    def _failure(self, request: _Request, mode: str) -> Reply:
        if mode == "unauthorized":
            return self._unauthorised(request)
        if mode == "error_5xx":
            return Reply(500, _envelope(request, "Exception", "Internal Server Error (simulated)"))
        if mode == "unavailable":
            return Reply(
                503, _envelope(request, "ServiceUnavailable", "Service Unavailable (simulated)")
            )
        return Reply(
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

    def _transaction(self, request: _Request, validate_only: bool) -> Reply:
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
            return Reply(400, payload, hold=hold)
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
                return Reply(400, payload, hold=hold)
            if mode == "decline":
                payload = _envelope(
                    request,
                    "InvalidDisbursementItemDirectCreditDetailAccountNumber",
                    "The disbursement account number is invalid (simulated decline)",
                    transactionId=0,
                    callerUniqueReference=reference,
                )
                return Reply(400, payload, hold=hold)
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
        return Reply(200, payload, hold=hold)

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

    def _status(self, request: _Request, reference: str) -> Reply:
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
                return Reply(404, payload, hold=hold)
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
        return Reply(200, payload, hold=hold)

    # ------------------------------------------------------------------ outcomes & webhooks

    def _schedule_outcome(self, transaction: _Transaction) -> None:
        threading.Thread(
            target=self._run_outcome, args=(transaction,), name="monoova-outcome", daemon=True
        ).start()

    def _current(self, transaction: _Transaction) -> bool:
        return transaction.generation == self._generation and not transaction.manual

    def _run_outcome(self, transaction: _Transaction) -> None:
        if self.stopped.wait(self.webhook_delay):
            return
        with self._lock:
            if not self._current(transaction):
                return
            rejected = transaction.outcome == "reject"
            self._apply_state(transaction, "Rejected" if rejected else "Complete")
        self._notify(
            transaction, "NppPaymentStatus", "Rejected" if rejected else _PAYMENT_STATUSES[0]
        )
        if transaction.outcome != "return" or self.stopped.wait(self.webhook_delay):
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
        signature = self._signer.sign(body)
        info = {
            "event": event,
            "webhook_id": webhook_id,
            "unique_reference": transaction.unique_reference,
            "signature": signature,
        }
        headers = {
            "Content-Type": "application/json",
            "Authorization": self.webhook_token,
            "Webhookid": str(webhook_id),
            "Verification-Signature": signature,
        }
        item = Outgoing(url, body, headers, info)
        errors = self._validator.validate_webhook(event, loads(body))
        if errors:
            # A simulator bug, never a caller's: record it loudly instead of sending.
            return self._sender.record_unsent(
                item, "webhook body fails the spec: " + "; ".join(errors)
            )
        return self._sender.deliver(item)

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

    def _declare_admin_routes(self) -> AdminRoutes:
        admin = AdminRoutes()
        admin.add_standard(
            mode=self.mode, set_mode=self.set_mode, reset=self.reset, received=self.requests_log
        )
        admin.add_webhook_url(self.set_webhook_url)
        admin.add("GET", "requests", lambda _request, _body: (200, self.requests_log()))
        admin.add(
            "GET",
            "executions",
            lambda request, _body: (200, self.executions(request.query_value("uniqueReference"))),
        )
        admin.add("GET", "deliveries", lambda _request, _body: (200, self.deliveries()))
        admin.add("POST", "webhooks", self._admin_send_webhook)
        return admin

    def _admin_send_webhook(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        reference = body.get("uniqueReference")
        if not isinstance(reference, str):
            raise ValueError("uniqueReference is required")
        result = self.send_webhook(
            reference,
            event=body.get("event", "NppPaymentStatus"),
            status=body.get("status", "Payment Successful"),
        )
        return 200, result


def _retry_once(seconds: float) -> RetryPolicy:
    """Monoova retries a webhook not answered 200 once, with the same Webhookid and body."""
    return RetryPolicy((seconds,), accept=lambda status_code: status_code == 200)
