"""An HTTP simulator of the HRMS (DarwinBox) employee API as docs/hrms-api.yml defines it, for
tests and local runs.

* ``GET /employees?updated_since=&page_size=&cursor=``: the employees changed at or after the
  watermark, oldest change first, in pages (:mod:`simulators.hrms.paging`). Every call needs
  HTTP Basic with the API user and password, and ``X-Api-Key`` (else 401
  ``UNAUTHENTICATED``). A query that breaks the contract is 400 ``VALIDATION_FAILED``;
  another path is 404 ``NOT_FOUND``.

Admin routes (no auth, never logged), under ``/_simulator/``: ``GET|POST mode``,
``POST reset`` (the seeded employees again, no log, mode ``ok``), ``GET received`` (the
request log: no Authorization, the API key redacted), ``GET employees`` and
``POST employees`` (``{"employees": [...]}`` or one employee: hire, transfer or exit; fields
not given are kept; each gets a new ``updated_at``; EXITED without a ``date_of_exit`` leaves
today).

Modes (``count`` limits one to that many API requests): ``down`` and ``error_503`` (503
``UNAVAILABLE``; ``error_503`` with ``Retry-After``), ``error_500`` (500 ``INTERNAL_ERROR``),
``rate_limited`` (429 ``RATE_LIMITED`` with ``Retry-After``: ``retry_after`` seconds, 1 unless
given), ``timeout`` (the connection held ``hold_seconds``, then dropped) and ``slow``
(``latency_ms``, 2000 unless given).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from simulators.common.admin import AdminRoutes
from simulators.common.http import ADMIN_PREFIX, HttpSimulator, Reply, Request
from simulators.common.log import DEFAULT_LOG_LIMIT, BoundedLog
from simulators.common.modes import Active, ModeState
from simulators.common.signing import basic_credentials, same_text
from simulators.hrms.directory import Directory
from simulators.hrms.paging import encode_cursor, page_query
from simulators.hrms.shapes import HrmsApiError

__all__ = ["EMPLOYEES", "MODES", "HrmsSimulator"]

MODES = ("ok", "down", "error_503", "error_500", "rate_limited", "timeout", "slow")
EMPLOYEES = "/employees"
API_KEY_HEADER = "X-Api-Key"
REDACTED = "<redacted>"
DEFAULT_SLOW_MS = 2000
DEFAULT_RETRY_AFTER = 1


def _error(status: int, code: str, message: str, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status, HrmsApiError(status, code, message).payload(), headers=headers)


class HrmsSimulator(HttpSimulator):
    """An HRMS employee API simulator on a real localhost HTTP server (daemon thread)."""

    thread_name = "hrms-simulator"
    server_version = "HrmsSimulator/1.0"

    def __init__(
        self,
        api_user: str,
        api_password: str,
        api_key: str,
        *,
        employees: Iterable[Mapping[str, Any]] = (),
        hold_seconds: float = 10.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        log_limit: int = DEFAULT_LOG_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``employees`` in the contract's Employee shape (``updated_at`` optional: now);
        ``now`` stamps every change (and gives an exit's default date)."""
        if not (api_user and api_password and api_key):
            raise ValueError("api_user, api_password and api_key must not be empty")
        super().__init__(host, port)
        self.api_user = api_user
        self._api_password = api_password
        self._api_key = api_key
        self.hold_seconds = hold_seconds
        self._directory = Directory(now)
        self._directory.seed(employees)
        self._modes = ModeState(
            MODES,
            options={"retry_after": DEFAULT_RETRY_AFTER},
            latency_outlives_count=False,
            slow_ms=DEFAULT_SLOW_MS,
        )
        self._requests = BoundedLog(log_limit)
        self._admin_routes = self._declare_admin_routes()

    # ------------------------------------------------------------------ configuration

    def set_mode(
        self,
        mode: str,
        count: int | None = None,
        latency_ms: int = 0,
        retry_after: int | None = None,
    ) -> None:
        """Set the behaviour of following API requests (see the module docstring)."""
        self._modes.set(mode, count=count, latency_ms=latency_ms, retry_after=retry_after)

    def mode(self) -> dict[str, Any]:
        return self._modes.snapshot()

    def reset(self) -> None:
        """The seeded employees again; no log; mode ``ok``."""
        self._directory.reset()
        self._requests.clear()
        self._modes.reset()

    def upsert_employees(self, employees: Iterable[Any]) -> list[dict[str, Any]]:
        """Hire, change or exit employees; each answered as the API now shows it."""
        return self._directory.upsert(employees)

    # ------------------------------------------------------------------ views

    def employees(self) -> list[dict[str, Any]]:
        return self._directory.employees()

    def received(self) -> list[dict[str, Any]]:
        """Every API request received (admin routes excluded), oldest first."""
        return self._requests.entries()

    # ------------------------------------------------------------------ HTTP entry

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        request = Request.parse(method, path, headers, raw)
        if request.route.startswith(ADMIN_PREFIX):
            return self._admin_routes.dispatch(request)
        reply = self._api(request)
        self._requests.append(self._log_entry(request, reply))
        return reply

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, "INTERNAL_ERROR", "the simulator failed")

    def _api(self, request: Request) -> Reply:
        active = self._modes.consume(MODES)
        reply = self._fault(active)
        if reply is None and not self._authenticated(request):
            reply = _error(401, "UNAUTHENTICATED", "missing or wrong credentials")
        if reply is None:
            try:
                reply = Reply(200, self._answer(request))
            except HrmsApiError as exc:
                reply = Reply(exc.status, exc.payload())
            if active.mode == "timeout":
                reply.drop, reply.hold = True, self.hold_seconds
        reply.hold += active.latency_ms / 1000
        return reply

    @staticmethod
    def _fault(active: Active) -> Reply | None:
        retry_after = str(active.options.get("retry_after", DEFAULT_RETRY_AFTER))
        if active.mode == "down":
            return _error(503, "UNAVAILABLE", "the HRMS is unavailable")
        if active.mode == "error_503":
            return _error(503, "UNAVAILABLE", "the HRMS is unavailable", retry_after)
        if active.mode == "error_500":
            return _error(500, "INTERNAL_ERROR", "the HRMS failed")
        if active.mode == "rate_limited":
            return _error(429, "RATE_LIMITED", "over the quota", retry_after)
        return None

    def _authenticated(self, request: Request) -> bool:
        given = basic_credentials(request.authorization)
        key = request.header(API_KEY_HEADER) or ""
        if given is None:
            return False
        checks = (
            same_text(given[0], self.api_user),
            same_text(given[1], self._api_password),
            same_text(key, self._api_key),
        )
        return all(checks)

    def _answer(self, request: Request) -> dict[str, Any]:
        if (request.method, request.route) != ("GET", EMPLOYEES):
            raise HrmsApiError(404, "NOT_FOUND", f"no route {request.method} {request.route}")
        since, after, size = page_query(request)
        items, last = self._directory.changed_since(since, after, size)
        return {
            "employees": items,
            "next_cursor": encode_cursor(since, last) if last is not None else None,
        }

    @staticmethod
    def _log_entry(request: Request, reply: Reply) -> dict[str, Any]:
        error = reply.payload.get("error") if isinstance(reply.payload, dict) else None
        headers = {
            name: (REDACTED if name.lower() == API_KEY_HEADER.lower() else value)
            for name, value in request.headers.items()
        }
        return {
            "received_at": datetime.now(UTC).isoformat(),
            "method": request.method,
            "path": request.path,
            "route": request.route,
            "query": request.query,
            "headers": headers,
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
            mode_options=("retry_after",),
        )
        admin.add("GET", "employees", lambda _r, _b: (200, self.employees()))
        admin.add("POST", "employees", self._admin_upsert)
        return admin

    def _admin_upsert(self, _request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        employees = body.get("employees", [body])
        if not isinstance(employees, list) or not employees:
            raise ValueError('the body is {"employees": [employee, ...]} or one employee')
        return 200, self.upsert_employees(employees)
