"""`make bench`'s engine part: its rows line up with payouts', a handler that does not import
yet and an operation not measured yet are shown as such, a handler's PostgreSQL routes show
their import with psycopg's beside it, and the throughput target is a floor."""

from __future__ import annotations

import re
from typing import Any

from scripts import bench_common, bench_engine

RESULTS: dict[str, Any] = {
    "handler_import_ratio": {
        "TransactionsSync": 1.212,
        "PortalPayments": "missing: ModuleNotFoundError: No module named 'engine.handlers.x'",
        "PortalLoans": 1.3,
    },
    "handler_import_ratio_with_psycopg": {"PortalLoans": 1.81},
    "stream": {
        "records": 1000,
        "records_per_second": 18839,
        "executemany_records_per_second": 13252,
        "throughput_ratio": 0.42,
        "sql_round_trips_per_batch": 3,
        "sql_round_trips_per_batch_of_1": 3,
        "runs": 5,
    },
    "operations": {
        "create_payment": {"aws_calls": 2, "sql_round_trips": 4, "aws_calls_detail": {}},
        "notification": {"aws_calls": 5, "sql_round_trips": 1, "aws_calls_detail": {}},
        "webhook": {"not_measured": "not measured: handler missing"},
    },
    "targets": bench_engine.TARGETS,
}


def value_end(line: str) -> int:
    found = re.search(r"\S+(?=\s*(<=|>=|$|\s{3}))", line[46:])
    assert found is not None, line
    return found.end() + 46


def test_every_row_puts_its_value_in_the_payouts_column() -> None:
    lines = bench_engine.table(RESULTS)

    header_end = lines[0].index("value") + len("value")
    assert {value_end(line) for line in lines[1:]} == {header_end}, "\n".join(lines)


def test_verdicts_missing_handlers_and_unmeasured_operations_are_explicit() -> None:
    text = "\n".join(bench_engine.table(RESULTS))

    assert re.search(r"import ratio TransactionsSync\s+1\.212\s+<= 1\.5\s+ok", text)
    assert re.search(r"import ratio PortalPayments\s+missing\s+\(missing: ModuleNotFound", text)
    assert re.search(r"stream / executemany throughput\s+0\.42\s+>= 0\.5\s+UNDER", text)
    assert re.search(r"aws calls notification \(warm\)\s+5\s+<= 3\s+OVER", text)
    assert re.search(r"aws calls webhook \(warm\)\s+-\s+not measured: handler missing", text)
    assert re.search(r"stream SQL round trips per batch\s+3", text)
    # A function that loads psycopg on its PostgreSQL routes only: both figures, both judged.
    assert re.search(
        r"import ratio PortalLoans\s+1\.3\s+<= 1\.5\s+ok\n\s+\+ psycopg \(its PostgreSQL "
        r"routes\)\s+1\.81\s+<= 1\.5\s+OVER",
        text,
    )


def test_a_module_that_does_not_import_is_reported_not_raised() -> None:
    ratios = bench_common.import_ratios(
        {"Fine": "json", "Gone": "engine.handlers.no_such_module"},
        {"PYTHONPATH": str(bench_common.ROOT / "lambda_src")},
        runs=1,
    )

    assert isinstance(ratios["Fine"], float)
    assert ratios["Gone"] == (
        "missing: ModuleNotFoundError: No module named 'engine.handlers.no_such_module'"
    )
