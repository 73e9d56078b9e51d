"""The systems the runner serves, each a plug-in: its APIs, functions, resources, background work.

The runner gives every API a port of its own (the first system's first API gets the main
port), starts each system once those ports are known (its simulators call them back), and
invokes every function with that function's own environment (local/environ.py). A system's
declared schedules are the runner's to run: on their timers (local/schedules.py) and on
demand (`POST /_local/jobs/{name}`); its streams and queues are its own `workers`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.declarations import FunctionSpec, Route, Schedule

if TYPE_CHECKING:
    from local.auth import LocalIssuer
    from local.gateway import ErrorStyle, Functions
    from local.workers import Worker

# A runner-level route of a system: (query, body) -> (status, JSON body).
LocalRoute = Callable[[str, bytes], tuple[int, Any]]


@dataclass(frozen=True)
class Api:
    """One API Gateway REST API: its routes, the shape its gateway answers in, its key."""

    name: str  # its key in GET /_local/endpoints
    title: str
    routes: Sequence[Route]
    errors: ErrorStyle
    document: Callable[[str], dict[str, Any]]  # the OpenAPI document, given its base URL
    # x-api-key required on every route but `keyless` ("METHOD /path"), as a usage plan does.
    api_key: str | None = None
    keyless: frozenset[str] = frozenset()


@dataclass
class Context:
    """What a system gets at start: the options, the issuer, and where every API listens."""

    args: argparse.Namespace
    issuer: LocalIssuer
    urls: dict[str, str]  # API name -> base URL
    saved: Mapping[str, Any] | None = None  # this system's part of --data-dir state
    seeded: list[str] = field(default_factory=list)


class System(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def functions(self) -> Sequence[FunctionSpec]: ...

    @property
    def apis(self) -> Sequence[Api]: ...

    @property
    def schedules(self) -> Sequence[Schedule]:
        """Its scheduled jobs, as its stacks declare them (each name unique in the runner)."""

    def schedule_every(self, schedule: Schedule) -> float | None:
        """Seconds between runs of one of its schedules here (its options, --fast), or None
        for the schedule's own expression. Called after start()."""

    def start(self, context: Context) -> None:
        """Create (or restore) resources, start simulators, seed demo data."""

    def environment(self, function: str) -> dict[str, str]:
        """The environment variables of one of this system's functions."""

    def workers(self, functions: Functions) -> list[Worker]:
        """Streams and queues, as AWS would trigger them (the runner runs the schedules)."""

    def endpoints(self) -> dict[str, str]:
        """Simulators and other non-API base URLs, by name."""

    def local_routes(self) -> dict[tuple[str, str], LocalRoute]:
        """Runner utilities of this system under /_local/ on the main port."""

    def banner(self) -> list[str]:
        """Lines for the start-up banner: what to try."""

    def saved(self) -> dict[str, Any]:
        """This system's part of the --data-dir state."""

    def stop(self) -> None:
        """Stop simulators and servers it started."""


class RouteError(Exception):
    """A runner utility's refusal, answered in the port's API error shape (not a crash)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
