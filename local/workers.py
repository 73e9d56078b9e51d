"""Background work the cloud would trigger: schedules, stream and queue event sources."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "ap-southeast-2"  # the runner's one moto region (every system's resources are there)
Invoke = Callable[[dict[str, Any]], Any]


@dataclass
class Worker:
    """Runs `run` every `interval` seconds, or after `delay()` seconds each time when given
    (a cron schedule's next fire time), on its own thread, until stopped."""

    name: str
    interval: float
    run: Callable[[], None]
    delay: Callable[[], float] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.delay() if self.delay else self.interval):
            try:
                self.run()
            except Exception as exc:
                print(f"[{self.name}] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def consume_queue(queue_url: str, invoke: Invoke, batch_size: int = 10) -> None:
    """One poll of an SQS event source: a batch (up to 10, SQS's most per receive) to the
    function, then, as Lambda's poller does, the messages it did not report in
    `batchItemFailures` deleted."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(batch_size, 10)),
        VisibilityTimeout=30,
        AttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    if not messages:
        return
    arn = f"arn:aws:sqs:{REGION}:000000000000:{queue_url.rsplit('/', 1)[-1]}"
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        }
        for m in messages
    ]
    result = invoke({"Records": records})
    failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
