"""The LMS's OAuth2 client-credentials tokens: ``POST /oauth/token`` (form-encoded) issues
one, every ``/api`` call presents it as ``Authorization: Bearer``.

A token lasts ``lifetime`` seconds on the simulator's clock, or until ``expire_all``. Tokens
and the client secret are never logged: :func:`logged_form` is the token request as the
request log shows it, the secret replaced.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

from simulators.common.http import Request
from simulators.common.signing import same_text
from simulators.lms.shapes import LmsApiError

__all__ = ["TokenStore", "client_of", "logged_form"]

REDACTED = "<redacted>"
FORM = "application/x-www-form-urlencoded"


class TokenStore:
    def __init__(self, lifetime: int, clock: Callable[[], float]) -> None:
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1:
            raise ValueError("the token lifetime is a positive number of seconds")
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def issue(self) -> dict[str, object]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
            self._expiry[token] = now + self.lifetime
            self.issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}

    def valid(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        with self._lock:
            expiry = self._expiry.get(token.strip())
            return expiry is not None and self._clock() < expiry

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
            return count


def _form(request: Request) -> dict[str, str]:
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise LmsApiError(400, "VALIDATION_FAILED", f"the token request must be {FORM}")
    try:
        text = request.raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LmsApiError(400, "VALIDATION_FAILED", "the form is not UTF-8") from None
    fields = parse_qs(text, keep_blank_values=True)
    if any(len(values) > 1 for values in fields.values()):
        raise LmsApiError(400, "VALIDATION_FAILED", "a form field is repeated")
    return {name: values[0] for name, values in fields.items()}


def client_of(request: Request, client_id: str, client_secret: str) -> None:
    """Check a token request; raises the contract's 400 or 401 when it does not hold."""
    form = _form(request)
    grant = form.get("grant_type")
    if not grant or not form.get("client_id") or not form.get("client_secret"):
        raise LmsApiError(
            400, "VALIDATION_FAILED", "grant_type, client_id and client_secret are required"
        )
    if grant != "client_credentials":
        raise LmsApiError(400, "UNSUPPORTED_GRANT_TYPE", "only client_credentials is supported")
    id_ok = same_text(form["client_id"], client_id)
    if not (same_text(form["client_secret"], client_secret) and id_ok):
        raise LmsApiError(401, "INVALID_CLIENT", "unknown client or wrong secret")


def logged_form(request: Request) -> object:
    """The token request's form with the secret replaced; only the size of anything else
    (it might hold the secret in some other shape)."""
    try:
        form = _form(request)
    except LmsApiError:
        return f"<{len(request.raw)} bytes, not a form>"
    return {name: (REDACTED if name == "client_secret" else value) for name, value in form.items()}
