"""What an LMS answer that is not the operation's success means (docs/lms-api.yml).

`LmsRefused` is final: the LMS read the request and said no (400, 409, 422; 404 for a
cancellation). `LmsUnavailable` is no usable answer; `outcome_unknown` says whether a write may
have been applied, which is the case for a 5xx other than the definite 503 MAINTENANCE or
UNAVAILABLE, and never for a 4xx.
"""

from __future__ import annotations

from engine.clients.answers import error_of, retry_after_of
from engine.clients.transport import Answer, NoAnswer, Result

__all__ = [
    "LmsError",
    "LmsRefused",
    "LmsUnavailable",
    "error_of",
    "failure",
    "read_again",
    "retry_after_of",
]

_REFUSALS = frozenset({400, 409, 422})
_NOT_DONE_503 = frozenset({"MAINTENANCE", "UNAVAILABLE"})


class LmsError(Exception):
    """A call that did not give the caller an answer it can use."""


class LmsUnavailable(LmsError):
    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool = False,
        retry_after: int | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown  # a write may have been applied
        self.retry_after = retry_after  # the LMS's Retry-After, seconds
        self.status = status  # the HTTP status, when there was an answer


class LmsRefused(LmsError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the LMS refused ({status} {code}): {message[:200]}")
        self.status = status
        self.code = code
        self.message = message


def read_again(result: Result) -> bool:
    """Worth another attempt: no answer, 429, or a 5xx other than a maintenance window (its
    Retry-After is longer than a call's budget)."""
    if isinstance(result, NoAnswer):
        return True
    if result.status == 503:
        return error_of(result)[0] != "MAINTENANCE"
    return result.status == 429 or result.status >= 500


def failure(answer: Answer, *, write: bool) -> LmsError:
    """What an answer other than the operation's success or not-found means."""
    code, message = error_of(answer)
    status, retry_after = answer.status, retry_after_of(answer)
    if status in _REFUSALS:
        return LmsRefused(status, code, message)
    if status == 503 and code in _NOT_DONE_503:
        return LmsUnavailable(
            f"the LMS is unavailable ({code})", retry_after=retry_after, status=503
        )
    if status >= 500 or 200 <= status < 300:
        # It may have acted on a write: a 500, a gateway's 502/504, a 2xx of another kind.
        return LmsUnavailable(
            f"the LMS answered {status} {code}",
            outcome_unknown=write,
            retry_after=retry_after,
            status=status,
        )
    # 403 (our client is not allowed), 429, an unexpected 3xx or 4xx: nothing was done.
    return LmsUnavailable(
        f"the LMS answered {status} {code}", retry_after=retry_after, status=status
    )
