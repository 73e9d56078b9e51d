"""Re-drive webhook dead letters to the replay queue, where a replay function applies them.

    make redrive-webhooks ENV=prod                 # payouts: Monoova, WebhookReplay applies
    make redrive-webhooks ENV=prod SYSTEM=engine   # engine: RazorPay, RazorpayWebhookReplayer

Payouts' queue URLs come from its stateful stack's outputs (WebhookDlqUrl,
WebhookReplayQueueUrl). The engine's are found by name in its active Region (--region,
ap-south-1 unless the DR runbook moved it): the queues declared in engine/queues.py
(RazorpayWebhookDLQ -> RazorpayWebhookReplay), named engine-<env>-<declared name> however
the name is hyphenated. Or give --dlq-url and --replay-url.

Each message is sent to the replay queue before it is deleted from the DLQ, so a crash
mid-way duplicates at worst (the webhook dedupe absorbs that) and never loses one. Messages
that still fail land back in the DLQ after 3 receives.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def redrive(sqs: Any, dlq_url: str, replay_url: str, limit: int = 1000) -> int:
    moved = 0
    while moved < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            sqs.send_message(QueueUrl=replay_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


ENGINE_DLQ = "RazorpayWebhookDLQ"
ENGINE_REPLAY = "RazorpayWebhookReplay"
DEFAULT_REGIONS = {"payouts": "ap-southeast-2", "engine": "ap-south-1"}


def _squashed(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def engine_queue_urls(sqs: Any, env: str) -> tuple[str, str]:
    """(DLQ, replay queue) of the engine in `env`, by their declared names."""
    prefix = f"engine-{env}-"
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    by_name = {_squashed(url.rsplit("/", 1)[-1]): url for url in urls}
    found = []
    for declared in (ENGINE_DLQ, ENGINE_REPLAY):
        url = by_name.get(_squashed(prefix + declared))
        if url is None:
            raise SystemExit(f"no queue {prefix}<{declared}> in this region (see --region)")
        found.append(url)
    return found[0], found[1]


def stack_outputs(env: str, region: str) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name=region)
    stack = cfn.describe_stacks(StackName=f"payouts-{env}-stateful")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (BotoCoreError, ClientError) as error:  # no credentials, no such stack, no access
        print(f"redrive-webhooks: {error}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="the environment whose queues to use")
    parser.add_argument("--system", choices=sorted(DEFAULT_REGIONS), default="payouts")
    parser.add_argument("--region", help="default: the system's primary Region")
    parser.add_argument("--dlq-url")
    parser.add_argument("--replay-url")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    region = args.region or DEFAULT_REGIONS[args.system]
    sqs = boto3.client("sqs", region_name=region)
    dlq, replay = args.dlq_url, args.replay_url
    if not (dlq and replay):
        if not args.env:
            parser.error("give --env, or both --dlq-url and --replay-url")
        if args.system == "engine":
            dlq, replay = engine_queue_urls(sqs, args.env)
        else:
            outputs = stack_outputs(args.env, region)
            dlq, replay = outputs["WebhookDlqUrl"], outputs["WebhookReplayQueueUrl"]
    moved = redrive(sqs, dlq, replay, args.limit)
    print(f"re-drove {moved} message(s) from {dlq} to {replay}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
