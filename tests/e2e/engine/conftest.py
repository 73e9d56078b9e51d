"""The engine through the local runner: `python -m local` as `make local` starts it, driven over
HTTP only (the portal API, the runner's /_local routes, the RazorPay simulator's admin API).

One runner per module. A customer's session is opened once per loan and module (the OTP
limits count per loan+mobile pair, as they must), and every test uses fresh Idempotency-Keys
and measures outstanding balances as deltas, so tests do not depend on one another.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import FAST_ARGS, Response, RunnerProcess, http, wait_for

SETTLE = 20.0  # seconds for a webhook, the stream sync or a late capture to land
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ERROR_KEYS = {"code", "message", "details", "timestamp", "traceId"}
ACTIVE = "LN0000000001"
OVERDUE = "LN0000000002"
NPA = "LN0000000003"
CLOSED = "LN0000000004"
SECOND = "LN0000000005"


def new_key() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def assert_engine_error(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The engine's error shape, ending in a newline."""
    assert response.status == status, response
    assert (response.header("Content-Type") or "").startswith("application/json"), response
    assert response.raw.endswith(b"\n"), response
    body = response.body
    assert isinstance(body, dict) and set(body) == {"error"}, response
    error = body["error"]
    assert set(error) == ERROR_KEYS, response
    assert isinstance(error["details"], list) and error["message"], response
    assert ISO.match(error["timestamp"]) and error["traceId"], response
    if code is not None:
        assert error["code"] == code, response
    return dict(error)


@dataclass
class Session:
    loan: str
    mobile: str
    token: str


@dataclass
class Engine:
    """The runner's engine side, as a client sees it."""

    endpoints: dict[str, str]
    demo: dict[str, Any]
    _sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def main(self) -> str:
        return self.endpoints["payouts"]

    @property
    def portal(self) -> str:
        return self.endpoints["portal"]

    @property
    def razorpay(self) -> str:
        return self.endpoints["razorpay"]

    @property
    def api_key(self) -> str:
        return str(self.demo["portal_api_key"])

    def mobile_of(self, loan: str) -> str:
        return str(
            next(x["mobile_number"] for x in self.demo["loans"] if x["loan_account_number"] == loan)
        )

    # the portal ------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        session: Session | str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        api_key: bool = True,
    ) -> Response:
        sent = {"Content-Type": "application/json"} if body is not None or raw else {}
        if api_key:
            sent["x-api-key"] = self.api_key
        if session is not None:
            sent["X-Session-Token"] = session if isinstance(session, str) else session.token
        sent |= headers or {}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        return http(method, self.portal + path, data=data, headers=sent)

    def validate(self, loan: str, mobile: str) -> Response:
        body = {"loan_account_number": loan, "mobile_number": mobile}
        return self.call("POST", "/api/v1/customer/validate-loan", body)

    def latest_otp(self, mobile: str, after: set[str]) -> str:
        """The OTP of the newest SMS to `mobile` that is not in `after` (ids seen before)."""

        def arrived() -> str | None:
            for sms in self.sms(mobile):
                if sms["id"] not in after:
                    found = re.search(r"\b(\d{6})\b", sms["text"])
                    return found.group(1) if found else None
            return None

        return str(wait_for(arrived, 10, what=f"an OTP SMS to {mobile}"))

    def sms(self, mobile: str) -> list[dict[str, str]]:
        response = http("GET", f"{self.main}/_local/sms?to={mobile[-10:]}")
        assert response.status == 200, response
        return list(response.body)

    def open_session(self, loan: str) -> Session:
        mobile = self.mobile_of(loan)
        seen = {m["id"] for m in self.sms(mobile)}
        challenge = self.validate(loan, mobile)
        assert challenge.status == 200, challenge
        otp = self.latest_otp(mobile, seen)
        body = {"challenge_id": challenge.body["challenge_id"], "otp": otp}
        opened = self.call("POST", "/api/v1/customer/sessions", body)
        assert opened.status == 201, opened
        return Session(loan, mobile, str(opened.body["session_token"]))

    def session(self, loan: str) -> Session:
        """One session per loan for the module (opening one sends an SMS, which is limited)."""
        if loan not in self._sessions:
            self._sessions[loan] = self.open_session(loan)
        return self._sessions[loan]

    def loan(self, session: Session) -> dict[str, Any]:
        response = self.call("GET", f"/api/v1/customer/loans/{session.loan}", session=session)
        assert response.status == 200, response
        return dict(response.body)

    def outstanding(self, session: Session) -> Decimal:
        return Decimal(self.loan(session)["outstanding"])

    def create(self, session: Session, amount: str, key: str | None = None) -> Response:
        body = {"loan_account_number": session.loan, "amount": amount}
        headers = {"Idempotency-Key": key or new_key()}
        return self.call(
            "POST", "/api/v1/customer/payments", body, session=session, headers=headers
        )

    def created(self, session: Session, amount: str) -> dict[str, Any]:
        response = self.create(session, amount)
        assert response.status == 201, response
        return dict(response.body)

    def notify(self, session: Session, payment_id: str, paid: dict[str, Any]) -> Response:
        body = {"payment_id": payment_id, **paid}
        return self.call("POST", "/api/v1/customer/payment-notification", body, session=session)

    def payment(self, session: Session, payment_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/api/v1/customer/payments/{payment_id}", session=session)
        assert response.status == 200, response
        return dict(response.body)

    def wait_payment(self, session: Session, payment_id: str, status: str) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def reached() -> dict[str, Any] | None:
            seen.append(self.payment(session, payment_id))
            return seen[-1] if seen[-1]["status"] == status else None

        return dict(
            wait_for(reached, SETTLE, what=lambda: f"{payment_id} {status}; seen {seen[-1:]}")
        )

    def wait_outstanding(self, session: Session, expected: Decimal) -> None:
        seen: list[Decimal] = []

        def reached() -> bool:
            seen.append(self.outstanding(session))
            return seen[-1] == expected

        wait_for(reached, SETTLE, 0.2, what=lambda: f"outstanding {expected}; seen {seen[-1:]}")

    # the RazorPay simulator -----------------------------------------------------------------
    def sim(self, method: str, path: str, body: Any = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        return http(
            method, self.razorpay + path, data=data, headers={"Content-Type": "application/json"}
        )

    def mode(self, mode: str, **options: Any) -> None:
        response = self.sim("POST", "/_simulator/mode", {"mode": mode, **options})
        assert response.status == 200, response

    def checkout(self, order_id: str, outcome: str | None = None) -> dict[str, Any]:
        body = {"order_id": order_id, **({"outcome": outcome} if outcome else {})}
        response = self.sim("POST", "/_simulator/checkout", body)
        assert response.status == 200, response
        return dict(response.body)

    def orders_posted(self, receipt: str) -> list[dict[str, Any]]:
        response = self.sim("GET", "/_simulator/received")
        assert response.status == 200, response
        return [
            r
            for r in response.body
            if r["method"] == "POST"
            and r["path"].startswith("/v1/orders")
            and isinstance(r.get("body"), dict)
            and r["body"].get("receipt") == receipt
        ]


def start_engine_runner(
    *extra: str, env: dict[str, str] | None = None
) -> tuple[RunnerProcess, Engine]:
    process = RunnerProcess(*FAST_ARGS, *extra, env=env)
    main = process.client.base
    endpoints = http("GET", f"{main}/_local/endpoints").body
    demo = http("GET", f"{main}/_local/demo").body
    return process, Engine(dict(endpoints), dict(demo))


@pytest.fixture(scope="module")
def engine_runner() -> Iterator[tuple[RunnerProcess, Engine]]:
    process, engine = start_engine_runner()
    try:
        yield process, engine
    finally:
        process.stop()


@pytest.fixture
def engine(engine_runner: tuple[RunnerProcess, Engine]) -> Engine:
    """The module's runner, with RazorPay's simulator back in mode ok."""
    runner = engine_runner[1]
    runner.mode("ok")
    return runner
