"""simulators.common.webhooks: real POSTs to a local receiver, retries, faults, records."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from simulators.common.webhooks import Faults, Outgoing, RetryPolicy, WebhookSender, is_2xx
from tests.sim_http import Receiver, wait_until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def stopped() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # abandons whatever a test left pending


def item(receiver: Receiver, name: str) -> Outgoing:
    body = f'{{"event":"{name}","amount":10.50}}'.encode()
    return Outgoing(receiver.url, body, {"X-Signature": f"sig-{name}"}, {"event": name})


def test_deliver_posts_the_exact_body_and_headers_and_records_it(
    receiver: Receiver, stopped: threading.Event
) -> None:
    sender = WebhookSender(RetryPolicy(), stopped)
    record = sender.deliver(item(receiver, "a"))
    [received] = receiver.received
    assert received["raw"] == b'{"event":"a","amount":10.50}'
    assert received["headers"]["x-signature"] == "sig-a"
    assert record["status_code"] == 200
    assert record["attempt"] == 1
    assert record["event"] == "a"
    assert record["body"] == '{"event":"a","amount":10.50}'
    assert record["error"] is None
    assert sender.records() == [record]


def test_rejected_deliveries_are_retried_with_backoff_until_accepted(
    receiver: Receiver, stopped: threading.Event
) -> None:
    receiver.codes = [500, 503, 302]
    sender = WebhookSender(RetryPolicy.backoff(0.1, retries=5), stopped)
    first = sender.deliver(item(receiver, "r"))
    assert first["status_code"] == 500
    received = receiver.wait_for(4)
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(received)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4
    assert {r["raw"] for r in received} == {received[0]["raw"]}
    wait_until(lambda: len(sender.records()) == 4)
    time.sleep(0.9)  # accepted: no fifth attempt
    assert [(r["attempt"], r["status_code"]) for r in sender.records()] == [
        (1, 500),
        (2, 503),
        (3, 302),
        (4, 200),
    ]


def test_retries_stop_after_the_policy_runs_out(
    receiver: Receiver, stopped: threading.Event
) -> None:
    receiver.codes = [500] * 10
    sender = WebhookSender(RetryPolicy((0.05, 0.05)), stopped)
    sender.deliver(item(receiver, "x"))
    wait_until(lambda: len(sender.records()) == 3)
    time.sleep(0.3)
    assert [r["attempt"] for r in sender.records()] == [1, 2, 3]


def test_the_policy_decides_what_is_accepted(receiver: Receiver, stopped: threading.Event) -> None:
    receiver.codes = [204]
    only_200 = RetryPolicy((0.05,), accept=lambda code: code == 200)
    sender = WebhookSender(only_200, stopped)
    sender.deliver(item(receiver, "m"))
    wait_until(lambda: len(sender.records()) == 2)
    assert [r["status_code"] for r in sender.records()] == [204, 200]
    assert is_2xx(204) and not is_2xx(None) and not is_2xx(302)


def test_unreachable_url_is_an_error_record_and_retried(stopped: threading.Event) -> None:
    receiver = Receiver()
    url = receiver.url
    receiver.close()
    sender = WebhookSender(RetryPolicy((0.05,)), stopped)
    record = sender.deliver(Outgoing(url, b"{}", {}))
    assert record["status_code"] is None
    assert "Error" in record["error"]
    wait_until(lambda: len(sender.records()) == 2)


def test_batch_is_sent_in_order_after_the_delay(
    receiver: Receiver, stopped: threading.Event
) -> None:
    sender = WebhookSender(RetryPolicy(), stopped)
    started = time.monotonic()
    sender.send([item(receiver, name) for name in "abc"], delay=0.2)
    assert receiver.received == []
    received = receiver.wait_for(3)
    assert received[0]["at"] - started >= 0.2
    assert [r["headers"]["x-signature"] for r in received] == ["sig-a", "sig-b", "sig-c"]


def test_faults_reverse_duplicate_and_drop(receiver: Receiver, stopped: threading.Event) -> None:
    sender = WebhookSender(RetryPolicy(), stopped)
    sender.send([item(receiver, n) for n in "ab"], faults=Faults(reverse=True))
    assert [r["headers"]["x-signature"] for r in receiver.wait_for(2)] == ["sig-b", "sig-a"]
    receiver.received.clear()

    sender.send([item(receiver, n) for n in "ab"], faults=Faults(copies=5))
    received = receiver.wait_for(10)
    assert [r["headers"]["x-signature"] for r in received] == ["sig-a"] * 5 + ["sig-b"] * 5
    receiver.received.clear()

    sender.send([item(receiver, "lost")], faults=Faults(drop=True))
    time.sleep(0.3)
    assert receiver.received == []
    assert "lost" not in {r["event"] for r in sender.records()}


def test_reset_forgets_records_and_can_abandon_pending_deliveries(
    receiver: Receiver, stopped: threading.Event
) -> None:
    keeps_sending = WebhookSender(RetryPolicy(), stopped)
    keeps_sending.deliver(item(receiver, "old"))
    keeps_sending.send([item(receiver, "pending")], delay=0.2)
    keeps_sending.reset()
    assert keeps_sending.records() == []
    receiver.wait_for(2)
    time.sleep(0.05)
    assert keeps_sending.records() == []  # sent, but it belongs to the old generation

    receiver.received.clear()
    abandons = WebhookSender(RetryPolicy(), stopped, abandon_on_reset=True)
    abandons.send([item(receiver, "pending")], delay=0.2)
    abandons.reset()
    time.sleep(0.4)
    assert receiver.received == []


def test_stop_abandons_retries(receiver: Receiver) -> None:
    stopped = threading.Event()
    receiver.codes = [500]
    sender = WebhookSender(RetryPolicy((0.3,)), stopped)
    sender.deliver(item(receiver, "s"))
    stopped.set()
    time.sleep(0.5)
    assert len(receiver.received) == 1


def test_bounded_records_and_unsent_records(receiver: Receiver, stopped: threading.Event) -> None:
    sender = WebhookSender(RetryPolicy(), stopped, limit=2)
    for name in "abc":
        sender.deliver(item(receiver, name))
    assert [r["event"] for r in sender.records()] == ["b", "c"]
    unsent = sender.record_unsent(item(receiver, "bad"), "body fails the schema")
    assert (unsent["status_code"], unsent["error"]) == (None, "body fails the schema")
    assert len(receiver.received) == 3
