"""One-time codes and the keyed hashes that stand in for every secret the Sessions table holds.

Challenges, OTPs, session tokens, (loan, mobile) pairs and source IPs are stored only as
HMAC-SHA256 under a key from Secrets Manager, each under its own label so one kind of hash
can never be replayed as another. A table read alone lets nobody sign in or learn a number.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

OTP_DIGITS = 6
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class Hasher:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ValueError(f"the hash key must be at least {MIN_KEY_BYTES} bytes")

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> Hasher:
        """The secret is a JSON object {"key": "<at least 32 characters>"}."""
        key = secret.get("key")
        if not isinstance(key, str):
            raise ValueError("the hash key secret has no string 'key'")
        return cls(key.encode("utf-8"))

    def digest(self, label: str, *parts: str) -> str:
        message = "\x1f".join((label, *parts)).encode("utf-8")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def new_otp() -> str:
    """Six digits from the OS's CSPRNG; leading zeros kept."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def new_challenge_id() -> str:
    return secrets.token_urlsafe(24)  # 32 characters: models.portal.CHALLENGE_ID


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
