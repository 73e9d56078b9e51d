"""Re-drive Monoova webhook dead letters to the replay queue, where WebhookReplay applies them.

    make redrive-webhooks ENV=prod            # or: python scripts/redrive_webhooks.py --env prod

Queue URLs come from the stateful stack's outputs (WebhookDlqUrl, WebhookReplayQueueUrl),
or --dlq-url/--replay-url. Each message is sent to the replay queue before it is deleted
from the DLQ, so a crash mid-way duplicates at worst (the webhook dedupe absorbs that) and
never loses one. Messages that still fail land back in the DLQ after 3 receives.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3


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


def stack_outputs(env: str, region: str) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name=region)
    stack = cfn.describe_stacks(StackName=f"payouts-{env}-stateful")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", help="dev, staging or prod (reads the stack outputs)")
    parser.add_argument("--region", default="ap-southeast-2")
    parser.add_argument("--dlq-url")
    parser.add_argument("--replay-url")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args(argv)
    dlq, replay = args.dlq_url, args.replay_url
    if not (dlq and replay):
        if not args.env:
            parser.error("give --env, or both --dlq-url and --replay-url")
        outputs = stack_outputs(args.env, args.region)
        dlq, replay = outputs["WebhookDlqUrl"], outputs["WebhookReplayQueueUrl"]
    moved = redrive(boto3.client("sqs", region_name=args.region), dlq, replay, args.limit)
    print(f"re-drove {moved} message(s) from {dlq} to {replay}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
