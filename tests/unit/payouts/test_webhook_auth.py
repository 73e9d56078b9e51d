"""payouts.logic.webhook_auth: subscription token and RSA signature of Monoova webhooks."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from payouts.logic.webhook_auth import check_signature, check_token, public_keys
from shared.http import Unauthorized

BODY = b'{"UniqueReference":"po_1","Status":"Payment Successful","Amount":100.10}'


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return tuple(  # type: ignore[return-value]
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)
    )


def public_hex(key: rsa.RSAPrivateKey) -> str:
    """As Monoova publishes it: hex of a DER PKCS#1 RSAPublicKey."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return der.hex()


def sign(key: rsa.RSAPrivateKey, body: bytes = BODY) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


# --- token ----------------------------------------------------------------------------------


def test_matching_token_passes() -> None:
    check_token("Basic Rjc1c2VjcmV0", ["Basic Rjc1c2VjcmV0"])
    check_token("  Basic Rjc1c2VjcmV0 ", ["Basic Rjc1c2VjcmV0\n"])  # surrounding space ignored


def test_previous_token_is_accepted_during_a_rotation() -> None:
    check_token("Basic b2xk", ["Basic bmV3", "Basic b2xk"])
    with pytest.raises(Unauthorized):
        check_token("Basic b3RoZXI=", ["Basic bmV3", "Basic b2xk"])


@pytest.mark.parametrize(
    "presented",
    ["Basic Rjc1c2VjcmV1", "Basic Rjc1c2VjcmV0x", "Rjc1c2VjcmV0", "basic Rjc1c2VjcmV0", "", None],
)
def test_other_or_missing_token_fails(presented: str | None) -> None:
    with pytest.raises(Unauthorized):
        check_token(presented, ["Basic Rjc1c2VjcmV0", ""])


def test_empty_expected_token_fails_closed() -> None:
    with pytest.raises(Unauthorized):
        check_token("anything", ["", "  "])


# --- signature ------------------------------------------------------------------------------


def test_sample_key_format_loads(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    text = public_hex(keys[0])

    assert text.startswith("3082010a0282010100")  # DER PKCS#1 RSAPublicKey, RSA-2048
    assert len(public_keys(text)) == 1


def test_signature_with_the_only_key(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    check_signature(BODY, sign(keys[0]), public_hex(keys[0]))


@pytest.mark.parametrize("signer", [0, 1], ids=["first-key", "second-key"])
def test_signature_with_either_of_two_keys(
    keys: tuple[rsa.RSAPrivateKey, ...], signer: int
) -> None:
    configured = f"{public_hex(keys[0])}, {public_hex(keys[1])}"

    check_signature(BODY, sign(keys[signer]), configured)


def test_signature_of_an_unconfigured_key_fails(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    configured = f"{public_hex(keys[0])},{public_hex(keys[1])}"

    with pytest.raises(Unauthorized, match="does not match"):
        check_signature(BODY, sign(keys[2]), configured)


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_body_changed_by_one_byte_fails(keys: tuple[rsa.RSAPrivateKey, ...], position: int) -> None:
    changed = bytearray(BODY)
    changed[position] ^= 0x01

    with pytest.raises(Unauthorized, match="does not match"):
        check_signature(bytes(changed), sign(keys[0]), public_hex(keys[0]))


def test_body_with_an_extra_byte_fails(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    with pytest.raises(Unauthorized):
        check_signature(BODY + b"\n", sign(keys[0]), public_hex(keys[0]))


def test_pss_signature_is_not_accepted(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    pss = keys[0].sign(
        BODY,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH),
        hashes.SHA256(),
    )

    with pytest.raises(Unauthorized):
        check_signature(BODY, base64.b64encode(pss).decode(), public_hex(keys[0]))


@pytest.mark.parametrize("signature", ["not base64!", "abc", "@@@@", "YWJj\x00"])
def test_non_base64_signature_fails(keys: tuple[rsa.RSAPrivateKey, ...], signature: str) -> None:
    with pytest.raises(Unauthorized, match="not base64"):
        check_signature(BODY, signature, public_hex(keys[0]))


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_fails(
    keys: tuple[rsa.RSAPrivateKey, ...], signature: str | None
) -> None:
    with pytest.raises(Unauthorized, match="missing"):
        check_signature(BODY, signature, public_hex(keys[0]))


def test_valid_base64_of_the_wrong_length_fails(keys: tuple[rsa.RSAPrivateKey, ...]) -> None:
    with pytest.raises(Unauthorized):
        check_signature(BODY, base64.b64encode(b"\x00" * 129).decode(), public_hex(keys[0]))


@pytest.mark.parametrize("configured", ["", " , ", ","])
def test_no_configured_key_is_a_configuration_error(configured: str) -> None:
    with pytest.raises(ValueError, match="no webhook verification key"):
        public_keys(configured)


def test_non_rsa_key_is_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = ec_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(ValueError, match="must be RSA"):
        public_keys(der.hex())
