"""Customer-portal challenges and sessions, as stored (hashes only) and as handed out."""

from __future__ import annotations

from dataclasses import dataclass

from shared.http import NotFound


@dataclass(frozen=True)
class StoredChallenge:
    """A challenge item. `otp_hash` is the keyed hash of the code sent, or, for a pair that
    matched no loan, of a random value no 6-digit code can produce: the item looks the same."""

    challenge_hash: str
    loan_account_number: str
    otp_hash: str
    attempts: int
    expires_at: int  # epoch seconds (also the table's TTL attribute)
    created_at: str


@dataclass(frozen=True)
class StoredSession:
    token_hash: str
    loan_account_number: str
    expires_at: int
    created_at: str


@dataclass(frozen=True)
class CustomerSession:
    """A verified `X-Session-Token`: the one loan it may read and pay."""

    loan_account_number: str
    expires_at: int

    def require_loan(self, loan_account_number: str) -> None:
        """Another loan is answered exactly as a loan that does not exist: nothing leaks."""
        if loan_account_number != self.loan_account_number:
            raise loan_not_found()


def loan_not_found() -> NotFound:
    return NotFound(
        "no such loan", details=[{"field": "loan_account_number", "issue": "not found"}]
    )


@dataclass(frozen=True)
class ChallengeIssued:
    challenge_id: str
    otp_sent_to: str
    expires_in: int

    def to_api(self) -> dict[str, object]:
        return {
            "challenge_id": self.challenge_id,
            "otp_sent_to": self.otp_sent_to,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class SessionOpened:
    session_token: str
    expires_in: int

    def to_api(self) -> dict[str, object]:
        return {"session_token": self.session_token, "expires_in": self.expires_in}
