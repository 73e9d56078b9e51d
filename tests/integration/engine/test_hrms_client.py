"""The HRMS client against its simulator over HTTP: what each failure becomes (a timeout, our
credentials refused, a bad argument), and one malformed employee left out of its page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.clients.hrms import HrmsClient, HrmsCredentials, HrmsUnavailable
from engine.clients.transport import Answer
from simulators.hrms import HrmsSimulator, demo_employees

USER, PASSWORD, KEY = "client-tests", "client-password", "client-key"
WATERMARK = "2000-01-01T00:00:00Z"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[HrmsSimulator]:
    monkeypatch.setattr("engine.clients.hrms._sleep", lambda _seconds: None)
    with HrmsSimulator(USER, PASSWORD, KEY, employees=demo_employees(), hold_seconds=0.6) as s:
        yield s


def client(sim: HrmsSimulator, password: str = PASSWORD, **options: Any) -> HrmsClient:
    assert sim.base_url
    return HrmsClient(
        sim.base_url,
        lambda: HrmsCredentials(USER, password, KEY),
        timeout_seconds=options.pop("timeout_seconds", 0.3),
        budget_seconds=options.pop("budget_seconds", 2.0),
        backoff=(0.05, 0.05),
    )


def test_a_page_that_never_comes_is_tried_again_then_unavailable(sim: HrmsSimulator) -> None:
    sim.set_mode("timeout", count=1)
    assert len(client(sim).employees_changed_since(WATERMARK).employees) == 11

    sim.set_mode("timeout")
    with pytest.raises(HrmsUnavailable) as down:
        client(sim).employees_changed_since(WATERMARK)
    assert down.value.status is None  # no answer at all
    assert [r["dropped"] for r in sim.received()] == [True, False, True, True, True]


def test_our_credentials_refused_are_unavailable_and_not_retried(sim: HrmsSimulator) -> None:
    with pytest.raises(HrmsUnavailable) as refused:
        client(sim, password="wrong").employees_changed_since(WATERMARK)

    assert refused.value.status == 401
    assert len(sim.received()) == 1
    assert "wrong" not in str(refused.value)


def test_bad_arguments_are_refused_before_any_request(sim: HrmsSimulator) -> None:
    hrms = client(sim)
    for watermark, size in (("yesterday", 10), (WATERMARK, 0), (WATERMARK, 201), (WATERMARK, True)):
        with pytest.raises(ValueError, match=r"watermark|page_size"):
            hrms.employees_changed_since(watermark, None, size)
    assert sim.received() == []


def test_one_malformed_employee_does_not_spoil_its_page(
    sim: HrmsSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HRMS sends one record that breaks the contract (no e-mail, a bad exit date)."""
    hrms = client(sim)
    real = hrms._get

    def tampered(path: str) -> Answer:
        answer = real(path)
        employees = list(answer.body["employees"])
        employees[0] = {k: v for k, v in employees[0].items() if k != "official_email"}
        employees[1] = {**employees[1], "status": "EXITED", "date_of_exit": "31-12-2025"}
        return Answer(answer.status, {**answer.body, "employees": employees}, answer.headers)

    monkeypatch.setattr(hrms, "_get", tampered)
    page = hrms.employees_changed_since(WATERMARK, None, 5)

    assert page.malformed == ("FS1001", "FS1002")
    assert [e.employee_id for e in page.employees] == ["FS1003", "FS1004", "FS1005"]
    leaver = page.employees[2]
    assert (leaver.exited, str(leaver.date_of_exit)) == (True, "2025-12-31")
    assert "@" not in repr(leaver)
