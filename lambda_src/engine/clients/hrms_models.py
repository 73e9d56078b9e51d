"""What crosses the HRMS client (docs/hrms-api.yml): the credentials, and the pages of
employees the HRMS answers, parsed into engine.models.hrms.Employee.

One employee that does not follow the contract does not spoil its page: it is left out and
its id (or "?" when it has none usable) is listed in `EmployeePage.malformed`, so one bad
record at the HRMS cannot stop every leaver after it from losing access. A page that is not
the contract's shape at all raises `Malformed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from engine.clients.lms_models import checked_watermark
from engine.models.hrms import Employee, EmployeeStatus
from shared import clock

__all__ = ["EmployeePage", "HrmsCredentials", "Malformed", "checked_watermark", "parse_page"]

EMPLOYEE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
BRANCH_CODE = re.compile(r"[A-Z0-9]{2,20}")
EMAIL_MAX = 255
DESIGNATION_MAX = 100
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Malformed(ValueError):
    """An HRMS answer that does not follow the contract."""


@dataclass(frozen=True)
class HrmsCredentials:
    api_user: str
    api_password: str = field(repr=False)
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class EmployeePage:
    employees: tuple[Employee, ...]
    next_cursor: str | None
    malformed: tuple[str, ...] = ()  # ids of the employees left out


def _text(raw: dict[str, Any], name: str, pattern: re.Pattern[str], most: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or len(value) > most or not pattern.fullmatch(value):
        raise Malformed(f"{name} is not as the contract says")
    return value


def _date_of_exit(raw: dict[str, Any], status: EmployeeStatus) -> date | None:
    value = raw.get("date_of_exit")
    if value is None:
        if status is EmployeeStatus.EXITED:
            raise Malformed("an EXITED employee has a date_of_exit")
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise Malformed("date_of_exit is not a date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Malformed("date_of_exit is not a real date") from None


def _instant(value: Any) -> datetime:
    """An RFC 3339 date-time with a zone, to the microsecond."""
    try:
        text = checked_watermark(value)
        return clock.parse_iso(re.sub(r"(\.\d{6})\d+", r"\1", text)).astimezone(UTC)
    except ValueError:
        raise Malformed("updated_at is not an RFC 3339 date-time") from None


def parse_employee(raw: Any) -> Employee:
    if not isinstance(raw, dict):
        raise Malformed("an employee is an object")
    status_text = raw.get("status")
    if status_text not in {s.value for s in EmployeeStatus}:
        raise Malformed("status is not ACTIVE or EXITED")
    status = EmployeeStatus(status_text)
    branch = raw.get("branch_code")
    if branch is not None and (not isinstance(branch, str) or not BRANCH_CODE.fullmatch(branch)):
        raise Malformed("branch_code is not as the contract says")
    designation = raw.get("designation")
    if designation is not None and (
        not isinstance(designation, str) or len(designation) > DESIGNATION_MAX
    ):
        raise Malformed("designation is not as the contract says")
    updated_at = _instant(raw.get("updated_at"))
    return Employee(
        employee_id=_text(raw, "employee_id", EMPLOYEE_ID, 32),
        username=_text(raw, "username", USERNAME, 100),
        official_email=_text(raw, "official_email", EMAIL, EMAIL_MAX),
        status=status,
        date_of_exit=_date_of_exit(raw, status),
        branch_code=branch,
        designation=designation,
        updated_at=updated_at,
    )


def parse_page(body: dict[str, Any]) -> EmployeePage:
    items, next_cursor = body.get("employees"), body.get("next_cursor")
    if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
        raise Malformed("the page has no employees or next_cursor")
    employees: list[Employee] = []
    malformed: list[str] = []
    for raw in items:
        try:
            employees.append(parse_employee(raw))
        except Malformed:
            given = raw.get("employee_id") if isinstance(raw, dict) else None
            usable = isinstance(given, str) and EMPLOYEE_ID.fullmatch(given)
            malformed.append(str(given) if usable else "?")
    return EmployeePage(tuple(employees), next_cursor or None, tuple(malformed))
