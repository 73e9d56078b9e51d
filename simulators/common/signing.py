"""Signing and credential helpers: HMAC-SHA256 hex and HTTP Basic credentials, constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["basic_credentials", "hmac_sha256_hex", "same_text"]


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def hmac_sha256_hex(key: str | bytes, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 (RazorPay's webhook and checkout signatures)."""
    return hmac.new(_bytes(key), _bytes(message), hashlib.sha256).hexdigest()


def same_text(given: str, expected: str) -> bool:
    """Equality that takes the same time wherever the two differ."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(username, password)`` of a ``Basic`` Authorization header, or None if malformed."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None
