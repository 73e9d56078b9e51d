"""The checkout and webhook signatures, checked against RazorPay's own SDK."""

from __future__ import annotations

import razorpay

from engine.clients.razorpay import checkout_signature_ok, hmac_hex, webhook_signature_ok

SECRET = "key-secret-for-tests"
SDK = razorpay.Client(auth=("rzp_test_x", SECRET)).utility


def test_checkout_signature_is_what_the_sdk_verifies() -> None:
    signature = hmac_hex(SECRET, b"order_ABC|pay_XYZ")
    assert SDK.verify_payment_signature(
        {
            "razorpay_order_id": "order_ABC",
            "razorpay_payment_id": "pay_XYZ",
            "razorpay_signature": signature,
        }
    )
    assert checkout_signature_ok("order_ABC", "pay_XYZ", signature, SECRET)


def test_checkout_signature_is_over_the_stored_order() -> None:
    signature = hmac_hex(SECRET, b"order_OTHER|pay_XYZ")
    assert not checkout_signature_ok("order_ABC", "pay_XYZ", signature, SECRET)
    assert not checkout_signature_ok("order_ABC", "pay_XYZ", signature.upper(), SECRET)
    assert not checkout_signature_ok("order_ABC", "pay_XYZ", "", SECRET)
    assert not checkout_signature_ok("order_ABC", "pay_XYZ", "é" * 64, SECRET)  # no TypeError
    assert not checkout_signature_ok("order_ABC", "pay_XYZ", hmac_hex("other", b"x"), SECRET)


def test_webhook_signature_takes_the_current_or_the_previous_secret() -> None:
    body = b'{"event":"payment.captured"}'
    old, new = "webhook-old", "webhook-new"
    assert SDK.verify_webhook_signature(body.decode(), hmac_hex(new, body), new)
    assert webhook_signature_ok(body, hmac_hex(new, body), [new, old])
    assert webhook_signature_ok(body, hmac_hex(old, body), [new, old])
    assert not webhook_signature_ok(body, hmac_hex(old, body), [new])
    assert not webhook_signature_ok(body + b" ", hmac_hex(new, body), [new, old])
    assert not webhook_signature_ok(body, None, [new])
    assert not webhook_signature_ok(body, hmac_hex("", body), ["", new])  # empty secret skipped
