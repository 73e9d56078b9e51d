"""The simulator-only admin routes, ``/_simulator/<name>``: no auth, never in the request log.

Every simulator has ``GET``/``POST mode``, ``POST reset`` and ``GET received`` (what it was sent);
each adds its own routes with :meth:`AdminRoutes.add`. A handler takes the request and its JSON
body (``{}`` when empty) and returns ``(status, payload)``. Errors become answers:
``LookupError`` 404 (no such thing), ``RuntimeError`` 409 (not possible now),
``ValueError``/``TypeError`` 400 (bad input), each as ``{"error": text}``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from simulators.common.http import ADMIN_PREFIX, Reply, Request
from simulators.common.jsonutil import loads

__all__ = ["AdminHandler", "AdminRoutes"]

AdminHandler = Callable[[Request, dict[str, Any]], tuple[int, Any]]


class AdminRoutes:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], AdminHandler] = {}

    def add(self, method: str, name: str, handler: AdminHandler) -> None:
        key = (method.upper(), name.strip("/"))
        if key in self._routes:
            raise ValueError(f"admin route {method} {name} is already declared")
        self._routes[key] = handler

    def add_standard(
        self,
        *,
        mode: Callable[[], dict[str, Any]],
        set_mode: Callable[..., None],
        reset: Callable[[], None],
        received: Callable[[], list[dict[str, Any]]],
        mode_options: Collection[str] = (),
    ) -> None:
        """``mode`` (GET and POST), ``reset`` and ``received``, the routes every simulator has."""

        def post_mode(_request: Request, body: dict[str, Any]) -> tuple[int, Any]:
            options = {name: body[name] for name in mode_options if name in body}
            set_mode(
                body.get("mode", "ok"),
                count=body.get("count"),
                latency_ms=body.get("latency_ms") or 0,
                **options,
            )
            return 200, mode()

        def post_reset(_request: Request, _body: dict[str, Any]) -> tuple[int, Any]:
            reset()
            return 200, {"reset": True}

        self.add("GET", "mode", lambda _request, _body: (200, mode()))
        self.add("POST", "mode", post_mode)
        self.add("POST", "reset", post_reset)
        self.add("GET", "received", lambda _request, _body: (200, received()))

    def add_webhook_url(self, set_url: Callable[[str | None], None]) -> None:
        """``POST webhook-url {"url": str | null}``: where webhooks go (null: nowhere)."""

        def post_url(_request: Request, body: dict[str, Any]) -> tuple[int, Any]:
            url = body.get("url")
            if url is not None and not isinstance(url, str):
                raise ValueError("url must be a string or null")
            set_url(url)
            return 200, {"url": url}

        self.add("POST", "webhook-url", post_url)

    def dispatch(self, request: Request) -> Reply:
        name = request.route[len(ADMIN_PREFIX) :].strip("/")
        handler = self._routes.get((request.method, name))
        if handler is None:
            return Reply(404, {"error": f"no admin route {request.method} {request.route}"})
        try:
            body = loads(request.raw) if request.raw.strip() else {}
            if not isinstance(body, dict):
                raise TypeError("body must be a JSON object")
            status, payload = handler(request, body)
        except LookupError as exc:
            status, payload = 404, {"error": str(exc)}
        except RuntimeError as exc:
            status, payload = 409, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": str(exc)}
        return Reply(status, payload)
