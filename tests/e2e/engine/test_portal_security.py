"""What the portal refuses, through the local runner: forged signatures on the checkout
notification and on webhooks, another loan's data, guessing OTPs, a missing API key, a
closed loan. (An expired session: test_runner_options.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.e2e.engine.conftest import (
    ACTIVE,
    CLOSED,
    NPA,
    SECOND,
    Engine,
    assert_engine_error,
    new_key,
)

WEBHOOK = "/api/v1/webhooks/razorpay"


def _flip(hex_signature: str) -> str:
    return ("0" if hex_signature[0] != "0" else "1") + hex_signature[1:]


def test_a_forged_checkout_signature_is_refused_and_changes_nothing(engine: Engine) -> None:
    session = engine.session(ACTIVE)
    payment = engine.created(session, "12.00")
    engine.mode("lost_webhook")  # only the notification can move this payment
    paid = engine.checkout(payment["razorpay_order_id"])

    forged = engine.notify(
        session,
        payment["payment_id"],
        {**paid, "razorpay_signature": _flip(paid["razorpay_signature"])},
    )

    assert forged.status in (400, 401), forged
    assert_engine_error(forged, forged.status)
    assert engine.payment(session, payment["payment_id"])["status"] != "CAPTURED"
    genuine = engine.notify(session, payment["payment_id"], paid)  # the real one still works
    assert genuine.status == 200 and genuine.body["status"] == "CAPTURED", genuine


def test_a_webhook_with_a_forged_signature_is_401(engine: Engine) -> None:
    session = engine.session(ACTIVE)
    payment = engine.created(session, "13.00")
    engine.mode("lost_webhook")
    paid = engine.checkout(payment["razorpay_order_id"])
    [event] = [
        e
        for e in engine.sim(
            "GET", f"/_simulator/events?payment_id={paid['razorpay_payment_id']}"
        ).body
        if e["event"] == "payment.captured"
    ]
    raw = event["body"].encode()
    tampered = raw.replace(b'"captured"', b'"failed"', 1)
    guessed = hmac.new(b"not-the-secret", raw, hashlib.sha256).hexdigest()

    for body, signature in ((raw, guessed), (tampered, event["signature"]), (raw, "")):
        headers = {"X-Razorpay-Signature": signature, "x-razorpay-event-id": event["event_id"]}
        answer = engine.call("POST", WEBHOOK, raw=body, headers=headers, api_key=False)
        assert_engine_error(answer, 401)
    assert engine.payment(session, payment["payment_id"])["status"] != "CAPTURED"
    # The genuine delivery, replayed by the simulator, is accepted.
    replayed = engine.sim("POST", "/_simulator/webhooks", {"event_id": event["event_id"]})
    assert replayed.status == 200 and 200 <= replayed.body["status_code"] < 300, replayed
    assert engine.wait_payment(session, payment["payment_id"], "CAPTURED")


def test_a_session_never_reads_another_loan(engine: Engine) -> None:
    mine, theirs = engine.session(ACTIVE), engine.session(SECOND)
    their_payment = engine.created(theirs, "14.00")

    pid = their_payment["payment_id"]
    nobody = "pay_" + "a" * 20  # well formed, no such payment
    pairs = [  # (their thing, a thing that does not exist): the answers must not differ
        (f"/api/v1/customer/loans/{SECOND}", "/api/v1/customer/loans/ZZ9999999999"),
        (
            f"/api/v1/customer/loans/{SECOND}/payments",
            "/api/v1/customer/loans/ZZ9999999999/payments",
        ),
        (f"/api/v1/customer/payments/{pid}", f"/api/v1/customer/payments/{nobody}"),
        (f"/api/v1/customer/payments/{pid}/receipt", f"/api/v1/customer/payments/{nobody}/receipt"),
    ]
    for theirs_path, missing_path in pairs:
        answer = engine.call("GET", theirs_path, session=mine)
        missing = engine.call("GET", missing_path, session=mine)
        error = assert_engine_error(answer, 404, "NOT_FOUND")
        assert SECOND not in answer.text and "Meena" not in answer.text, answer
        assert error["message"] == assert_engine_error(missing, 404)["message"], theirs_path
    create = engine.call(
        "POST",
        "/api/v1/customer/payments",
        {"loan_account_number": SECOND, "amount": "1.00"},
        session=mine,
        headers={"Idempotency-Key": new_key()},
    )
    assert_engine_error(create, 404, "NOT_FOUND")
    assert engine.payment(theirs, pid)["status"] == "CREATED"  # still theirs, untouched


def test_guessing_the_otp_ends_in_429_even_for_the_right_one(engine: Engine) -> None:
    mobile = engine.mobile_of(NPA)
    seen = {m["id"] for m in engine.sms(mobile)}
    challenge = engine.validate(NPA, mobile).body["challenge_id"]
    otp = engine.latest_otp(mobile, seen)
    wrong = f"{(int(otp) + 1) % 1_000_000:06d}"

    statuses = [
        engine.call(
            "POST", "/api/v1/customer/sessions", {"challenge_id": challenge, "otp": wrong}
        ).status
        for _ in range(5)
    ]
    after = engine.call(
        "POST", "/api/v1/customer/sessions", {"challenge_id": challenge, "otp": otp}
    )

    assert statuses[:4] == [401] * 4, statuses
    assert statuses[4] in (401, 429), statuses
    assert_engine_error(after, 429, "RATE_LIMITED")
    assert after.header("Retry-After"), after.headers


def test_the_portal_wants_its_api_key_but_not_on_the_webhook(engine: Engine) -> None:
    body = {"loan_account_number": ACTIVE, "mobile_number": engine.mobile_of(ACTIVE)}
    for key in (None, "not-the-key"):
        headers = {"x-api-key": key} if key else {}
        answer = engine.call(
            "POST", "/api/v1/customer/validate-loan", body, headers=headers, api_key=False
        )
        assert_engine_error(answer, 403, "FORBIDDEN")
    # The webhook's refusal is its signature check's (401), not the key's (403).
    unsigned = engine.call("POST", WEBHOOK, raw=b"{}", api_key=False)
    assert_engine_error(unsigned, 401)


def test_a_closed_loan_takes_no_payment(engine: Engine) -> None:
    session = engine.session(CLOSED)
    answer = engine.create(session, "100.00")
    error = assert_engine_error(answer, 422)
    assert "LOAN_CLOSED" in json.dumps(error), error
