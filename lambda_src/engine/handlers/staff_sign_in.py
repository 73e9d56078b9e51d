"""The staff pool's PostAuthentication trigger: each sign-in is checked against the users row,
stamped (last_login_at) and audited (LOGIN).

Cognito calls it after the password and MFA passed and before it issues tokens; raising
refuses the sign-in, and Cognito shows the staff member the exception's message, so it is the
same generic one for an unknown and an inactive user. A sign-in that cannot be recorded is
refused too (the staff member signs in again). The event goes back unchanged, as Cognito
requires.
"""

from __future__ import annotations

from typing import Any

from engine import wiring, wiring_users
from engine.handlers.common import inject_context
from engine.logic import users as rules
from shared import clock


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller_context = event.get("callerContext") or {}
    rules.sign_in(
        str(event.get("userName") or ""),
        _text(caller_context.get("clientId")),
        _text(event.get("triggerSource")),
        lookup=wiring.staff().by_username,
        users=wiring_users.users(),
        audit=wiring_users.audit_log(),
        now=clock.now(),
    )
    return event


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
