"""An HTTP simulator of the lender's LMS API (FinnOne behind MuleSoft) as docs/lms-api.yml
defines it, for tests and local runs.

* ``POST /oauth/token`` (form-encoded client credentials) issues a token lasting
  ``token_seconds``; every ``/api`` call needs a valid, unexpired one (else 401
  ``INVALID_TOKEN``).
* ``POST /api/v1/receipts`` (idempotent on ``reference``: 201, then 200 with the same receipt;
  409 ``REFERENCE_CONFLICT`` for another loan, amount or purpose; 422 ``LOAN_NOT_FOUND`` or
  ``LOAN_CLOSED`` for a CLOSED or FORECLOSED loan; only an ``EMI`` receipt changes the loan,
  a fee or challan is recorded beside it), ``GET /api/v1/receipts?reference=``,
  ``POST /api/v1/receipts/{id}/cancellation``, ``GET /api/v1/loans/{number}`` and
  ``GET /api/v1/loans?changed_since=&cursor=&limit=``. The routes: :mod:`simulators.lms.routes`;
  the books: :mod:`simulators.lms.book`.
  A body or query that breaks the contract is 400 ``VALIDATION_FAILED``.

Admin routes (no auth, never logged), under ``/_simulator/``: ``GET|POST mode``,
``POST reset`` (back to the seeded loans; no receipts, refusals or log; tokens stay),
``GET received`` (the request log without Authorization, the token request's secret
redacted, no answers' bodies), ``GET loans``, ``POST loans {"loans": [...]}`` (create or change,
fields not given are kept; each gets a new ``updated_at``), ``GET receipts``,
``POST refuse {"code", "reference"?, "loan_account_number"?}`` (first posts matching it are
refused 422 with that code until a reset) and ``POST expire-tokens``.

Modes (``count`` limits one to that many requests it affects): ``down`` and ``error_503``
(503 ``UNAVAILABLE``, nothing done) and ``maintenance`` (503 ``MAINTENANCE`` with
``Retry-After`` for ``seconds``, default 60, from when it is set, whatever the count) affect
``/oauth`` and ``/api``; ``error_500`` (500 ``INTERNAL_ERROR``, nothing done), ``timeout``
(done, then the connection held ``hold_seconds`` and dropped), ``lost_answer`` (done, then
dropped at once) and ``slow`` (``latency_ms``, 2000 unless given) affect ``/api``;
``duplicate_reference`` makes a first post of a reference answer 200, as if it were a repeat
(it is applied).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from simulators.common.admin import AdminRoutes
from simulators.common.http import ADMIN_PREFIX, HttpSimulator, Reply, Request
from simulators.common.log import DEFAULT_LOG_LIMIT, BoundedLog
from simulators.common.modes import Active, ModeState
from simulators.lms import auth
from simulators.lms.book import Book
from simulators.lms.routes import RECEIPTS, ApiRoutes
from simulators.lms.shapes import LmsApiError

__all__ = ["MODES", "LmsSimulator"]

MODES = (
    "ok",
    "down",
    "error_503",
    "error_500",
    "timeout",
    "lost_answer",
    "slow",
    "maintenance",
    "duplicate_reference",
)
_OUTAGE_MODES = frozenset({"down", "error_503", "maintenance"})
_API_MODES = _OUTAGE_MODES | {"error_500", "timeout", "lost_answer", "slow"}
_POST_MODES = _API_MODES | {"duplicate_reference"}
OAUTH_PATH = "/oauth/token"
DEFAULT_SLOW_MS = 2000
DEFAULT_MAINTENANCE_SECONDS = 60


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, LmsApiError(status, code, message).payload())


class LmsSimulator(HttpSimulator):
    """An LMS API simulator on a real localhost HTTP server (daemon thread)."""

    thread_name = "lms-simulator"
    server_version = "LmsSimulator/1.0"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        loans: Iterable[Mapping[str, Any]] = (),
        token_seconds: int = 3600,
        hold_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        log_limit: int = DEFAULT_LOG_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``loans`` in the contract's Loan shape (amounts as "0.00" strings or Decimal;
        ``updated_at`` and ``recent_receipt_references`` optional). ``clock`` measures token
        lifetimes and the maintenance window; ``now`` stamps receipts and loans."""
        if not (client_id and client_secret):
            raise ValueError("client_id and client_secret must not be empty")
        super().__init__(host, port)
        self.client_id = client_id
        self._client_secret = client_secret
        self.hold_seconds = hold_seconds
        self._clock = clock
        self._tokens = auth.TokenStore(token_seconds, clock)
        self._book = Book(now)
        self._book.seed(loans)
        self._modes = ModeState(
            MODES,
            options={"seconds": DEFAULT_MAINTENANCE_SECONDS},
            latency_outlives_count=False,
            slow_ms=DEFAULT_SLOW_MS,
        )
        self._maintenance_until: float | None = None
        self._lock = threading.Lock()
        self._requests = BoundedLog(log_limit)
        self._routes = ApiRoutes(self._book)
        self._admin_routes = self._declare_admin_routes()

    # ------------------------------------------------------------------ configuration

    def set_mode(
        self, mode: str, count: int | None = None, latency_ms: int = 0, seconds: int | None = None
    ) -> None:
        """Set the behaviour of following requests (see the module docstring)."""
        if mode == "maintenance":
            count = None  # a window of time, not of requests
        with self._lock:
            self._modes.set(mode, count=count, latency_ms=latency_ms, seconds=seconds)
            window = self._modes.snapshot()["seconds"]
            self._maintenance_until = self._clock() + window if mode == "maintenance" else None

    def mode(self) -> dict[str, Any]:
        return self._modes.snapshot()

    def reset(self) -> None:
        """The seeded loans again; no receipts, refusals or log; mode ``ok``. Tokens stay."""
        self._book.reset()
        self._requests.clear()
        with self._lock:
            self._modes.reset()
            self._maintenance_until = None

    def upsert_loans(self, loans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._book.upsert(loans)

    def refuse(
        self, code: str, *, reference: str | None = None, loan_account_number: str | None = None
    ) -> list[dict[str, Any]]:
        self._book.refuse(code, reference, loan_account_number)
        return self._book.refusals()

    def expire_tokens(self) -> int:
        """Make every token issued so far invalid; the number that were."""
        return self._tokens.expire_all()

    # ------------------------------------------------------------------ views

    def loans(self) -> list[dict[str, Any]]:
        return self._book.loans()

    def loan(self, number: str) -> dict[str, Any] | None:
        try:
            return self._book.loan(number)
        except LmsApiError:
            return None

    def receipts(self) -> list[dict[str, Any]]:
        return self._book.receipts()

    @property
    def tokens_issued(self) -> int:
        return self._tokens.issued

    def received(self) -> list[dict[str, Any]]:
        """Every ``/oauth`` and ``/api`` request received (admin routes excluded), oldest first."""
        return self._requests.entries()

    # ------------------------------------------------------------------ HTTP entry

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        request = Request.parse(method, path, headers, raw)
        if request.route.startswith(ADMIN_PREFIX):
            return self._admin_routes.dispatch(request)
        if request.route == OAUTH_PATH:
            reply, body = self._oauth(request), auth.logged_form(request)
        else:
            reply = self._api(request)
            body = request.logged_body()
        self._requests.append(self._log_entry(request, body, reply))
        return reply

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, "INTERNAL_ERROR", "the simulator failed")

    def _outage(self, active: Active) -> Reply | None:
        if active.mode in ("down", "error_503"):
            return _error(503, "UNAVAILABLE", "the LMS is unavailable")
        if active.mode != "maintenance":
            return None
        with self._lock:
            until = self._maintenance_until
            left = (until - self._clock()) if until is not None else 0.0
            if left <= 0 and self._modes.snapshot()["mode"] == "maintenance":
                self._modes.set("ok", latency_ms=self._modes.latency_ms)
                self._maintenance_until = None
        if left <= 0:
            return None
        reply = _error(503, "MAINTENANCE", "the LMS is in a maintenance window")
        reply.headers["Retry-After"] = str(max(1, math.ceil(left)))
        return reply

    def _oauth(self, request: Request) -> Reply:
        if request.method != "POST":
            return _error(405, "VALIDATION_FAILED", "POST the token request")
        outage = self._outage(self._modes.consume(_OUTAGE_MODES))
        if outage is not None:
            return outage
        try:
            auth.client_of(request, self.client_id, self._client_secret)
        except LmsApiError as exc:
            return Reply(exc.status, exc.payload())
        return Reply(200, self._tokens.issue(), headers={"Cache-Control": "no-store"})

    def _api(self, request: Request) -> Reply:
        posting = request.method == "POST" and request.route == RECEIPTS
        active = self._modes.consume(_POST_MODES if posting else _API_MODES)
        reply = self._outage(active)
        if reply is None and active.mode == "error_500":
            reply = _error(500, "INTERNAL_ERROR", "the LMS failed")
        if reply is None and not self._tokens.valid(request.authorization):
            reply = _error(401, "INVALID_TOKEN", "missing, unknown or expired token")
        if reply is None:
            try:
                reply = Reply(*self._routes.answer(request, active))
            except LmsApiError as exc:
                reply = Reply(exc.status, exc.payload())
            if active.mode in ("timeout", "lost_answer"):  # done, and the answer never goes
                reply.drop = True
                reply.hold = self.hold_seconds if active.mode == "timeout" else 0.0
        reply.hold += active.latency_ms / 1000
        return reply

    @staticmethod
    def _log_entry(request: Request, body: Any, reply: Reply) -> dict[str, Any]:
        error = reply.payload.get("error") if isinstance(reply.payload, dict) else None
        return {
            "received_at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "route": request.route,
            "query": request.query,
            "headers": request.headers,
            "body": body,
            "response_status": reply.status,
            "error_code": error.get("code") if isinstance(error, dict) else None,
            "held_seconds": reply.hold,
            "dropped": reply.drop,
        }

    # ------------------------------------------------------------------ admin routes

    def _declare_admin_routes(self) -> AdminRoutes:
        admin = AdminRoutes()
        admin.add_standard(
            mode=self.mode,
            set_mode=self.set_mode,
            reset=self.reset,
            received=self.received,
            mode_options=("seconds",),
        )
        admin.add("GET", "loans", lambda _r, _b: (200, self.loans()))
        admin.add("POST", "loans", self._admin_upsert)
        admin.add("GET", "receipts", lambda _r, _b: (200, self.receipts()))
        admin.add("POST", "refuse", self._admin_refuse)
        admin.add("POST", "expire-tokens", lambda _r, _b: (200, {"expired": self.expire_tokens()}))
        return admin

    def _admin_upsert(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        loans = body.get("loans")
        if not isinstance(loans, list) or not loans:
            raise ValueError('the body is {"loans": [loan, ...]}')
        return 200, self.upsert_loans(loans)

    def _admin_refuse(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        refusals = self.refuse(
            str(body.get("code") or ""),  # checked by the book
            reference=body.get("reference"),
            loan_account_number=body.get("loan_account_number"),
        )
        return 200, {"refusals": refusals}
