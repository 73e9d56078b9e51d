"""shared.fieldcrypto.FieldCrypto: envelope encryption of destination fields, KMS from moto."""

from __future__ import annotations

import base64
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from shared import fieldcrypto
from shared.fieldcrypto import FieldCrypto, FieldDecryptionError

SCOPE = "customer/cust-1/BankAccount"
FIELDS = {"bsb": "062-205", "account_number": "12345678", "account_name": "Jane Citizen"}


class CountingKms:
    """Passes calls to the moto KMS client and counts them by operation."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def generate_data_key(self, **kwargs: Any) -> Any:
        self.calls["generate_data_key"] += 1
        return self.inner.generate_data_key(**kwargs)

    def decrypt(self, **kwargs: Any) -> Any:
        self.calls["decrypt"] += 1
        return self.inner.decrypt(**kwargs)


@pytest.fixture
def key_id(kms: Any) -> str:
    return str(kms.create_key(Description="pii")["KeyMetadata"]["Arn"])


@pytest.fixture
def counting(kms: Any) -> CountingKms:
    return CountingKms(kms)


@pytest.fixture
def crypto(counting: CountingKms, key_id: str) -> FieldCrypto:
    return FieldCrypto(counting, key_id)


def flip(token: str, index: int) -> str:
    raw = bytearray(base64.b64decode(token))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip(crypto: FieldCrypto, counting: CountingKms, key_id: str) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    assert set(tokens) == set(FIELDS)
    assert crypto.open(SCOPE, wrapped, tokens) == FIELDS
    # A fresh container (no cache) opens it too, through KMS.
    assert FieldCrypto(counting, key_id).open(SCOPE, wrapped, tokens) == FIELDS


def test_ciphertext_never_contains_the_plaintext(crypto: FieldCrypto) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    for name, value in FIELDS.items():
        raw = base64.b64decode(tokens[name])
        assert value not in tokens[name]
        assert value.encode() not in raw
        assert value.encode() not in wrapped
        assert len(raw) == 12 + len(value.encode()) + 16  # nonce + ciphertext + GCM tag


def test_same_value_seals_differently_each_time(crypto: FieldCrypto) -> None:
    _, first = crypto.seal(SCOPE, {"bsb": "062-205"})
    _, second = crypto.seal(SCOPE, {"bsb": "062-205"})

    assert first["bsb"] != second["bsb"]


def test_another_scope_cannot_open(crypto: FieldCrypto) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    with pytest.raises(FieldDecryptionError):
        crypto.open("customer/cust-2/BankAccount", wrapped, tokens)
    with pytest.raises(FieldDecryptionError):
        crypto.open("customer/cust-1/PayId", wrapped, tokens)


def test_token_moved_to_another_field_cannot_open(crypto: FieldCrypto) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    with pytest.raises(FieldDecryptionError, match="account_number"):
        crypto.open(SCOPE, wrapped, {"account_number": tokens["bsb"]})


@pytest.mark.parametrize("index", [0, 11, 12, -1], ids=["nonce", "nonce-end", "body", "tag"])
def test_tampered_token_cannot_open(crypto: FieldCrypto, index: int) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    with pytest.raises(FieldDecryptionError):
        crypto.open(SCOPE, wrapped, {"bsb": flip(tokens["bsb"], index)})


def test_token_under_another_data_key_cannot_open(counting: CountingKms, key_id: str) -> None:
    writer = FieldCrypto(counting, key_id, max_uses=1)
    first_key, _ = writer.seal(SCOPE, FIELDS)
    second_key, tokens = writer.seal(SCOPE, FIELDS)

    assert first_key != second_key
    with pytest.raises(FieldDecryptionError):
        writer.open(SCOPE, first_key, tokens)


def test_token_that_is_not_base64_is_a_decryption_error(crypto: FieldCrypto) -> None:
    wrapped, tokens = crypto.seal(SCOPE, FIELDS)

    with pytest.raises(FieldDecryptionError):
        crypto.open(SCOPE, wrapped, {"bsb": tokens["bsb"][:-1]})


def test_data_key_is_bound_to_the_encryption_context(kms: Any, crypto: FieldCrypto) -> None:
    wrapped, _ = crypto.seal(SCOPE, FIELDS)

    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"purpose": "other"})


# --- data-key cache -------------------------------------------------------------------------


def test_writer_reuses_its_data_key_and_opens_without_kms(
    crypto: FieldCrypto, counting: CountingKms
) -> None:
    first_key, first = crypto.seal(SCOPE, FIELDS)
    second_key, second = crypto.seal("customer/cust-2/PayId", {"pay_id": "a@b.co"})

    assert first_key == second_key
    assert crypto.open(SCOPE, first_key, first) == FIELDS
    assert crypto.open("customer/cust-2/PayId", second_key, second) == {"pay_id": "a@b.co"}
    assert counting.calls == Counter({"generate_data_key": 1})


def test_reader_decrypts_a_wrapped_key_once(counting: CountingKms, key_id: str) -> None:
    wrapped, tokens = FieldCrypto(counting, key_id).seal(SCOPE, FIELDS)
    reader = FieldCrypto(counting, key_id)

    reader.open(SCOPE, wrapped, tokens)
    reader.open(SCOPE, wrapped, tokens)
    reader.open(SCOPE, bytes(wrapped), {"bsb": tokens["bsb"]})

    assert counting.calls["decrypt"] == 1


def test_reader_decrypts_each_distinct_wrapped_key(counting: CountingKms, key_id: str) -> None:
    writer = FieldCrypto(counting, key_id, max_uses=1)
    sealed = [writer.seal(SCOPE, FIELDS) for _ in range(3)]
    reader = FieldCrypto(counting, key_id)

    for wrapped, tokens in sealed + sealed:
        assert reader.open(SCOPE, wrapped, tokens) == FIELDS

    assert counting.calls["decrypt"] == 3


def test_new_writer_key_after_max_uses(counting: CountingKms, key_id: str) -> None:
    writer = FieldCrypto(counting, key_id, max_uses=2)

    keys = [writer.seal(SCOPE, FIELDS)[0] for _ in range(5)]

    assert keys[0] == keys[1]
    assert keys[2] == keys[3]
    assert keys[1] != keys[2]
    assert keys[3] != keys[4]
    assert counting.calls["generate_data_key"] == 3


def test_cached_keys_expire_after_max_age(
    monkeypatch: pytest.MonkeyPatch, counting: CountingKms, key_id: str
) -> None:
    now = [1000.0]
    monkeypatch.setattr(fieldcrypto, "time", SimpleNamespace(monotonic=lambda: now[0]))
    writer = FieldCrypto(counting, key_id, max_age_seconds=300)
    wrapped, tokens = writer.seal(SCOPE, FIELDS)
    reader = FieldCrypto(counting, key_id, max_age_seconds=300)

    reader.open(SCOPE, wrapped, tokens)
    now[0] = 1299.0
    reader.open(SCOPE, wrapped, tokens)
    same_key, _ = writer.seal(SCOPE, FIELDS)
    assert counting.calls == Counter({"generate_data_key": 1, "decrypt": 1})
    assert same_key == wrapped

    now[0] = 1300.0
    reader.open(SCOPE, wrapped, tokens)
    new_key, _ = writer.seal(SCOPE, FIELDS)

    assert counting.calls == Counter({"generate_data_key": 2, "decrypt": 2})
    assert new_key != wrapped
