"""The HRMS contract's shapes (docs/hrms-api.yml): its errors, its Employee, and the checks of
what the admin routes are given (ValueError, which the admin dispatcher answers 400).

Timestamps are RFC 3339 UTC with microseconds, so they sort as they compare: the convention
every simulator of ours shares (:mod:`simulators.common.timestamps`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from simulators.common.timestamps import parse_date, parse_timestamp, stamp

__all__ = [
    "STATUSES",
    "Employee",
    "HrmsApiError",
    "invalid",
    "merged_employee",
    "parse_timestamp",
    "stamp",
]

EMPLOYEE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
BRANCH_CODE = re.compile(r"[A-Z0-9]{2,20}")
STATUSES = frozenset({"ACTIVE", "EXITED"})
EMAIL_MAX = 255
DESIGNATION_MAX = 100
_FIELDS = frozenset(
    {
        "employee_id",
        "username",
        "official_email",
        "status",
        "date_of_exit",
        "branch_code",
        "designation",
        "updated_at",
    }
)


class HrmsApiError(Exception):
    """An error answer: ``{"error": {"code", "message"}}`` with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(message: str) -> HrmsApiError:
    return HrmsApiError(400, "VALIDATION_FAILED", message)


@dataclass
class Employee:
    employee_id: str
    username: str
    official_email: str
    status: str = "ACTIVE"
    date_of_exit: date | None = None
    branch_code: str | None = None
    designation: str | None = None
    updated_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        """The contract's Employee."""
        assert self.updated_at is not None
        return {
            "employee_id": self.employee_id,
            "username": self.username,
            "official_email": self.official_email,
            "status": self.status,
            "date_of_exit": self.date_of_exit.isoformat() if self.date_of_exit else None,
            "branch_code": self.branch_code,
            "designation": self.designation,
            "updated_at": stamp(self.updated_at),
        }

    def key(self) -> tuple[datetime, str]:
        assert self.updated_at is not None
        return (self.updated_at, self.employee_id)


def _text(fields: Mapping[str, Any], name: str, pattern: re.Pattern[str], most: int) -> str:
    value = fields[name]
    if not isinstance(value, str) or len(value) > most or not pattern.fullmatch(value):
        raise ValueError(f"{name} must match {pattern.pattern}")
    return value


def merged_employee(fields: Any, current: Employee | None, today: date) -> Employee:
    """An employee from contract-shaped ``fields`` over ``current`` (fields not given are
    kept); a new one needs employee_id, username and official_email. EXITED without a
    date_of_exit leaves ``today``; ACTIVE clears it. ``updated_at`` is the caller's to set."""
    if not isinstance(fields, Mapping):
        raise TypeError("an employee is a JSON object")
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown employee fields: {', '.join(unknown)}")
    if current is None:
        missing = sorted({"employee_id", "username", "official_email"} - set(fields))
        if missing:
            raise ValueError(f"a new employee needs {', '.join(missing)}")
        employee = Employee(
            _text(fields, "employee_id", EMPLOYEE_ID, 32),
            _text(fields, "username", USERNAME, 100),
            _text(fields, "official_email", EMAIL, EMAIL_MAX),
        )
    else:
        employee = replace(current)
        if "username" in fields:
            employee.username = _text(fields, "username", USERNAME, 100)
        if "official_email" in fields:
            employee.official_email = _text(fields, "official_email", EMAIL, EMAIL_MAX)
    return _with_status_and_place(employee, fields, today)


def _with_status_and_place(employee: Employee, fields: Mapping[str, Any], today: date) -> Employee:
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise ValueError(f"status must be one of {sorted(STATUSES)}")
        employee.status = fields["status"]
    if "date_of_exit" in fields:
        employee.date_of_exit = parse_date(fields["date_of_exit"], "date_of_exit")
    if employee.status == "ACTIVE":
        employee.date_of_exit = None
    elif employee.date_of_exit is None:
        employee.date_of_exit = today
    if "branch_code" in fields:
        code = fields["branch_code"]
        if code is not None and (not isinstance(code, str) or not BRANCH_CODE.fullmatch(code)):
            raise ValueError(f"branch_code must match {BRANCH_CODE.pattern} or be null")
        employee.branch_code = code
    if "designation" in fields:
        title = fields["designation"]
        if title is not None and (not isinstance(title, str) or len(title) > DESIGNATION_MAX):
            raise ValueError(f"designation must be text of at most {DESIGNATION_MAX} or null")
        employee.designation = title
    return employee
