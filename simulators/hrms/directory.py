"""The HRMS's employees, as the simulator keeps them (thread-safe, one lock).

Every change of an employee (a hire, a transfer, an exit) gives it a new ``updated_at``, later
than any given before (two changes in one microsecond are a microsecond apart): paging by
``(updated_at, employee_id)`` relies on it. A reset goes back to the seeded employees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from simulators.hrms.shapes import Employee, merged_employee, parse_timestamp

__all__ = ["Directory", "PageKey"]

PageKey = tuple[datetime, str]


class Directory:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._seeds: list[Employee] = []
        self._employees: dict[str, Employee] = {}
        self._last_stamp: datetime | None = None

    def seed(self, employees: Iterable[Mapping[str, Any]]) -> None:
        """The employees a reset goes back to; each keeps the ``updated_at`` it gives."""
        with self._lock:
            seeded = []
            for fields in employees:
                given = fields.get("updated_at") if isinstance(fields, Mapping) else None
                rest = {k: v for k, v in fields.items() if k != "updated_at"}
                employee = merged_employee(rest, None, self._now().date())
                employee.updated_at = (
                    parse_timestamp(given, "updated_at") if given is not None else self._stamp()
                )
                # Later changes must sort after every seeded one.
                self._last_stamp = max(self._last_stamp or employee.updated_at, employee.updated_at)
                seeded.append(employee)
            self._seeds = seeded
            self._restore()

    def reset(self) -> None:
        with self._lock:
            self._restore()

    def _restore(self) -> None:
        self._employees = {e.employee_id: replace(e) for e in self._seeds}

    def upsert(self, employees: Iterable[Any]) -> list[dict[str, Any]]:
        """Hire, change or exit employees (fields not given are kept); each gets a new
        ``updated_at`` (one given is ignored). All or none: a bad one changes nothing."""
        with self._lock:
            changed: list[Employee] = []
            for given in employees:
                fields = (
                    {k: v for k, v in given.items() if k != "updated_at"}
                    if isinstance(given, Mapping)
                    else given
                )
                known = fields.get("employee_id") if isinstance(fields, Mapping) else None
                current = self._employees.get(str(known))
                changed.append(merged_employee(fields, current, self._now().date()))
            for employee in changed:
                employee.updated_at = self._stamp()
            self._employees.update((e.employee_id, e) for e in changed)
            return [e.view() for e in changed]

    def employees(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.view() for e in sorted(self._employees.values(), key=Employee.key)]

    def changed_since(
        self, since: datetime, after: PageKey | None, limit: int
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """Up to ``limit`` employees changed at or after ``since`` and after ``after``, oldest
        change first; the last one's key when more follow."""
        with self._lock:
            matching = sorted(
                (
                    e
                    for e in self._employees.values()
                    if e.key()[0] >= since and (after is None or e.key() > after)
                ),
                key=Employee.key,
            )
            page = matching[:limit]
            more = len(matching) > limit
            return [e.view() for e in page], (page[-1].key() if more else None)

    def _stamp(self) -> datetime:
        """Now, strictly later than any stamp given before."""
        at = self._now()
        if self._last_stamp is not None and at <= self._last_stamp:
            at = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = at
        return at
