"""The HRMS (DarwinBox) employee API as docs/hrms-api.yml defines it: the employees changed
since a watermark, a page at a time.

Every call ends in one of:

* an `EmployeePage` (engine.clients.hrms_models);
* `HrmsRefused` (400): the HRMS read the request and said no (a cursor it no longer knows, a
  bad watermark); sending it again gets the same answer;
* `HrmsUnavailable`: no usable answer (5xx, 429, a timeout, a refused or dropped connection,
  an unreadable 2xx), or our credentials refused (401, 403). `retry_after` carries the HRMS's
  `Retry-After` seconds; `status` the HTTP status when there was an answer.

A read is retried within the call's budget with the transport's jittered backoff when there
was no answer, or it was a 429 or a 5xx. Credentials are HTTP Basic and `X-Api-Key` on every
call (no token). Nothing here logs, and no message carries a credential or a body.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable
from urllib.parse import urlencode

from engine.clients.answers import error_of, retry_after_of
from engine.clients.hrms_models import (
    EmployeePage,
    HrmsCredentials,
    Malformed,
    checked_watermark,
    parse_page,
)
from engine.clients.transport import Answer, JsonTransport, NoAnswer, Result

__all__ = [
    "EmployeePage",
    "HrmsClient",
    "HrmsCredentials",
    "HrmsError",
    "HrmsRefused",
    "HrmsUnavailable",
]

EMPLOYEES_PATH = "/employees"
PAGE_MAX = 200


class HrmsError(Exception):
    """A call that did not give the caller an answer it can use."""


class HrmsUnavailable(HrmsError):
    def __init__(
        self, message: str, *, retry_after: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the HRMS's Retry-After, seconds
        self.status = status  # the HTTP status, when there was an answer


class HrmsRefused(HrmsError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the HRMS refused ({status} {code}): {message[:200]}")
        self.status = status
        self.code = code


def _sleep(seconds: float) -> None:
    """Module-level so tests can make the backoff instant."""
    time.sleep(seconds)


def read_again(result: Result) -> bool:
    """Worth another attempt: no answer, 429 or a 5xx (every call here is a read)."""
    return isinstance(result, NoAnswer) or result.status == 429 or result.status >= 500


class HrmsClient:
    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], HrmsCredentials],
        *,
        timeout_seconds: float = 5.0,
        budget_seconds: float = 10.0,
        backoff: tuple[float, ...] = (0.25, 1.0),
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._transport = JsonTransport(
            base_url,
            timeout_seconds=timeout_seconds,
            budget_seconds=budget_seconds,
            backoff=backoff,
            # Looked up at each pause, not bound now, so a test replacing _sleep is obeyed.
            sleep=lambda seconds: _sleep(seconds),  # noqa: PLW0108
            monotonic=monotonic,
            rand=rand,
        )
        self._credentials = credentials

    @property
    def calls(self) -> int:
        """HTTP requests made (attempts)."""
        return self._transport.calls

    def employees_changed_since(
        self, watermark: str, cursor: str | None = None, page_size: int = 100
    ) -> EmployeePage:
        """One page of the employees changed at or after `watermark` (RFC 3339), oldest
        change first; pass `next_cursor` back with the same watermark for the next.
        ValueError for a bad watermark or page size, before any request."""
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= PAGE_MAX
        ):
            raise ValueError(f"page_size must be an integer from 1 to {PAGE_MAX}")
        query = {"updated_since": checked_watermark(watermark), "page_size": page_size}
        if cursor is not None:
            query["cursor"] = cursor
        answer = self._get(f"{EMPLOYEES_PATH}?{urlencode(query)}")
        try:
            return parse_page(answer.body)
        except Malformed as exc:
            raise HrmsUnavailable(f"the HRMS's page is unreadable: {exc}") from None

    def _get(self, path: str) -> Answer:
        result = self._transport.send("GET", path, headers=self._headers(), retry=read_again)
        if isinstance(result, NoAnswer):
            raise HrmsUnavailable(f"the HRMS gave no answer: {result.reason}")
        if result.status == 200:
            return result
        code, message = error_of(result)
        if result.status == 400:
            raise HrmsRefused(400, code, message)
        raise HrmsUnavailable(
            f"the HRMS answered {result.status} {code}",
            retry_after=retry_after_of(result),
            status=result.status,
        )

    def _headers(self) -> dict[str, str]:
        given = self._credentials()
        basic = base64.b64encode(f"{given.api_user}:{given.api_password}".encode()).decode()
        return {
            "Authorization": f"Basic {basic}",
            "X-Api-Key": given.api_key,
            "Accept": "application/json",
        }
