"""The customer session every portal handler checks, from the `X-Session-Token` header.

    session = customer_session(request)          # 401 UNAUTHORIZED without a live session
    session.require_loan(loan_account_number)    # 404 NOT_FOUND for any other loan

A handler that loads something by another id (a payment) calls `require_loan` with that
thing's loan, and answers 404 for a payment that does not exist the same way. It may read
that thing with the session, in one request (`customer_session_with`).

The verifier's modules (and the secrets reader its hash key comes through) are imported
with this one rather than on first use (engine.wiring builds lazily): every route of every
portal function checks a session.
"""

from __future__ import annotations

from typing import Any

from engine import wiring
from engine.logic.sessions import SessionVerifier
from engine.models.session import CustomerSession
from shared import secrets  # noqa: F401 - see the docstring
from shared.api import Request

SESSION_HEADER = "X-Session-Token"


def verifier() -> SessionVerifier:
    return wiring.session_verifier()


def customer_session(request: Request) -> CustomerSession:
    return verifier().verify(request.header(SESSION_HEADER))


def customer_session_with(
    request: Request, *reads: dict[str, Any]
) -> tuple[CustomerSession, list[dict[str, Any] | None]]:
    """`customer_session`, and the items `reads` names (a store's `read_op`) read in the same
    request: the same checks, and nothing handed back without a live session."""
    return verifier().verify_with(request.header(SESSION_HEADER), reads)


def source_ip(request: Request) -> str:
    """The caller's address as API Gateway saw it (the edge's, not a forwarded header)."""
    identity = (request.event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")
