"""The staff member behind an internal API request, as the Cognito authorizer named them."""

from __future__ import annotations

from engine.dal.ddb.intervention import Actor
from shared.api import Request
from shared.http import Unauthorized


def staff_actor(request: Request) -> Actor:
    """The authorizer has already checked the token; no `sub` means the route was reached
    without it (a misconfigured gateway), which is refused rather than recorded as nobody."""
    context = request.event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise Unauthorized("no staff identity on this request")
    email = claims.get("email")
    return Actor(user_id, email if isinstance(email, str) and email else None)
