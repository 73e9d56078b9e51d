"""`make bench` shows its table, not the handlers' log lines, and lines every row up."""

from __future__ import annotations

import json
import os
import re
import sys

from scripts.bench import table
from scripts.bench_common import handler_output, news


def test_handler_output_is_collected_even_when_written_to_the_descriptor() -> None:
    # Powertools' logger keeps the stdout it found at import: the process's own, on fd 1.
    with handler_output() as lines:
        print(
            '{"level":"INFO","message":"payout request handled"}', file=sys.__stdout__, flush=True
        )
        os.write(1, b'{"_aws":{"CloudWatchMetrics":[]},"PayoutCreated":[1.0]}\n')
    assert lines == [
        '{"level":"INFO","message":"payout request handled"}',
        '{"_aws":{"CloudWatchMetrics":[]},"PayoutCreated":[1.0]}',
    ]


def test_only_warnings_errors_and_unstructured_lines_are_news() -> None:
    warning = json.dumps({"level": "WARNING", "message": "Monoova slow"})
    error = json.dumps({"level": "ERROR", "message": "boom"})
    lines = [
        json.dumps({"level": "INFO", "message": "webhook handled"}),
        json.dumps({"_aws": {"CloudWatchMetrics": []}, "PayoutCompleted": [1.0]}),
        warning,
        error,
        "Traceback (most recent call last):",
    ]
    assert news(lines) == [warning, error, "Traceback (most recent call last):"]


def test_every_row_puts_its_value_in_the_same_column() -> None:
    lines = table(
        {"CreatePayout": 1.383, "BalanceRestorer": 1.44},
        {"create_payout": 3, "webhook": 1},
        {"create_payout": 5, "webhook": 2},
        (5.381, 9.72, 1.81),
        {"timeout": 6.04, "hang": 6.02, "worst": 6.04},
    )
    assert any("(cold container)" in line for line in lines)
    value_ends = {re.search(r"\S+(?=\s*(<=|$))", line[46:]).end() + 46 for line in lines[1:]}
    assert len(value_ends) == 1, "\n".join(lines)
    header_value_end = lines[0].index("value") + len("value")
    assert value_ends == {header_value_end}
