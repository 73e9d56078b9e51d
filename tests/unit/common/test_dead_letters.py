"""The shared dead-letter envelope: exact bytes back, one system never opens another's."""

from __future__ import annotations

import json

import pytest

from shared.dead_letters import ERROR_LIMIT, open_letter, seal


def test_the_raw_body_comes_back_byte_for_byte_with_the_extra_fields() -> None:
    body = b'{"a": 1}\r\n\xff\x00 not utf-8'

    raw, data = open_letter(seal("x-webhook", body, "Boom", "req-1", webhook_id="w-9"), "x-webhook")

    assert raw == body
    assert (data["webhook_id"], data["error"], data["request_id"]) == ("w-9", "Boom", "req-1")


def test_another_systems_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="not a razorpay-webhook dead letter"):
        open_letter(seal("monoova-webhook", b"{}", "e", None), "razorpay-webhook")


def test_a_long_reason_is_cut_to_the_limit() -> None:
    data = json.loads(seal("x", b"", "e" * (ERROR_LIMIT + 50), None))

    assert len(data["error"]) == ERROR_LIMIT


def test_a_tampered_body_encoding_is_refused() -> None:
    letter = json.loads(seal("x", b"abc", "e", None))
    letter["raw_body_b64"] = "not base64!"

    with pytest.raises(ValueError):
        open_letter(json.dumps(letter), "x")
