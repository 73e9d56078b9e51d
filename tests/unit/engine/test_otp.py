"""OTP and session rules without AWS: codes, hashes, masking, the response floor, the limits'
order, and what a failed SMS or a locked challenge answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.dal.ddb.sessions import ChallengeGone, ChallengeLocked, LimitReached
from engine.logic import otp
from engine.logic.sessions import Limits, Sessions, SessionVerifier
from engine.models.loan import Loan, mask_mobile, mask_name
from engine.models.portal import CHALLENGE_ID, CreateSessionRequest, ValidateLoanRequest
from engine.models.session import StoredChallenge, StoredSession
from shared.http import NotFound, RateLimited, Unauthorized

HASHER = otp.Hasher(b"k" * 32)
LOAN = Loan(
    "LN0000000001",
    "c-1",
    "Ravi Kumar",
    "9876543210",
    "HL",
    Decimal("100.00"),
    Decimal("10.00"),
    date(2026, 12, 5),
    Decimal("0.00"),
    "ACTIVE",
    "BR001",
)


def test_codes_are_six_digits_with_leading_zeros_kept() -> None:
    codes = {otp.new_otp() for _ in range(3000)}

    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes)
    assert any(c.startswith("0") for c in codes)
    assert len(codes) > 2900  # random, not a counter


def test_ids_and_tokens_fit_their_declared_patterns() -> None:
    assert re.fullmatch(CHALLENGE_ID, otp.new_challenge_id())
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", otp.new_session_token())


def test_hashes_are_keyed_and_labelled() -> None:
    other = otp.Hasher(b"j" * 32)

    assert HASHER.digest("otp", "c", "123456") != other.digest("otp", "c", "123456")
    assert HASHER.digest("otp", "c", "123456") != HASHER.digest("void", "c", "123456")
    # Parts are separated: ("ab", "c") is not ("a", "bc").
    assert HASHER.digest("pair", "ab", "c") != HASHER.digest("pair", "a", "bc")
    with pytest.raises(ValueError, match="32 bytes"):
        otp.Hasher(b"short")
    with pytest.raises(ValueError):
        otp.Hasher.from_secret({"hmac": "x" * 40})


def test_masks() -> None:
    assert mask_name("Ravi  Kumar") == "R*** K****"
    assert mask_name("") == ""
    assert mask_mobile("9876543210") == "******3210"


@dataclass
class FakeStore:
    refuse: dict[str, int] = field(default_factory=dict)  # counter name -> retry after
    hits: list[str] = field(default_factory=list)
    challenges: dict[str, StoredChallenge] = field(default_factory=dict)
    sessions: dict[str, StoredSession] = field(default_factory=dict)
    gone: bool = False
    locked: bool = False
    reads: list[list[Any]] = field(default_factory=list)

    def hit(self, name: str, key_hash: str, *, limit: int, window_seconds: int, now: int) -> None:
        self.hits.append(name)
        if name in self.refuse:
            raise LimitReached(self.refuse[name])

    def put_challenge(self, challenge: StoredChallenge) -> None:
        self.challenges[challenge.challenge_hash] = challenge

    def spend_attempt(self, challenge_hash: str, *, max_attempts: int, now: int) -> Any:
        if self.locked:
            raise ChallengeLocked(120)
        if self.gone or challenge_hash not in self.challenges:
            raise ChallengeGone("gone")
        found = self.challenges[challenge_hash]
        self.challenges[challenge_hash] = replace(found, attempts=found.attempts + 1)
        return self.challenges[challenge_hash]

    def open_session(self, challenge_hash: str, session: StoredSession, *, now: int) -> None:
        self.sessions[session.token_hash] = session

    def session(self, token_hash: str, *, now: int) -> StoredSession | None:
        found = self.sessions.get(token_hash)
        return found if found is not None and found.expires_at > now else None

    def session_with(
        self, token_hash: str, reads: Any, *, now: int
    ) -> tuple[StoredSession | None, list[dict[str, Any] | None]]:
        self.reads.append(list(reads))
        return self.session(token_hash, now=now), [{"read": r} for r in reads]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.t += seconds


def service(
    store: FakeStore,
    *,
    sms: Any = None,
    loans: Any = None,
    clock: Clock | None = None,
    failed: list[int] | None = None,
    work_seconds: float = 0.0,
) -> Sessions:
    ticks = clock or Clock()

    class Loans:
        def loan_by_number(self, number: str) -> Loan | None:
            ticks.t += work_seconds
            return LOAN if number == LOAN.loan_account_number else None

    class Sms:
        sent: list[tuple[str, str]] = []

        def send(self, mobile: str, text: str) -> None:
            self.sent.append((mobile, text))

    return Sessions(
        store=store,
        hasher=HASHER,
        limits=Limits(response_floor_seconds=0.5),
        loans=loans or Loans(),
        sms=sms or Sms(),
        now=lambda: 1_000_000.0,
        monotonic=ticks.monotonic,
        sleep=ticks.sleep,
        on_sms_failed=lambda: (failed if failed is not None else []).append(1),
    )


def test_the_ip_is_counted_before_the_pair_and_both_before_the_lookup() -> None:
    store = FakeStore(refuse={"otp-ip": 30})
    looked: list[str] = []

    class Loans:
        def loan_by_number(self, number: str) -> None:
            looked.append(number)

    with pytest.raises(RateLimited) as caught:
        service(store, loans=Loans()).validate_loan(
            ValidateLoanRequest(LOAN.loan_account_number, "9876543210"), "1.2.3.4"
        )

    assert caught.value.headers == {"Retry-After": "30"}
    assert store.hits == ["otp-ip"]
    assert looked == []


@pytest.mark.parametrize("loan_number", [LOAN.loan_account_number, "LN9999999999"])
def test_the_floor_pads_fast_answers_and_leaves_slow_ones(loan_number: str) -> None:
    for work in (0.1, 0.7):
        ticks = Clock()
        service(FakeStore(), clock=ticks, work_seconds=work).validate_loan(
            ValidateLoanRequest(loan_number, "9876543210"), "1.2.3.4"
        )
        assert ticks.slept == ([0.4] if work < 0.5 else [])


def test_a_lookup_that_fails_is_padded_to_the_floor_too() -> None:
    ticks = Clock()

    class Down:
        def loan_by_number(self, number: str) -> None:
            ticks.t += 0.2
            raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        service(FakeStore(), clock=ticks, loans=Down()).validate_loan(
            ValidateLoanRequest(LOAN.loan_account_number, "9876543210"), "1.2.3.4"
        )

    assert ticks.slept == [0.3]


def test_a_failed_sms_is_counted_and_answered_as_usual() -> None:
    class Broken:
        def send(self, mobile: str, text: str) -> None:
            raise RuntimeError("+919876543210 refused")

    failed: list[int] = []
    issued = service(FakeStore(), sms=Broken(), failed=failed).validate_loan(
        ValidateLoanRequest(LOAN.loan_account_number, "9876543210"), "1.2.3.4"
    )

    assert issued.otp_sent_to == "******3210"
    assert failed == [1]


def test_a_wrong_code_and_a_gone_challenge_answer_alike_and_a_locked_one_429() -> None:
    store = FakeStore()
    sessions = service(store)
    issued = sessions.validate_loan(
        ValidateLoanRequest(LOAN.loan_account_number, "9876543210"), "1.2.3.4"
    )

    with pytest.raises(Unauthorized) as wrong:
        sessions.open_session(CreateSessionRequest(issued.challenge_id, "000000"), "1.2.3.4")
    store.gone = True
    with pytest.raises(Unauthorized) as gone:
        sessions.open_session(CreateSessionRequest(issued.challenge_id, "000000"), "1.2.3.4")
    store.locked = True
    with pytest.raises(RateLimited) as locked:
        sessions.open_session(CreateSessionRequest(issued.challenge_id, "000000"), "1.2.3.4")

    assert wrong.value.message == gone.value.message
    assert locked.value.headers["Retry-After"] == "120"


def test_the_verifier_binds_the_session_to_its_loan() -> None:
    store = FakeStore()
    token = otp.new_session_token()
    store.sessions[HASHER.digest("session", token)] = StoredSession(
        "h", LOAN.loan_account_number, 2_000_000, "t"
    )
    verifier = SessionVerifier(store, HASHER, now=lambda: 1_000_000.0)

    session = verifier.verify(token)
    session.require_loan(LOAN.loan_account_number)

    with pytest.raises(NotFound):
        session.require_loan("LN0000000002")
    for bad in (None, "", token + "x", otp.new_session_token()):
        with pytest.raises(Unauthorized):
            verifier.verify(bad)


def test_the_verifier_reads_other_items_with_the_session_and_checks_it_the_same_way() -> None:
    store = FakeStore()
    token, expired = otp.new_session_token(), otp.new_session_token()
    store.sessions[HASHER.digest("session", token)] = StoredSession(
        "h", LOAN.loan_account_number, 2_000_000, "t"
    )
    store.sessions[HASHER.digest("session", expired)] = StoredSession(
        "h", LOAN.loan_account_number, 1_000_000, "t"
    )
    verifier = SessionVerifier(store, HASHER, now=lambda: 1_000_000.0)

    session, items = verifier.verify_with(token, [{"Get": "payment"}])

    assert session.loan_account_number == LOAN.loan_account_number
    assert items == [{"read": {"Get": "payment"}}]
    with pytest.raises(NotFound):
        session.require_loan("LN0000000002")
    with pytest.raises(Unauthorized):  # expired this very second: nothing handed back
        verifier.verify_with(expired, [{"Get": "payment"}])
    reads_so_far = len(store.reads)
    for bad in (None, "", token + "x"):
        with pytest.raises(Unauthorized):
            verifier.verify_with(bad, [{"Get": "payment"}])
    assert len(store.reads) == reads_so_far  # a malformed token reads nothing
