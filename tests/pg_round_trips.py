"""Counting SQL round trips on a psycopg connection, from libpq's own protocol trace.

psycopg counts nothing itself. libpq can write every protocol message it sends (F) and
receives (B) to a file; a round trip is the client sending and then reading the server's
answer, so each switch from F lines to B lines is one. Pipelined statements sent together
count once, which is the point of pipelining; BEGIN and COMMIT count like any statement.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg


@dataclass
class Trips:
    count: int = 0
    statements: list[str] = field(default_factory=list)  # the SQL of each Query/Parse


@contextmanager
def counting(conn: psycopg.Connection[Any]) -> Iterator[Trips]:
    """Round trips `conn` makes inside the block (counted when the block ends)."""
    trips = Trips()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            yield trips
        finally:
            conn.pgconn.untrace()
            trace.seek(0)
            _read(trace.read().splitlines(), trips)


def _read(lines: list[str], trips: Trips) -> None:
    sending = False
    for line in lines:
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        direction, message = parts[1], parts[3]
        if direction == "F":
            sending = True
            if message in ("Query", "Parse"):
                trips.statements.append(parts[4].strip() if len(parts) > 4 else "")
        elif direction == "B" and sending:
            trips.count += 1
            sending = False
