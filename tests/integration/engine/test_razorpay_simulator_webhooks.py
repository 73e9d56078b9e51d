"""The RazorPay simulator's webhooks, modes and admin routes over real HTTP.

Webhook signatures are checked with RazorPay's SDK (``Utility.verify_webhook_signature``).
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from razorpay.errors import SignatureVerificationError

from simulators.common.signing import hmac_sha256_hex
from simulators.razorpay import RazorpaySimulator
from tests.integration.engine.razorpay_support import (
    AUTH,
    KEY_ID,
    KEY_SECRET,
    WEBHOOK_SECRET,
    admin,
    api,
    checkout,
    events_of,
    new_order,
    verify_webhook,
)
from tests.sim_http import Receiver, call, wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
EVENT_ID = re.compile(r"evt_[A-Za-z0-9]{14}")


def paid_order(sim: RazorpaySimulator, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    order = new_order(sim, notes={"loan_account_number": "LN9"})
    return order, checkout(sim, order["id"], **options)


# --------------------------------------------------------------------------- webhooks


def test_captured_checkout_sends_three_signed_events_in_order(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    order, answer = paid_order(rzp_sim)
    received = rzp_hooks.wait_for(3)
    assert events_of(received) == ["payment.authorized", "payment.captured", "order.paid"]
    for delivery in received:
        assert verify_webhook(delivery) is True
        headers = delivery["headers"]
        assert re.fullmatch("[0-9a-f]{64}", headers["x-razorpay-signature"])
        assert headers["x-razorpay-signature"] == hmac_sha256_hex(WEBHOOK_SECRET, delivery["raw"])
        assert EVENT_ID.fullmatch(headers["x-razorpay-event-id"])
        assert headers["content-type"] == "application/json"
        assert delivery["path"] == "/api/v1/webhooks/razorpay"
    assert len({d["headers"]["x-razorpay-event-id"] for d in received}) == 3
    authorized, captured, paid = (json.loads(d["raw"]) for d in received)
    assert set(authorized) == {
        "entity",
        "account_id",
        "event",
        "contains",
        "payload",
        "created_at",
    }
    assert authorized["entity"] == "event"
    assert authorized["account_id"] == rzp_sim.account_id
    assert authorized["account_id"].startswith("acc_")
    assert isinstance(authorized["created_at"], int)
    assert authorized["contains"] == ["payment"]
    # Each event carries the payment as it was then.
    first = authorized["payload"]["payment"]["entity"]
    assert (first["id"], first["status"], first["captured"]) == (
        answer["razorpay_payment_id"],
        "authorized",
        False,
    )
    later = captured["payload"]["payment"]["entity"]
    assert (later["status"], later["captured"], later["amount"]) == ("captured", True, 50000)
    assert later["notes"] == {"loan_account_number": "LN9"}
    assert paid["contains"] == ["payment", "order"]
    assert paid["payload"]["order"]["entity"]["id"] == order["id"]
    assert paid["payload"]["order"]["entity"]["status"] == "paid"
    assert paid["payload"]["payment"]["entity"]["status"] == "captured"


def test_a_forged_or_altered_webhook_fails_the_sdk_check(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    paid_order(rzp_sim)
    delivery = rzp_hooks.wait_for(1)[0]
    with pytest.raises(SignatureVerificationError):
        verify_webhook(delivery, secret="not-the-secret")
    altered = {**delivery, "raw": delivery["raw"].replace(b"50000", b"50001")}
    with pytest.raises(SignatureVerificationError):
        verify_webhook(altered)
    upper = {**delivery, "headers": {**delivery["headers"]}}
    upper["headers"]["x-razorpay-signature"] = upper["headers"]["x-razorpay-signature"].upper()
    with pytest.raises(SignatureVerificationError):
        verify_webhook(upper)


def test_failed_checkout_sends_payment_failed(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    _, answer = paid_order(rzp_sim, outcome="failed")
    [delivery] = rzp_hooks.wait_for(1)
    event = json.loads(delivery["raw"])
    entity = event["payload"]["payment"]["entity"]
    assert event["event"] == "payment.failed"
    assert entity["id"] == answer["error"]["metadata"]["payment_id"]
    assert (entity["status"], entity["error_reason"]) == ("failed", "payment_failed")
    time.sleep(0.2)
    assert len(rzp_hooks.received) == 1


def test_event_ids_are_unique_across_events(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    for _ in range(5):
        paid_order(rzp_sim)
    received = rzp_hooks.wait_for(15)
    assert len(received) == 15
    assert len({d["headers"]["x-razorpay-event-id"] for d in received}) == 15
    assert {e["event_id"] for e in rzp_sim.events()} == {
        d["headers"]["x-razorpay-event-id"] for d in received
    }


def test_non_2xx_answers_are_retried_with_backoff_and_the_same_bytes(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_hooks.codes = [500, 404, 302]
    paid_order(rzp_sim, outcome="authorized")
    received = rzp_hooks.wait_for(4)
    assert [d["answered"] for d in received] == [500, 404, 302, 200]
    assert {d["raw"] for d in received} == {received[0]["raw"]}
    assert {d["headers"]["x-razorpay-event-id"] for d in received} == {
        received[0]["headers"]["x-razorpay-event-id"]
    }
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(received)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4
    wait_until(lambda: len(rzp_sim.deliveries()) == 4)
    assert [(d["attempt"], d["status_code"]) for d in rzp_sim.deliveries()] == [
        (1, 500),
        (2, 404),
        (3, 302),
        (4, 200),
    ]
    time.sleep(0.5)
    assert len(rzp_hooks.received) == 4


def test_rotated_secret_signs_new_events_while_old_retries_keep_the_old(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_hooks.codes = [503]
    paid_order(rzp_sim, outcome="authorized")
    rzp_hooks.wait_for(1)
    assert admin(rzp_sim, "POST", "webhook-secret", {"secret": "rotated-secret"}) == (
        200,
        {"rotated": True},
    )
    old_retry = rzp_hooks.wait_for(2)[1]
    assert old_retry["answered"] == 200
    assert verify_webhook(old_retry, WEBHOOK_SECRET)
    with pytest.raises(SignatureVerificationError):
        verify_webhook(old_retry, "rotated-secret")
    paid_order(rzp_sim, outcome="authorized")
    new_event = rzp_hooks.wait_for(3)[2]
    assert verify_webhook(new_event, "rotated-secret")
    with pytest.raises(SignatureVerificationError):
        verify_webhook(new_event, WEBHOOK_SECRET)
    assert admin(rzp_sim, "POST", "webhook-secret", {"secret": ""})[0] == 400
    assert admin(rzp_sim, "POST", "webhook-secret", {})[0] == 400
    assert "rotated-secret" not in json.dumps(admin(rzp_sim, "GET", "mode")[1])


def test_without_a_webhook_url_events_are_kept_not_sent(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    assert admin(rzp_sim, "POST", "webhook-url", {"url": None}) == (200, {"url": None})
    _, answer = paid_order(rzp_sim)
    time.sleep(0.2)
    assert rzp_hooks.received == []
    assert [e["event"] for e in rzp_sim.events()] == [
        "payment.authorized",
        "payment.captured",
        "order.paid",
    ]
    code, payload = admin(
        rzp_sim, "POST", "webhooks", {"payment_id": answer["razorpay_payment_id"]}
    )
    assert code == 409
    assert "no webhook URL" in payload["error"]
    admin(rzp_sim, "POST", "webhook-url", {"url": rzp_hooks.url})
    result = admin(rzp_sim, "POST", "webhooks", {"payment_id": answer["razorpay_payment_id"]})[1]
    assert (result["event"], result["status_code"]) == ("order.paid", 200)


def test_replay_sends_the_stored_event_again(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    _, answer = paid_order(rzp_sim)
    originals = rzp_hooks.wait_for(3)
    payment_id = answer["razorpay_payment_id"]
    captured = next(e for e in rzp_sim.events(payment_id) if e["event"] == "payment.captured")
    code, record = admin(rzp_sim, "POST", "webhooks", {"event_id": captured["event_id"]})
    assert (code, record["status_code"], record["attempt"]) == (200, 200, 1)
    replay = rzp_hooks.wait_for(4)[3]
    original = next(
        d for d in originals if d["headers"]["x-razorpay-event-id"] == captured["event_id"]
    )
    assert replay["raw"] == original["raw"]
    assert replay["headers"]["x-razorpay-signature"] == original["headers"]["x-razorpay-signature"]
    by_name = admin(
        rzp_sim, "POST", "webhooks", {"payment_id": payment_id, "event": "payment.authorized"}
    )[1]
    assert by_name["event"] == "payment.authorized"
    assert admin(rzp_sim, "POST", "webhooks", {"event_id": "evt_missing"})[0] == 404
    assert admin(rzp_sim, "POST", "webhooks", {"payment_id": "pay_missing"})[0] == 404
    assert admin(rzp_sim, "POST", "webhooks", {})[0] == 400
    with pytest.raises(LookupError):
        rzp_sim.send_webhook(payment_id=payment_id, event="refund.processed")


# --------------------------------------------------------------------------- modes


def test_fail_mode_chooses_the_outcome_for_the_next_checkouts(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_sim.set_mode("fail", count=1)
    api(rzp_sim, "GET", "/v1/orders")  # an API call does not use up a checkout mode
    assert rzp_sim.mode()["count"] == 1
    _, first = paid_order(rzp_sim)
    _, second = paid_order(rzp_sim)
    assert "error" in first and "razorpay_signature" in second
    rzp_sim.set_mode("fail")
    _, explicit = paid_order(rzp_sim, outcome="captured")  # an explicit outcome wins
    assert "razorpay_signature" in explicit
    assert rzp_sim.mode()["mode"] == "fail"


def test_failed_then_captured_mode(rzp_sim: RazorpaySimulator, rzp_hooks: Receiver) -> None:
    admin(rzp_sim, "POST", "mode", {"mode": "failed_then_captured", "count": 1})
    _, answer = paid_order(rzp_sim)
    received = rzp_hooks.wait_for(3)
    assert events_of(received) == ["payment.failed", "payment.captured", "order.paid"]
    ids = {json.loads(d["raw"])["payload"]["payment"]["entity"]["id"] for d in received}
    assert ids == {answer["razorpay_payment_id"]}
    assert rzp_sim.mode()["mode"] == "ok"


@pytest.mark.parametrize(("times", "expected"), [(None, 5), (3, 3)])
def test_duplicate_mode_delivers_each_event_n_times(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver, times: int | None, expected: int
) -> None:
    body: dict[str, Any] = {"mode": "duplicate", "count": 1}
    if times is not None:
        body["times"] = times
    assert admin(rzp_sim, "POST", "mode", body)[1]["times"] == expected
    paid_order(rzp_sim)
    received = rzp_hooks.wait_for(3 * expected)
    time.sleep(0.2)
    assert len(rzp_hooks.received) == 3 * expected
    by_id: dict[str, set[bytes]] = {}
    for delivery in received:
        by_id.setdefault(delivery["headers"]["x-razorpay-event-id"], set()).add(delivery["raw"])
    assert len(by_id) == 3
    assert all(len(bodies) == 1 for bodies in by_id.values())  # the same bytes each time
    assert events_of(received) == (
        ["payment.authorized"] * expected
        + ["payment.captured"] * expected
        + ["order.paid"] * expected
    )
    rzp_hooks.received.clear()
    paid_order(rzp_sim)  # count=1: back to single deliveries
    assert len(rzp_hooks.wait_for(3)) == 3
    time.sleep(0.2)
    assert len(rzp_hooks.received) == 3


def test_out_of_order_mode_delivers_newest_first(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_sim.set_mode("out_of_order", count=1)
    paid_order(rzp_sim)
    assert events_of(rzp_hooks.wait_for(3)) == [
        "order.paid",
        "payment.captured",
        "payment.authorized",
    ]


def test_lost_webhook_mode_sends_nothing_but_keeps_the_events(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_sim.set_mode("lost_webhook", count=1)
    _, answer = paid_order(rzp_sim)
    time.sleep(0.3)
    assert rzp_hooks.received == []
    assert rzp_sim.deliveries() == []
    assert len(rzp_sim.events(answer["razorpay_payment_id"])) == 3
    payment = api(rzp_sim, "GET", f"/v1/payments/{answer['razorpay_payment_id']}")[1]
    assert payment["status"] == "captured"  # what a sweeper finds by fetching


def test_webhook_modes_apply_to_captures_and_refunds(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    _, answer = paid_order(rzp_sim, outcome="authorized")
    rzp_hooks.wait_for(1)
    payment_id = answer["razorpay_payment_id"]
    rzp_sim.set_mode("lost_webhook", count=1)
    capture = {"amount": 50000, "currency": "INR"}
    assert api(rzp_sim, "POST", f"/v1/payments/{payment_id}/capture", capture)[0] == 200
    rzp_sim.set_mode("duplicate", count=1, times=2)
    assert api(rzp_sim, "POST", f"/v1/payments/{payment_id}/refund", {})[0] == 200
    received = rzp_hooks.wait_for(3)
    time.sleep(0.2)
    assert events_of(rzp_hooks.received) == [
        "payment.authorized",
        "refund.processed",
        "refund.processed",
    ]
    refund = json.loads(received[1]["raw"])
    assert refund["contains"] == ["refund", "payment"]
    assert refund["payload"]["payment"]["entity"]["status"] == "refunded"


def test_error_5xx_mode_answers_500_and_does_nothing(rzp_sim: RazorpaySimulator) -> None:
    rzp_sim.set_mode("error_5xx", count=1)
    code, payload = api(rzp_sim, "POST", "/v1/orders", {"amount": 500, "currency": "INR"})
    assert code == 500
    assert payload["error"]["code"] == "SERVER_ERROR"
    assert rzp_sim.orders() == []
    assert api(rzp_sim, "POST", "/v1/orders", {"amount": 500, "currency": "INR"})[0] == 200


def test_5xx_is_not_spent_on_an_unauthenticated_call(rzp_sim: RazorpaySimulator) -> None:
    rzp_sim.set_mode("error_5xx", count=1)
    assert api(rzp_sim, "GET", "/v1/orders", auth=None)[0] == 401
    assert api(rzp_sim, "GET", "/v1/orders")[0] == 500
    assert api(rzp_sim, "GET", "/v1/orders")[0] == 200


def test_timeout_mode_accepts_then_never_answers(rzp_sim: RazorpaySimulator) -> None:
    rzp_sim.set_mode("timeout", count=1)
    body = {"amount": 500, "currency": "INR", "receipt": "tmo-1", "unique_receipt": True}
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        api(rzp_sim, "POST", "/v1/orders", body, timeout=0.2)
    [order] = rzp_sim.orders()  # the order was made: the caller must retry with the receipt
    assert api(rzp_sim, "POST", "/v1/orders", body) == (200, order)
    rzp_sim.set_mode("timeout", count=1)
    connection = http.client.HTTPConnection("127.0.0.1", rzp_sim.port, timeout=5)
    connection.request("GET", f"/v1/orders/{order['id']}", headers={"Authorization": AUTH})
    started = time.monotonic()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()  # held hold_seconds (0.5), then dropped with no answer
    assert time.monotonic() - started >= 0.4
    connection.close()
    assert [entry["dropped"] for entry in rzp_sim.received()] == [True, False, True]


def test_slow_mode_delays_answers_for_its_count(rzp_sim: RazorpaySimulator) -> None:
    assert admin(rzp_sim, "POST", "mode", {"mode": "slow"})[1]["latency_ms"] == 2000
    rzp_sim.set_mode("slow", count=1, latency_ms=600)
    started = time.monotonic()
    assert api(rzp_sim, "GET", "/v1/orders")[0] == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert api(rzp_sim, "GET", "/v1/orders")[0] == 200
    assert time.monotonic() - started < 0.5
    assert rzp_sim.mode() == {"mode": "ok", "count": None, "latency_ms": 0, "times": 5}


def test_mode_admin_route(rzp_sim: RazorpaySimulator) -> None:
    assert admin(rzp_sim, "GET", "mode") == (
        200,
        {"mode": "ok", "count": None, "latency_ms": 0, "times": 5},
    )
    code, mode = admin(rzp_sim, "POST", "mode", {"mode": "duplicate", "count": 2, "times": 4})
    assert (code, mode) == (200, {"mode": "duplicate", "count": 2, "latency_ms": 0, "times": 4})
    for bad in (
        {"mode": "explode"},
        {"mode": "duplicate", "times": 0},
        {"mode": "ok", "count": -1},
    ):
        assert admin(rzp_sim, "POST", "mode", bad)[0] == 400
    assert admin(rzp_sim, "GET", "mode")[1]["mode"] == "duplicate"


# --------------------------------------------------------------------------- admin views


def test_received_lists_what_was_sent_and_not_admin_calls(rzp_sim: RazorpaySimulator) -> None:
    order = new_order(rzp_sim, receipt="rcv-1")
    checkout(rzp_sim, order["id"])
    api(rzp_sim, "GET", f"/v1/orders/{order['id']}/payments")
    code, received = admin(rzp_sim, "GET", "received")
    assert code == 200
    assert [(r["method"], r["path"]) for r in received] == [
        ("POST", "/v1/orders"),
        ("GET", f"/v1/orders/{order['id']}/payments"),
    ]
    assert received[0]["body"] == {"amount": 50000, "currency": "INR", "receipt": "rcv-1"}
    assert received == rzp_sim.received()


def test_admin_views_of_orders_payments_refunds_and_events(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    order, answer = paid_order(rzp_sim)
    payment_id = answer["razorpay_payment_id"]
    api(rzp_sim, "POST", f"/v1/payments/{payment_id}/refund", {"amount": 100})
    assert [o["id"] for o in admin(rzp_sim, "GET", "orders")[1]] == [order["id"]]
    assert [p["id"] for p in admin(rzp_sim, "GET", f"payments?order_id={order['id']}")[1]] == [
        payment_id
    ]
    assert admin(rzp_sim, "GET", "payments?order_id=order_missing")[0] == 404
    assert [r["payment_id"] for r in admin(rzp_sim, "GET", "refunds")[1]] == [payment_id]
    events = admin(rzp_sim, "GET", f"events?payment_id={payment_id}")[1]
    assert [e["event"] for e in events] == [
        "payment.authorized",
        "payment.captured",
        "order.paid",
        "refund.processed",
    ]
    assert all(hmac_sha256_hex(WEBHOOK_SECRET, e["body"]) == e["signature"] for e in events)
    rzp_hooks.wait_for(4)
    deliveries = wait_until(lambda: len(admin(rzp_sim, "GET", "deliveries")[1]) == 4 or None)
    assert deliveries
    records = admin(rzp_sim, "GET", "deliveries")[1]
    assert {d["event_id"] for d in records} == {e["event_id"] for e in events}
    assert {d["status_code"] for d in records} == {200}


def test_reset_forgets_everything_and_abandons_pending_deliveries(
    rzp_sim: RazorpaySimulator, rzp_hooks: Receiver
) -> None:
    rzp_sim.webhook_delay = 1.0
    paid_order(rzp_sim, outcome="failed_then_captured")
    rzp_sim.set_mode("error_5xx")
    assert admin(rzp_sim, "POST", "reset") == (200, {"reset": True})
    time.sleep(1.5)
    assert rzp_hooks.received == []  # neither the pending batch nor the late capture
    assert rzp_sim.orders() == rzp_sim.payments() == rzp_sim.events() == []
    assert rzp_sim.deliveries() == [] and rzp_sim.received() == []
    assert rzp_sim.mode()["mode"] == "ok"


def test_request_log_events_and_deliveries_are_bounded(rzp_hooks: Receiver) -> None:
    simulator = RazorpaySimulator(
        KEY_ID, KEY_SECRET, WEBHOOK_SECRET, webhook_url=rzp_hooks.url, webhook_delay=0, log_limit=5
    )
    with simulator as sim:
        for index in range(8):
            call(sim.base_url, "GET", f"/v1/orders?skip={index}", auth=AUTH)
        assert [e["path"] for e in sim.received()] == [f"/v1/orders?skip={i}" for i in range(3, 8)]
        _, answer = paid_order(sim)  # 3 events
        _, later = paid_order(sim)  # 3 more: the first one is pushed out
        rzp_hooks.wait_for(6)
        wait_until(lambda: len(sim.deliveries()) == 5)
        events = sim.events()
        assert len(events) == 5
        assert events[-1]["payment_id"] == later["razorpay_payment_id"]
        kept = {e["event_id"] for e in events}
        [first_id] = [  # the first event created: the first payment's authorization
            r["headers"]["x-razorpay-event-id"]
            for r in rzp_hooks.received
            if json.loads(r["raw"])["event"] == "payment.authorized"
            and json.loads(r["raw"])["payload"]["payment"]["entity"]["id"]
            == answer["razorpay_payment_id"]
        ]
        assert first_id not in kept
        with pytest.raises(LookupError):
            sim.send_webhook(first_id)
        assert sim.send_webhook(payment_id=answer["razorpay_payment_id"])["status_code"] == 200


def test_constructor_refuses_empty_credentials() -> None:
    with pytest.raises(ValueError):
        RazorpaySimulator(KEY_ID, "", WEBHOOK_SECRET)
    with pytest.raises(ValueError):
        RazorpaySimulator(KEY_ID, KEY_SECRET, "")


def test_command_line_runs_in_the_foreground_without_printing_secrets() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.razorpay",
            "--port",
            "0",
            "--key-id",
            KEY_ID,
            "--key-secret",
            KEY_SECRET,
            "--webhook-secret",
            WEBHOOK_SECRET,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        match = re.fullmatch(r"RazorPay simulator listening on (http://127\.0\.0\.1:\d+)\n", first)
        assert match, first
        assert KEY_ID in second
        assert KEY_SECRET not in first + second and WEBHOOK_SECRET not in first + second
        order = call(
            match.group(1), "POST", "/v1/orders", {"amount": 100, "currency": "INR"}, auth=AUTH
        )
        assert order[0] == 200
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
