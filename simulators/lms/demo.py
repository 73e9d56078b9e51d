"""The local runner's demo loans (local/engine_demo/seed.sql) as the LMS holds them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

__all__ = ["demo_loans"]


def demo_loans(today: date | None = None) -> list[dict[str, Any]]:
    """LN0000000001..5 with seed.sql's outstanding, EMI, due dates (relative to ``today``),
    status, overdue and days past due."""
    day = today or date.today()  # noqa: DTZ011 - seed.sql's current_date is the local date

    def due(days: int) -> str:
        return (day + timedelta(days=days)).isoformat()

    rows: list[tuple[str, str, str, str | None, str, str, int]] = [
        ("LN0000000001", "1850000.00", "21500.00", due(12), "ACTIVE", "0.00", 0),
        ("LN0000000002", "612345.50", "18000.00", due(-40), "ACTIVE", "36000.00", 40),
        ("LN0000000003", "430000.00", "12000.00", due(-120), "NPA", "48000.00", 120),
        ("LN0000000004", "0.00", "9500.00", None, "CLOSED", "0.00", 0),
        ("LN0000000005", "975000.00", "11250.00", due(5), "ACTIVE", "0.00", 0),
    ]
    return [
        {
            "loan_account_number": number,
            "status": status,
            "outstanding_amount": outstanding,
            "emi_amount": emi,
            "next_due_date": next_due,
            "overdue_amount": overdue,
            "days_past_due": dpd,
            "recent_receipt_references": [],
        }
        for number, outstanding, emi, next_due, status, overdue, dpd in rows
    ]
