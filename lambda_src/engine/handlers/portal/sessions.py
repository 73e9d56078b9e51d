"""POST /api/v1/customer/validate-loan and POST /api/v1/customer/sessions."""

from __future__ import annotations

from engine import wiring
from engine.handlers import common
from engine.handlers.portal.auth import source_ip
from engine.models import portal
from shared.api import Reply, Request

routes = common.router()
# A challenge or a session token must never sit in a shared cache.
NO_STORE = {"Cache-Control": "no-store"}


@routes.route("POST", "/api/v1/customer/validate-loan")
def validate_loan(request: Request) -> Reply:
    body = portal.VALIDATE_LOAN.parse(request.body())
    issued = wiring.session_service().validate_loan(body, source_ip(request))
    return Reply(200, issued.to_api(), NO_STORE)


@routes.route("POST", "/api/v1/customer/sessions")
def open_session(request: Request) -> Reply:
    body = portal.CREATE_SESSION.parse(request.body())
    opened = wiring.session_service().open_session(body, source_ip(request))
    return Reply(201, opened.to_api(), NO_STORE)


handler = common.api_handler(routes)
