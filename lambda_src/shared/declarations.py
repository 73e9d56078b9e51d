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
