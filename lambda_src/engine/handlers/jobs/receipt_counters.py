"""Invoked by the DR runbook once the promoted database takes writes, before the jobs and the
traffic move (and by hand at failback, in the Region taking over): raises this Region's
receipt counters above every receipt PostgreSQL holds (engine.logic.receipt_counters).

Answers `{"outcome": "carried-over", "counters_raised": n, "counters_already_higher": m}`;
anything else, an error included, and the runbook stops before it moves any traffic. Safe to
run again: a second run raises nothing.
"""

from __future__ import annotations

from typing import Any

from engine import settings, wiring
from engine.dal.ddb.counters import CounterStore
from engine.dal.pg.receipts import last_sequences
from engine.handlers.common import inject_context, logger
from engine.logic.receipt_counters import carry_over
from shared import clock

# What the runbook's check step requires of the answer.
OUTCOME = "carried-over"
# The one read scans the payments table (no index on receipt_number); the writes take the
# rest of the function's 240 seconds.
STATEMENT_TIMEOUT_MS = 120_000


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings.get()
    table = settings.require("COUNTERS_TABLE", config.counters_table)
    issued = wiring.database().run(lambda cur: last_sequences(cur, STATEMENT_TIMEOUT_MS))
    counters = CounterStore(wiring.dynamodb(), table)
    summary = carry_over(issued, counters, config.receipt_counter_gap, clock.iso(clock.now()))
    answer: dict[str, Any] = {"outcome": OUTCOME, **summary.as_dict()}
    logger.info(
        "receipt counters carried over",
        extra={**answer, "groups": len(issued), "gap": config.receipt_counter_gap},
    )
    return answer
