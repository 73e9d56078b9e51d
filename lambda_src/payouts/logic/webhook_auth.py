"""Authenticating Monoova webhooks: the subscription token and the RSA signature.

The token is compared in constant time. The signature is RSA PKCS#1 v1.5 with SHA-256 over
the raw body, checked against every configured public key, so a yearly key rotation is
"add the new key, deploy, remove the old one later" with no window of rejected webhooks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.http import Unauthorized


def check_token(presented: str | None, accepted: list[str]) -> None:
    """`accepted` holds the current token and, during a rotation, the previous one."""
    tokens = [t.strip().encode() for t in accepted if t and t.strip()]
    if not presented or not tokens:
        raise Unauthorized("missing or invalid Authorization")
    offered = presented.strip().encode()
    # Compare against every token, always, so timing does not tell which one nearly matched.
    matches = [hmac.compare_digest(offered, token) for token in tokens]
    if not any(matches):
        raise Unauthorized("missing or invalid Authorization")


def check_signature(raw_body: bytes, signature_b64: str | None, keys_hex: str) -> None:
    if not signature_b64:
        raise Unauthorized("missing Verification-Signature")
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized("Verification-Signature is not base64") from exc
    for key in public_keys(keys_hex):
        try:
            key.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return
    raise Unauthorized("Verification-Signature does not match")


@cache
def public_keys(keys_hex: str) -> tuple[rsa.RSAPublicKey, ...]:
    """Monoova publishes its key as hex of a DER PKCS#1 RSAPublicKey; comma-separated here."""
    loaded = []
    for text in (k.strip() for k in keys_hex.split(",")):
        if not text:
            continue
        key = serialization.load_der_public_key(bytes.fromhex(text))
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("webhook verification keys must be RSA")
        loaded.append(key)
    if not loaded:
        raise ValueError("no webhook verification key configured")
    return tuple(loaded)
