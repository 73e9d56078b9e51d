"""The LMS's OAuth2 client-credentials token (`POST /oauth/token`, form-encoded), cached.

One `TokenCache` per client, shared by its threads: the token is kept until 60 s before it
expires (half its lifetime for one of two minutes or less), and a token the LMS refused (401)
is replaced once. A failure to get one is `LmsUnavailable` (nothing was sent for the call that
needed it). The token and the secret never appear in a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from engine.clients.lms_errors import LmsUnavailable, error_of, read_again, retry_after_of
from engine.clients.lms_models import LmsCredentials
from engine.clients.transport import JsonTransport, NoAnswer

__all__ = ["OAUTH_PATH", "TokenCache"]

OAUTH_PATH = "/oauth/token"
MARGIN_SECONDS = 60.0
_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


@dataclass(frozen=True)
class _Token:
    value: str
    fresh_until: float


class TokenCache:
    def __init__(
        self,
        transport: JsonTransport,
        credentials: Callable[[], LmsCredentials],
        now: Callable[[], float],
    ) -> None:
        self._transport = transport
        self._credentials = credentials
        self._now = now
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def bearer(self, deadline: float, refused: str | None = None) -> str:
        """The cached token, or a new one; `refused` is a token the LMS just answered 401 to
        (another thread may have replaced it already, and that one is used)."""
        with self._lock:
            cached = self._token
            if cached and cached.value != refused and self._now() < cached.fresh_until:
                return cached.value
            self._token = None
            self._token = self._fetch(deadline)
            return self._token.value

    def _fetch(self, deadline: float) -> _Token:
        credentials = self._credentials()
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
        asked_at = self._now()
        result = self._transport.send(
            "POST",
            OAUTH_PATH,
            body=urlencode(form).encode("utf-8"),
            headers=_HEADERS,
            retry=read_again,  # asking for a token again is always safe
            deadline=deadline,
        )
        if isinstance(result, NoAnswer):
            raise LmsUnavailable(f"the LMS gave no token: {result.reason}")
        if result.status != 200:
            raise LmsUnavailable(
                f"the LMS gave no token ({result.status} {error_of(result)[0]})",
                retry_after=retry_after_of(result),
                status=result.status,
            )
        value, lifetime = result.body.get("access_token"), result.body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise LmsUnavailable("the LMS's token answer has no access_token")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1:
            raise LmsUnavailable("the LMS's token answer has no expires_in")
        return _Token(value, asked_at + lifetime - min(MARGIN_SECONDS, lifetime / 2))
