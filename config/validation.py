"""Checks shared by every system's config; each returns a message or None.

They run at synth, so a typo in an account id or a provider detail fails in seconds
on a laptop instead of minutes later in CloudFormation or, worse, at the first payout.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

ACCOUNT_RE = re.compile(r"^\d{12}$")
BSB_RE = re.compile(r"^\d{3}-\d{3}$")
MACCOUNT_TOKEN_RE = re.compile(r"^\d{16}$")
HEX_RE = re.compile(r"^(?:[0-9a-f]{2})+$")
ACCOUNT_NUMBER_RE = re.compile(r"^\d{6,10}$")

MIN_RSA_BITS = 2048
_DER_SEQUENCE = 0x30
_DER_INTEGER = 0x02


class ConfigError(ValueError):
    """Raised by `validate()` with every problem of one environment listed."""


def check_account(value: str) -> str | None:
    if ACCOUNT_RE.fullmatch(value):
        return None
    return f"account {value!r} must be exactly 12 digits"


def check_https_url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        return f"{value!r} must be an https:// URL with a host"
    if parsed.path not in ("", "/") or parsed.query:
        return f"{value!r} must be a base URL (no path or query)"
    return None


def check_bsb(value: str) -> str | None:
    if not BSB_RE.fullmatch(value):
        return f"BSB {value!r} must look like 'NNN-NNN'"
    # A BSB of one repeated digit (000-000, 999-999) is what people type as a
    # placeholder; no Australian institution is issued one, so treat it as a mistake.
    if len(set(value.replace("-", ""))) == 1:
        return f"BSB {value!r} is a placeholder, not an issued BSB"
    return None


def check_account_number(value: str) -> str | None:
    if ACCOUNT_NUMBER_RE.fullmatch(value):
        return None
    return f"account number {value!r} must be 6 to 10 digits"


def check_maccount_token(value: str) -> str | None:
    if not MACCOUNT_TOKEN_RE.fullmatch(value):
        return f"mAccount token {value!r} must be exactly 16 digits"
    # mAccount numbers are issued like card numbers and carry a Luhn check digit,
    # so a transposed digit is caught here rather than by a rejected payout.
    if not _luhn_ok(value):
        return f"mAccount token {value!r} fails its Luhn check digit"
    return None


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_rsa_public_key_hex(value: str) -> str | None:
    """A lower-case hex DER PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }."""
    if not HEX_RE.fullmatch(value):
        return "webhook public key must be lower-case hex with an even number of digits"
    try:
        modulus, exponent = _parse_pkcs1(bytes.fromhex(value))
    except ValueError as err:
        return f"webhook public key is not a DER PKCS#1 RSA public key ({err})"
    if modulus.bit_length() < MIN_RSA_BITS:
        return f"webhook public key has {modulus.bit_length()} bits; at least {MIN_RSA_BITS}"
    if exponent < 3 or exponent % 2 == 0:
        return "webhook public key has an invalid public exponent"
    return None


def _parse_pkcs1(der: bytes) -> tuple[int, int]:
    body, rest = _read_tlv(der, _DER_SEQUENCE)
    if rest:
        raise ValueError("trailing bytes after the key")
    modulus_bytes, body = _read_tlv(body, _DER_INTEGER)
    exponent_bytes, body = _read_tlv(body, _DER_INTEGER)
    if body:
        raise ValueError("unexpected fields after the exponent")
    return int.from_bytes(modulus_bytes, "big"), int.from_bytes(exponent_bytes, "big")


def _read_tlv(data: bytes, tag: int) -> tuple[bytes, bytes]:
    if len(data) < 2 or data[0] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x}")
    length, offset = data[1], 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or len(data) < 2 + size:
            raise ValueError("bad DER length")
        length, offset = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
    end = offset + length
    if end > len(data):
        raise ValueError("DER length runs past the end")
    return data[offset:end], data[end:]


def check_positive(name: str, value: float) -> str | None:
    return None if value > 0 else f"{name} must be positive, got {value}"


def check_availability_zones(region: str, zones: tuple[str, ...]) -> str | None:
    if not zones:
        return "availability_zones must list at least one zone"
    wrong = [zone for zone in zones if not re.fullmatch(rf"{re.escape(region)}[a-z]", zone)]
    if wrong:
        return f"availability zones {wrong} are not zones of {region}"
    return None
