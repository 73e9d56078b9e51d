"""Log lines carry the function that wrote them, even when functions share one process (the
local runner runs every function's invocations on its own threads in one interpreter)."""

from __future__ import annotations

import io
import json
import logging
import threading
from typing import Any

from local.events import LambdaContext
from payouts.handlers.common import inject_context, logger


def test_concurrent_functions_each_log_their_own_name() -> None:
    both_inside = threading.Barrier(2, timeout=5)
    handler_out = logger.registered_handler
    assert isinstance(handler_out, logging.StreamHandler)
    written = io.StringIO()
    previous = handler_out.setStream(written)  # what the function would print to stdout

    @inject_context
    def handler(event: dict[str, str], context: Any) -> None:
        both_inside.wait()  # each invocation's context is set before either logs
        logger.info("handled", extra={"wrote": event["name"]})

    threads = [
        threading.Thread(target=handler, args=({"name": name}, LambdaContext(function_name=name)))
        for name in ("CreatePayout", "Reconciler")
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        handler_out.setStream(previous)

    printed = [json.loads(line) for line in written.getvalue().splitlines()]
    lines = [line for line in printed if line.get("message") == "handled"]
    assert sorted(line["wrote"] for line in lines) == ["CreatePayout", "Reconciler"]
    for line in lines:
        assert line["function_name"] == line["wrote"], line
        assert line["function_request_id"]


def test_the_context_is_cleared_when_the_invocation_returns() -> None:
    @inject_context
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return dict(logger.thread_safe_get_current_keys())

    during = handler({}, LambdaContext(function_name="QueryPayouts"))

    assert during["function_name"] == "QueryPayouts"
    assert "function_name" not in logger.thread_safe_get_current_keys()
