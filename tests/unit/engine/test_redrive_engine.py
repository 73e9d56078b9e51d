"""`make redrive-webhooks ENV=... SYSTEM=engine`: RazorpayWebhookDLQ -> RazorpayWebhookReplay."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from scripts import redrive_webhooks

REGION = "ap-south-1"


@pytest.fixture
def sqs(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("sqs", region_name=REGION)
    monkeypatch.setattr(redrive_webhooks.boto3, "client", lambda *_a, **_k: client)
    return client


def make(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url


def bodies(sqs: Any, url: str) -> list[str]:
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in found.get("Messages", []))


def test_the_engine_dlq_moves_to_its_replay_queue(sqs: Any, capsys: Any) -> None:
    dlq = make(sqs, "engine-dev-razorpay-webhook-dlq")
    replay = make(sqs, "engine-dev-razorpay-webhook-replay")
    others = [
        make(sqs, "engine-dev-transactions-sync-dlq"),
        make(sqs, "engine-qa-razorpay-webhook-dlq"),  # another environment's
    ]
    for text in ("one", "two", "three"):
        sqs.send_message(QueueUrl=dlq, MessageBody=text)
    for url in others:
        sqs.send_message(QueueUrl=url, MessageBody="not mine")

    assert redrive_webhooks.main(["--env", "dev", "--system", "engine"]) == 0

    assert bodies(sqs, replay) == ["one", "three", "two"]
    assert bodies(sqs, dlq) == []
    assert all(bodies(sqs, url) == ["not mine"] for url in others)
    assert "re-drove 3 message(s)" in capsys.readouterr().out


def test_the_declared_names_are_found_however_they_are_hyphenated(sqs: Any) -> None:
    dlq = make(sqs, "engine-prod-razorpay-webhook-d-l-q")  # stacks' kebab() of the name
    replay = make(sqs, "engine-prod-RazorpayWebhookReplay")
    assert redrive_webhooks.engine_queue_urls(sqs, "prod") == (dlq, replay)


def test_missing_queues_stop_with_a_clear_line(sqs: Any) -> None:
    make(sqs, "engine-dev-razorpay-webhook-dlq")
    with pytest.raises(SystemExit, match="RazorpayWebhookReplay"):
        redrive_webhooks.engine_queue_urls(sqs, "dev")


def test_the_declared_queue_names_are_the_ones_redriven() -> None:
    from engine.queues import RAZORPAY_WEBHOOK_DLQ, RAZORPAY_WEBHOOK_REPLAY

    assert RAZORPAY_WEBHOOK_DLQ.name == redrive_webhooks.ENGINE_DLQ
    assert RAZORPAY_WEBHOOK_REPLAY.name == redrive_webhooks.ENGINE_REPLAY
    assert RAZORPAY_WEBHOOK_REPLAY.dead_letter_queue == RAZORPAY_WEBHOOK_DLQ.name


def test_payouts_is_still_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def outputs(env: str, region: str) -> dict[str, str]:
        seen.update(env=env, region=region)
        return {"WebhookDlqUrl": "dlq", "WebhookReplayQueueUrl": "replay"}

    monkeypatch.setattr(redrive_webhooks, "stack_outputs", outputs)
    monkeypatch.setattr(redrive_webhooks, "redrive", lambda *_a: 0)
    monkeypatch.setattr(redrive_webhooks.boto3, "client", lambda *_a, **_k: None)
    assert redrive_webhooks.main(["--env", "prod"]) == 0
    assert seen == {"env": "prod", "region": "ap-southeast-2"}
