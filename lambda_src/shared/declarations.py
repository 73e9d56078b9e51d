"""Plain declarations of functions and API routes, shared by CDK, tests and the local runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Auth = Literal["cognito", "none"]


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: `name` is the stable construct id and log-group suffix."""

    name: str
    handler: str
    description: str
    memory_mb: int
    timeout_seconds: int
    # A job or consumer that runs only in the system's active Region (the engine's config
    # chooses it; the DR runbook moves it). API handlers run wherever they are deployed.
    active_region_only: bool = False


@dataclass(frozen=True)
class Route:
    """One API Gateway route, served by `function` (a FunctionSpec name)."""

    method: str
    path: str
    function: str
    auth: Auth
    summary: str
    request_model: dict[str, Any] | None = None
    required_headers: tuple[str, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)
    # What the caller must hold (a system's RBAC names it: engine.models.rbac), and the scope
    # the route's data is bounded by; None where the system has no RBAC (payouts, the portal).
    permission: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule that invokes `function` (a FunctionSpec name) with `payload`."""

    name: str
    function: str
    expression: str  # "rate(5 minutes)" or "cron(...)"
    description: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSource:
    """A stream or queue that `function` consumes in batches, reporting item failures.

    `source` is a table's logical name (kind "dynamodb-stream") or a QueueSpec name ("sqs").
    A stream source bisects a failing batch and sends what still fails to `on_failure`
    (a QueueSpec name): the record's keys and position, so nothing is lost silently.
    """

    function: str
    kind: Literal["dynamodb-stream", "sqs"]
    source: str
    batch_size: int
    max_batching_window_seconds: int = 0
    on_failure: str | None = None
    retry_attempts: int = 5
    # Lambda's event filter (FilterCriteria pattern): records that do not match are dropped
    # without an invocation. The stacks deploy it and the local runner's pump applies it.
    filter_pattern: dict[str, Any] | None = field(default=None, hash=False, compare=False)


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue, declared once: CDK builds it, moto and the runner create it by name."""

    name: str
    env_var: str
    description: str
    visibility_timeout_seconds: int = 30
    retention_days: int = 14
    # Where a message goes after `max_receive_count` receives (a QueueSpec name), if anywhere.
    dead_letter_queue: str | None = None
    max_receive_count: int = 3
