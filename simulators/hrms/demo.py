"""The local runner's demo staff (local/engine_demo/seed.sql's users) as the HRMS holds them.

The seeded users rows carry no employee_id: the first sync links each to its employee by
username. leaver.br001, inactive in the seed, is an exited employee here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_UPDATED_AT", "demo_employees"]

DEMO_UPDATED_AT = "2026-01-05T04:30:00.000000Z"
_EXIT_DATE = "2025-12-31"

# (employee_id, username, branch_code, designation, exited)
_STAFF: tuple[tuple[str, str, str | None, str, bool], ...] = (
    ("FS1001", "cashier.br001", "BR001", "Branch Cashier", False),
    ("FS1002", "cashier2.br001", "BR001", "Branch Cashier", False),
    ("FS1003", "manager.br001", "BR001", "Branch Manager", False),
    ("FS1004", "officer.br001", "BR001", "Field Officer", False),
    ("FS1005", "leaver.br001", "BR001", "Branch Cashier", True),
    ("FS2001", "cashier.br002", "BR002", "Branch Cashier", False),
    ("FS2002", "manager.br002", "BR002", "Branch Manager", False),
    ("FS2003", "officer.br002", "BR002", "Field Officer", False),
    ("FS9001", "finance.ho", None, "Finance Executive", False),
    ("FS9002", "admin.ho", None, "IT Administrator", False),
    ("FS9003", "superadmin.ho", None, "Head of IT", False),
)


def demo_employees() -> list[dict[str, Any]]:
    """The demo staff in the contract's Employee shape (seed.sql's e-mail addresses)."""
    return [
        {
            "employee_id": employee_id,
            "username": username,
            "official_email": f"{username}@staff.example.com",
            "status": "EXITED" if exited else "ACTIVE",
            "date_of_exit": _EXIT_DATE if exited else None,
            "branch_code": branch,
            "designation": designation,
            "updated_at": DEMO_UPDATED_AT,
        }
        for employee_id, username, branch, designation, exited in _STAFF
    ]
