"""Helpers for the LMS simulator and client tests (real HTTP on localhost).

Each test module declares its own fixtures over :func:`running_simulator`. The simulator runs
on a :class:`FakeClock` for token lifetimes and maintenance windows, so those tests move time
instead of waiting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from engine.clients import lms as lms_module
from engine.clients.lms import LmsClient, LmsCredentials
from simulators.lms import LmsSimulator
from tests.sim_http import call

CLIENT_ID = "engine-tests"
CLIENT_SECRET = "lms-client-secret-for-tests"
HOLD_SECONDS = 0.6  # timeout mode; the client's attempts time out well before it ends
WATERMARK = "2000-01-01T00:00:00Z"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# The demo loans (local/engine_demo/seed.sql) with fixed dates.
SEED_LOANS: list[dict[str, Any]] = [
    {
        "loan_account_number": number,
        "status": status,
        "outstanding_amount": outstanding,
        "emi_amount": emi,
        "next_due_date": due,
        "overdue_amount": overdue,
        "days_past_due": dpd,
    }
    for number, status, outstanding, emi, due, overdue, dpd in [
        ("LN0000000001", "ACTIVE", "1850000.00", "21500.00", "2026-12-15", "0.00", 0),
        ("LN0000000002", "ACTIVE", "612345.50", "18000.00", "2026-10-24", "36000.00", 40),
        ("LN0000000003", "NPA", "430000.00", "12000.00", "2026-08-05", "48000.00", 120),
        ("LN0000000004", "CLOSED", "0.00", "9500.00", None, "0.00", 0),
        ("LN0000000005", "ACTIVE", "975000.00", "11250.00", "2026-12-08", "0.00", 0),
    ]
]


class FakeClock:
    """A monotonic clock that moves only when told to (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def ref(n: int, branch: str = "BR001") -> str:
    return f"{branch}/2026-27/{n:06d}"


def receipt_body(n: int, loan: str = "LN0000000001", amount: str = "2500.00") -> dict[str, Any]:
    return {
        "reference": ref(n),
        "loan_account_number": loan,
        "amount": amount,
        "currency": "INR",
        "received_at": "2026-12-03T10:15:00Z",
        "channel": "PORTAL",
        "payment_mode": "UPI",
        "branch_code": "BR001",
        "external_reference": "pay_aaaaaaaaaaaaaaaaaaaa",
    }


def token_form(secret: str = CLIENT_SECRET, **fields: str) -> bytes:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": secret}
    return urlencode({**form, **fields}).encode()


def new_token(sim: LmsSimulator) -> str:
    code, body = call(sim.base_url, "POST", "/oauth/token", raw=token_form(), headers=FORM)
    assert code == 200, body
    return str(body["access_token"])


def api(
    sim: LmsSimulator, method: str, path: str, body: Any = None, *, token: str, **options: Any
) -> tuple[int, Any]:
    return call(sim.base_url, method, path, body, auth=f"Bearer {token}", **options)


def admin(sim: LmsSimulator, method: str, name: str, body: Any = None) -> tuple[int, Any]:
    return call(sim.base_url, method, f"/_simulator/{name}", body)


def outstanding(sim: LmsSimulator, number: str) -> Decimal:
    loan = sim.loan(number)
    assert loan is not None
    return Decimal(loan["outstanding_amount"])


def sent(sim: LmsSimulator, method: str, route: str) -> list[dict[str, Any]]:
    """The requests the simulator received for one route, oldest first."""
    return [r for r in sim.received() if r["method"] == method and r["route"] == route]


def client_for(sim: LmsSimulator, secret: str = CLIENT_SECRET, **options: Any) -> LmsClient:
    assert sim.base_url
    return LmsClient(
        sim.base_url,
        lambda: LmsCredentials(CLIENT_ID, secret),
        timeout_seconds=options.pop("timeout_seconds", 0.3),
        budget_seconds=options.pop("budget_seconds", 3.0),
        backoff=options.pop("backoff", (0.05, 0.05)),
        **options,
    )


def running_simulator(clock: FakeClock, **options: Any) -> Iterator[LmsSimulator]:
    """For a test module's fixture: the seeded simulator on ``clock``, stopped afterwards."""
    options.setdefault("loans", SEED_LOANS)
    options.setdefault("hold_seconds", HOLD_SECONDS)
    simulator = LmsSimulator(CLIENT_ID, CLIENT_SECRET, clock=clock, **options)
    with simulator:
        yield simulator


def record_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's backoff pauses, recorded instead of slept."""
    pauses: list[float] = []
    monkeypatch.setattr(lms_module, "_sleep", pauses.append)
    return pauses
