"""SQS queues: always CMK-encrypted and TLS-only; work queues always have a DLQ."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.keys import grant_via_service
from cdk_constructs.removal import stateful

MAX_RETENTION_DAYS = 14
# What SQS asks of a caller's role for a queue under a customer-managed key.
SEND_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
RECEIVE_KEY_ACTIONS = ("kms:Decrypt",)


def grant_queue_key(grantee: iam.IGrantable, key: kms.IKey, *, send: bool) -> iam.Grant:
    """The key actions `grantee` needs to send to (or only receive from) a queue encrypted
    with `key`, usable through SQS only.

    Needed wherever the queue is imported without its key (so CDK's own grants add no
    `kms:ReEncrypt*`/`kms:GenerateDataKey*`), including a destination Lambda writes to with
    the function's own role: an event source mapping's on-failure queue, an asynchronous
    invocation's DLQ.
    """
    actions = SEND_KEY_ACTIONS if send else RECEIVE_KEY_ACTIONS
    return grant_via_service(grantee, key, "sqs", actions)


@dataclass(frozen=True)
class DeadLetterQueueProps:
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy
    retention_days: int = MAX_RETENTION_DAYS
    # A fixed name lets alarms and other regions find it without a reference.
    queue_name: str | None = None


class DeadLetterQueue(Construct):
    """Where failed messages wait for an operator: keep them as long as SQS allows."""

    def __init__(self, scope: Construct, construct_id: str, props: DeadLetterQueueProps) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= props.retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"DLQ retention must be 1 to {MAX_RETENTION_DAYS} days")
        self.queue = _encrypted_queue(
            self,
            encryption_key=props.encryption_key,
            removal_policy=props.removal_policy,
            retention=cdk.Duration.days(props.retention_days),
            queue_name=props.queue_name,
        )
        nag.acknowledge(
            self.queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is itself a dead-letter queue: messages stay for the full SQS "
            "retention for an operator to inspect and redrive; a DLQ behind it would only "
            "move the same messages one hop further.",
        )


@dataclass(frozen=True)
class WorkQueueProps:
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy
    dead_letter_queue: DeadLetterQueue
    max_receive_count: int
    visibility_timeout: cdk.Duration
    retention_days: int = 4
    queue_name: str | None = None


class WorkQueue(Construct):
    """A consumed queue; its poison messages move to `dead_letter_queue`."""

    def __init__(self, scope: Construct, construct_id: str, props: WorkQueueProps) -> None:
        super().__init__(scope, construct_id)
        if props.max_receive_count < 1:
            raise ValueError("max_receive_count must be at least 1")
        self.dead_letter_queue = props.dead_letter_queue
        self.queue = _encrypted_queue(
            self,
            encryption_key=props.encryption_key,
            removal_policy=props.removal_policy,
            retention=cdk.Duration.days(props.retention_days),
            visibility_timeout=props.visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=props.dead_letter_queue.queue,
                max_receive_count=props.max_receive_count,
            ),
            queue_name=props.queue_name,
        )


def _encrypted_queue(
    scope: Construct,
    *,
    encryption_key: kms.IKey,
    removal_policy: cdk.RemovalPolicy,
    retention: cdk.Duration,
    visibility_timeout: cdk.Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    queue_name: str | None = None,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        "Queue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=encryption_key,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        removal_policy=stateful(removal_policy),
        queue_name=queue_name,
    )
