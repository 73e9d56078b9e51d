"""A local stand-in for the Cognito user pool: it issues ID tokens and checks them the way
API Gateway's Cognito authorizer does (RS256 signature, issuer, audience, expiry, token_use).

The signing key is generated when the runner starts (or read back from --data-dir).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "local-admin-app"
DEMO_ADMIN = {"sub": "local-admin", "email": "admin@example.com", "groups": ["payout-admins"]}


class TokenRejected(Exception):
    """The request gets 401; `message` is what API Gateway would say."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class LocalIssuer:
    issuer: str
    private_key: rsa.RSAPrivateKey
    key_id: str = "local-1"

    @classmethod
    def create(cls, issuer: str) -> LocalIssuer:
        return cls(issuer, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def mint(self, ttl_seconds: int = 3600, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": DEMO_ADMIN["sub"],
            "cognito:username": DEMO_ADMIN["sub"],
            "email": DEMO_ADMIN["email"],
            "cognito:groups": DEMO_ADMIN["groups"],
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, header_value: str | None) -> dict[str, str]:
        """The claims, as strings, as the authorizer hands them to the integration."""
        if not header_value:
            raise TokenRejected("Unauthorized")
        token = header_value.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=CLIENT_ID,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("The incoming token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("Unauthorized") from exc
        if claims.get("token_use") != "id":
            raise TokenRejected("Unauthorized")
        return {k: _claim_text(v) for k, v in claims.items()}

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, issuer: str, pem: bytes) -> LocalIssuer:
        key = serialization.load_pem_private_key(pem, None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the local issuer key must be RSA")
        return cls(issuer, key)


def _claim_text(value: Any) -> str:
    # API Gateway passes Cognito claims to the integration as strings; groups as a list text.
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
