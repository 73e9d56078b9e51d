"""Signing a customer in: a loan account and its mobile number, a code by SMS, a session.

Nothing a caller sees may tell whether a (loan, mobile) pair matched: the answer, the status,
the stored challenge's shape and the time taken are the same either way. Only a matching
pair's code is sent; a pair that matches nothing gets a challenge that can never verify.
Limits count the submitted pair (matching or not, so they reveal nothing and a stranger
guessing numbers cannot lock a real customer's own pair), the source IP, and the wrong codes
per challenge, all in short windows.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from engine.dal.ddb.sessions import ChallengeGone, ChallengeLocked, LimitReached
from engine.logic import otp
from engine.models.loan import mask_mobile
from engine.models.session import (
    ChallengeIssued,
    CustomerSession,
    SessionOpened,
    StoredChallenge,
    StoredSession,
)
from shared import clock
from shared.http import RateLimited, Unauthorized

if TYPE_CHECKING:
    from engine.models.loan import Loan
    from engine.models.portal import CreateSessionRequest, ValidateLoanRequest

logger = logging.getLogger(__name__)

# The text registered with the DLT template (SMS_OTP_TEMPLATE_ID): operators drop an SMS
# whose text does not match its template, so change both together.
OTP_TEXT = (
    "{otp} is your OTP to view and pay your Fivestar loan. Valid for {minutes} minutes."
    " Do not share it."
)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # otp.new_session_token()
_WRONG_CODE = "the code is wrong or has expired"


class Loans(Protocol):
    def loan_by_number(self, loan_account_number: str) -> Loan | None: ...


class Sms(Protocol):
    def send(self, mobile_number: str, text: str) -> None: ...


class Store(Protocol):
    def hit(
        self, name: str, key_hash: str, *, limit: int, window_seconds: int, now: int
    ) -> None: ...
    def put_challenge(self, challenge: StoredChallenge) -> None: ...
    def spend_attempt(
        self, challenge_hash: str, *, max_attempts: int, now: int
    ) -> StoredChallenge: ...
    def open_session(self, challenge_hash: str, session: StoredSession, *, now: int) -> None: ...
    def session(self, token_hash: str, *, now: int) -> StoredSession | None: ...
    def session_with(
        self, token_hash: str, reads: Sequence[dict[str, Any]], *, now: int
    ) -> tuple[StoredSession | None, list[dict[str, Any] | None]]: ...


@dataclass(frozen=True)
class Limits:
    otp_ttl_seconds: int = 300
    session_ttl_seconds: int = 900
    sends_per_pair: int = 3
    pair_window_seconds: int = 900
    requests_per_ip: int = 20
    ip_window_seconds: int = 300
    max_wrong_attempts: int = 5
    session_requests_per_ip: int = 30
    response_floor_seconds: float = 0.8


class Sessions:
    def __init__(
        self,
        *,
        store: Store,
        hasher: otp.Hasher,
        limits: Limits,
        loans: Loans,
        sms: Sms,
        now: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_sms_failed: Callable[[], None] = lambda: None,
    ) -> None:
        self._store, self._hash, self._limits = store, hasher, limits
        self._loans, self._sms = loans, sms
        self._now, self._monotonic, self._sleep = now or _epoch, monotonic, sleep
        self._on_sms_failed = on_sms_failed

    # ------------------------------------------------------------- validate-loan

    def validate_loan(self, request: ValidateLoanRequest, source_ip: str) -> ChallengeIssued:
        started = self._monotonic()
        try:
            return self._issue(request, source_ip)
        finally:
            # Every outcome past the limits (matched, not matched, SMS failed, database
            # down) takes at least the floor, so timing does not tell them apart.
            left = self._limits.response_floor_seconds - (self._monotonic() - started)
            if left > 0:
                self._sleep(left)

    def _issue(self, request: ValidateLoanRequest, source_ip: str) -> ChallengeIssued:
        now = int(self._now())
        limits = self._limits
        self._count(
            "otp-ip",
            self._hash.digest("ip", source_ip),
            limits.requests_per_ip,
            limits.ip_window_seconds,
            now,
        )
        pair = self._hash.digest("pair", request.loan_account_number, request.mobile_number)
        self._count("otp-pair", pair, limits.sends_per_pair, limits.pair_window_seconds, now)
        loan = self._loans.loan_by_number(request.loan_account_number)
        matched = _matches(loan, request.mobile_number)
        challenge_id = otp.new_challenge_id()
        code = otp.new_otp()
        # A pair that matched nothing stores the hash of 32 random bytes under another label:
        # the same shape, and no 6-digit code can ever produce it.
        otp_hash = (
            self._hash.digest("otp", challenge_id, code)
            if matched
            else self._hash.digest("void", challenge_id, secrets.token_hex(32))
        )
        self._store.put_challenge(
            StoredChallenge(
                challenge_hash=self._hash.digest("challenge", challenge_id),
                loan_account_number=request.loan_account_number,
                otp_hash=otp_hash,
                attempts=0,
                expires_at=now + limits.otp_ttl_seconds,
                created_at=clock.iso(clock.now()),
            )
        )
        if matched:
            self._send(request.mobile_number, code)
        logger.info("challenge issued", extra={"matched": matched})
        return ChallengeIssued(
            challenge_id, mask_mobile(request.mobile_number), limits.otp_ttl_seconds
        )

    def _send(self, mobile_number: str, code: str) -> None:
        minutes = max(1, self._limits.otp_ttl_seconds // 60)
        try:
            self._sms.send(mobile_number, OTP_TEXT.format(otp=code, minutes=minutes))
        except Exception as exc:
            # Answered like every other validate-loan: an error here would tell the caller
            # the pair matched. The customer asks again; the metric pages if it persists.
            logger.error("OTP SMS not sent", extra={"error_type": type(exc).__name__})
            self._on_sms_failed()

    # ------------------------------------------------------------------ sessions

    def open_session(self, request: CreateSessionRequest, source_ip: str) -> SessionOpened:
        now = int(self._now())
        limits = self._limits
        self._count(
            "session-ip",
            self._hash.digest("ip", source_ip),
            limits.session_requests_per_ip,
            limits.ip_window_seconds,
            now,
        )
        challenge_hash = self._hash.digest("challenge", request.challenge_id)
        try:
            challenge = self._store.spend_attempt(
                challenge_hash, max_attempts=limits.max_wrong_attempts, now=now
            )
        except ChallengeGone:
            raise _wrong_code() from None
        except ChallengeLocked as locked:
            raise RateLimited(
                "too many wrong codes: ask for a new one",
                retry_after_seconds=locked.retry_after_seconds,
                details=[{"field": "otp", "issue": "too many wrong codes"}],
            ) from None
        expected = self._hash.digest("otp", request.challenge_id, request.otp)
        if not otp.same(expected, challenge.otp_hash):
            raise _wrong_code()
        token = otp.new_session_token()
        session = StoredSession(
            token_hash=self._hash.digest("session", token),
            loan_account_number=challenge.loan_account_number,
            expires_at=now + limits.session_ttl_seconds,
            created_at=clock.iso(clock.now()),
        )
        try:
            self._store.open_session(challenge_hash, session, now=now)
        except ChallengeGone:
            raise _wrong_code() from None
        return SessionOpened(token, limits.session_ttl_seconds)

    def _count(self, name: str, key: str, limit: int, window: int, now: int) -> None:
        try:
            self._store.hit(name, key, limit=limit, window_seconds=window, now=now)
        except LimitReached as reached:
            raise RateLimited(
                "too many requests: try again later",
                retry_after_seconds=reached.retry_after_seconds,
            ) from None


class SessionVerifier:
    """Turns an `X-Session-Token` into the session's loan, or 401."""

    def __init__(
        self, store: Store, hasher: otp.Hasher, now: Callable[[], float] | None = None
    ) -> None:
        self._store, self._hash, self._now = store, hasher, now or _epoch

    def verify(self, token: str | None) -> CustomerSession:
        token_hash = self._token_hash(token)
        return _verified(self._store.session(token_hash, now=int(self._now())))

    def verify_with(
        self, token: str | None, reads: Sequence[dict[str, Any]]
    ) -> tuple[CustomerSession, list[dict[str, Any] | None]]:
        """`verify`, with the items `reads` names (another store's `{"Get": ...}` items, such
        as the payment a route is about) read in the same request as the session. The same
        checks, in the same order: a malformed token is refused before anything is read, and
        nothing read is handed back unless the session is live."""
        token_hash = self._token_hash(token)
        stored, items = self._store.session_with(token_hash, reads, now=int(self._now()))
        return _verified(stored), items

    def _token_hash(self, token: str | None) -> str:
        if not token or not _TOKEN.fullmatch(token):
            raise Unauthorized("a valid X-Session-Token is required")
        return self._hash.digest("session", token)


def _verified(stored: StoredSession | None) -> CustomerSession:
    if stored is None:
        raise Unauthorized("the session does not exist or has expired")
    return CustomerSession(stored.loan_account_number, stored.expires_at)


def _epoch() -> float:
    """Read through the module, so tests that move shared.clock move these too."""
    return clock.epoch()


def _matches(loan: Loan | None, mobile_number: str) -> bool:
    if loan is None or loan.mobile_number is None:
        return False
    return otp.same(loan.mobile_number, mobile_number)


def _wrong_code() -> Unauthorized:
    return Unauthorized(_WRONG_CODE, details=[{"field": "otp", "issue": "wrong or expired"}])
