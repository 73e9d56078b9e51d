"""Per-invocation log context that stays with the invocation's own thread.

Powertools' `inject_lambda_context` appends the Lambda context (function name, request id,
cold start) to the formatter, which every Logger of one service shares within a process. On
Lambda a process runs one function, one invocation at a time, so that is fine; where several
functions share a process (the local runner, tests), one function's lines then carry another
function's name. These keys go through Powertools' thread-safe keys (a ContextVar) instead:
each invocation's lines carry its own context, and the keys are cleared when it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Logger(Protocol):
    def thread_safe_append_keys(self, **keys: object) -> None: ...
    def thread_safe_clear_keys(self) -> None: ...


def injector(logger: _Logger) -> Callable[[F], F]:
    """A decorator for Lambda handlers `(event, context)` logging through `logger`."""
    warm: set[str] = set()

    def inject(handler: F) -> F:
        @functools.wraps(handler)
        def invoke(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            name = str(getattr(context, "function_name", ""))
            logger.thread_safe_append_keys(
                cold_start=name not in warm,
                function_name=name,
                function_memory_size=getattr(context, "memory_limit_in_mb", None),
                function_arn=getattr(context, "invoked_function_arn", None),
                function_request_id=getattr(context, "aws_request_id", None),
            )
            warm.add(name)
            try:
                return handler(event, context, *args, **kwargs)
            finally:
                logger.thread_safe_clear_keys()

        return invoke  # type: ignore[return-value]

    return inject
