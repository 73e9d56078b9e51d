"""The lender's LMS (FinnOne behind MuleSoft) as docs/lms-api.yml defines it: post a receipt,
find one by our reference, cancel one, read a loan, read the loans changed since a watermark.

Every call ends in one of:

* an answer, parsed (amounts as Decimal rupees; see engine.clients.lms_models);
* `LmsRefused` (400, 409, 422; 404 for a cancellation): the LMS read the request and said no;
  sending it again gets the same answer;
* `LmsUnavailable`: no usable answer (5xx, 429, a timeout, a refused or dropped connection, an
  unreadable 2xx), or our client refused (403, or a 401 that outlives one fresh token).
  `outcome_unknown` is True when a write (a post, a cancellation) may have been applied: it
  was sent and the answer was a 5xx other than the definite 503 MAINTENANCE/UNAVAILABLE, or
  never came, or could not be read. `retry_after` carries the LMS's `Retry-After` seconds.

A write is sent exactly once (plus once more after a 401 with a fresh token, which the LMS
answered without acting): the caller resolves an unknown outcome with `receipt_by_reference`
before posting again. Reads are retried within the call's budget with jittered backoff.

The OAuth2 client-credentials token is cached per client, shared by its threads, until 60 s
before it expires (half its lifetime for one of two minutes or less). Nothing here logs, and
no message carries a token, a secret or a body.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from engine.clients.lms_errors import (
    LmsError,
    LmsRefused,
    LmsUnavailable,
    error_of,
    failure,
    read_again,
)
from engine.clients.lms_models import (
    LmsCredentials,
    LmsLoan,
    LmsReceipt,
    LoanPage,
    Malformed,
    PostedReceipt,
    ReceiptPost,
    checked_watermark,
    payment_mode_for,
)
from engine.clients.lms_token import TokenCache
from engine.clients.transport import Answer, JsonTransport, NoAnswer, Result
from shared import jsonutil

__all__ = [
    "LmsClient",
    "LmsCredentials",
    "LmsError",
    "LmsLoan",
    "LmsReceipt",
    "LmsRefused",
    "LmsUnavailable",
    "LoanPage",
    "PostedReceipt",
    "ReceiptPost",
    "payment_mode_for",
]

RECEIPTS_PATH = "/api/v1/receipts"
LOANS_PATH = "/api/v1/loans"
PAGE_MAX = 500
REASON_MAX = 200


def _sleep(seconds: float) -> None:
    """Module-level so tests can make the backoff instant."""
    time.sleep(seconds)


def _once(_result: Result) -> bool:
    """A write is sent once: its caller resolves an unknown outcome before sending again."""
    return False


class LmsClient:
    def __init__(
        self,
        base_url: str,
        credentials: Callable[[], LmsCredentials],
        *,
        timeout_seconds: float = 5.0,
        budget_seconds: float = 10.0,
        backoff: tuple[float, ...] = (0.25, 1.0),
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`now` is the clock a token's lifetime is measured on; `monotonic` the budget's."""
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
        self._tokens = TokenCache(self._transport, credentials, now)

    @property
    def calls(self) -> int:
        """HTTP requests made (attempts, token requests included)."""
        return self._transport.calls

    # ------------------------------------------------------------------ operations

    def post_receipt(self, receipt: ReceiptPost) -> PostedReceipt:
        """201: created and applied; 200: the LMS had this reference (`created` False)."""
        answer = self._exchange("POST", RECEIPTS_PATH, receipt.body(), write=True)
        if answer.status in (200, 201):
            posted = self._receipt(answer, write=True)
            if posted.reference != receipt.reference:
                raise LmsUnavailable("the LMS answered another reference", outcome_unknown=True)
            return PostedReceipt(posted, created=answer.status == 201)
        raise failure(answer, write=True)

    def receipt_by_reference(self, reference: str) -> LmsReceipt | None:
        """The receipt posted (or since cancelled) under `reference`; None if none ever was."""
        path = f"{RECEIPTS_PATH}?{urlencode({'reference': reference})}"
        answer = self._exchange("GET", path)
        if answer.status == 200:
            found = self._receipt(answer, write=False)
            if found.reference != reference:
                raise LmsUnavailable("the LMS answered another reference")
            return found
        if answer.status == 404 and error_of(answer)[0] == "RECEIPT_NOT_FOUND":
            return None
        raise failure(answer, write=False)

    def cancel_receipt(self, receipt_id: str, reason: str) -> LmsReceipt:
        """Reverse a receipt (idempotent at the LMS: a cancelled one is answered again)."""
        if not reason or len(reason) > REASON_MAX:
            raise ValueError(f"a cancellation reason is 1 to {REASON_MAX} characters")
        path = f"{RECEIPTS_PATH}/{quote(receipt_id, safe='')}/cancellation"
        answer = self._exchange("POST", path, {"reason": reason}, write=True)
        if answer.status == 200:
            cancelled = self._receipt(answer, write=True)
            if cancelled.status != "CANCELLED" or cancelled.receipt_id != receipt_id:
                raise LmsUnavailable(
                    "the LMS did not answer the cancellation", outcome_unknown=True
                )
            return cancelled
        if answer.status == 404:
            raise LmsRefused(404, *error_of(answer))
        raise failure(answer, write=True)

    def loan(self, loan_account_number: str) -> LmsLoan | None:
        answer = self._exchange("GET", f"{LOANS_PATH}/{quote(loan_account_number, safe='')}")
        if answer.status == 200:
            return _parsed(LmsLoan.parse, answer.body)
        if answer.status == 404 and error_of(answer)[0] == "LOAN_NOT_FOUND":
            return None
        raise failure(answer, write=False)

    def loans_changed_since(
        self, watermark: str, cursor: str | None = None, limit: int = 100
    ) -> LoanPage:
        """One page of the loans changed at or after `watermark` (RFC 3339: an `updated_at`
        read before), oldest change first; pass `next_cursor` back with the same watermark
        for the next. ValueError for a bad watermark or limit, before any request."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
            raise ValueError(f"limit must be an integer from 1 to {PAGE_MAX}")
        query = {"changed_since": checked_watermark(watermark), "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        answer = self._exchange("GET", f"{LOANS_PATH}?{urlencode(query)}")
        if answer.status != 200:
            raise failure(answer, write=False)
        items, next_cursor = answer.body.get("items"), answer.body.get("next_cursor")
        if not isinstance(items, list) or not (next_cursor is None or isinstance(next_cursor, str)):
            raise LmsUnavailable("the LMS's page has no items or cursor")
        return LoanPage(tuple(_parsed(LmsLoan.parse, i) for i in items), next_cursor or None)

    # ------------------------------------------------------------------ HTTP

    def _exchange(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, write: bool = False
    ) -> Answer:
        """The answer to one call, a fresh token and one repeat after a 401 included; raises
        LmsUnavailable when there is none, or the token is refused again."""
        deadline = self._transport.deadline()
        payload = jsonutil.dumps(body).encode() if body is not None else None
        token = self._tokens.bearer(deadline)
        result = self._send(method, path, payload, token, write=write, deadline=deadline)
        if isinstance(result, Answer) and result.status == 401:  # the LMS took nothing
            token = self._tokens.bearer(deadline, refused=token)
            result = self._send(method, path, payload, token, write=write, deadline=deadline)
        route = path.split("?", maxsplit=1)[0]
        if isinstance(result, NoAnswer):
            raise LmsUnavailable(
                f"the LMS gave no answer to {method} {route}: {result.reason}",
                outcome_unknown=write and result.sent,
            )
        if result.status == 401:
            raise LmsUnavailable(f"the LMS refused a fresh token on {method} {route}", status=401)
        return result

    def _send(
        self,
        method: str,
        path: str,
        payload: bytes | None,
        token: str,
        *,
        write: bool,
        deadline: float,
    ) -> Result:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        retry = _once if write else read_again
        return self._transport.send(
            method, path, body=payload, headers=headers, retry=retry, deadline=deadline
        )

    @staticmethod
    def _receipt(answer: Answer, *, write: bool) -> LmsReceipt:
        try:
            return LmsReceipt.parse(answer.body)
        except Malformed as exc:
            raise LmsUnavailable(
                f"the LMS's receipt is unreadable: {exc}", outcome_unknown=write
            ) from None


def _parsed(parse: Callable[[Any], LmsLoan], body: Any) -> LmsLoan:
    try:
        return parse(body)
    except Malformed as exc:
        raise LmsUnavailable(f"the LMS's loan is unreadable: {exc}") from None
