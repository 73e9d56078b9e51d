"""What every Region that processes payments keeps for itself: the regional tables and queues.

Both data stacks (Mumbai, and Singapore where DR is enabled) add the same resources with the
same ids and names, each under its own Region's Data key:

* the REGIONAL_TABLES of engine/tables.py (idempotency keys, counters, the outbox), never
  replicated: a conditional write is atomic only within one Region;
* the queues of engine/queues.py: a queue holds work for the Region it sits in;
* ScheduledJobsDLQ: where a scheduled job's failed invocation lands, both EventBridge's
  (it could not invoke) and Lambda's (the function failed its retries).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from cdk_constructs import nag
from cdk_constructs.queue import DeadLetterQueue, DeadLetterQueueProps, WorkQueue, WorkQueueProps
from cdk_constructs.table import DataTable, DataTableProps
from config.engine import EngineConfig
from engine.declarations import EVENT_SOURCES, SCHEDULES
from engine.queues import QUEUES
from engine.tables import REGIONAL_TABLES
from shared.declarations import QueueSpec, Schedule
from stacks.engine.functions import kebab

SCHEDULED_JOBS_DLQ = "ScheduledJobsDLQ"


def table_name(cfg: EngineConfig, logical_name: str) -> str:
    """e.g. engine-prod-transaction-queue: the same in every Region (and every replica)."""
    return cfg.resource_name(kebab(logical_name))


def queue_name(cfg: EngineConfig, name: str) -> str:
    """e.g. engine-prod-razorpay-webhook-dlq: fixed, so alarms and scripts find it by name."""
    return cfg.resource_name(kebab(name))


def rule_name(cfg: EngineConfig, schedule: Schedule) -> str:
    """e.g. engine-prod-payment-sweep: the DR runbook enables the standby's by this name."""
    return cfg.resource_name(kebab(schedule.name))


@dataclass
class RegionalData:
    tables: dict[str, DataTable]
    queues: dict[str, sqs.IQueue]  # QueueSpec name -> queue
    jobs_dlq: DeadLetterQueue

    def outputs(self, scope: cdk.Stack) -> None:
        for name, table in self.tables.items():
            cdk.CfnOutput(scope, f"{name}TableName", value=table.table.table_name)
        for name, queue in self.queues.items():
            cdk.CfnOutput(scope, f"{name}Url", value=queue.queue_url)
        cdk.CfnOutput(scope, f"{SCHEDULED_JOBS_DLQ}Url", value=self.jobs_dlq.queue.queue_url)


def add_regional_data(stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey) -> RegionalData:
    tables = {
        spec.logical_name: DataTable(
            stack,
            spec.logical_name,
            DataTableProps(
                spec=spec,
                encryption_key=key,
                removal_policy=cfg.removal_policy,
                deletion_protection=cfg.deletion_protection,
                table_name=table_name(cfg, spec.logical_name),
            ),
        )
        for spec in REGIONAL_TABLES
    }
    return RegionalData(tables, _declared_queues(stack, cfg, key), _jobs_dlq(stack, cfg, key))


def _declared_queues(stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey) -> dict[str, sqs.IQueue]:
    dlqs: dict[str, DeadLetterQueue] = {}
    queues: dict[str, sqs.IQueue] = {}
    # A queue's redrive policy names its DLQ, so the DLQs come first.
    for spec in sorted(QUEUES, key=lambda q: q.dead_letter_queue is not None):
        if spec.dead_letter_queue is None:
            dlqs[spec.name] = _dlq(stack, cfg, key, spec.name, spec.retention_days)
            queues[spec.name] = dlqs[spec.name].queue
        else:
            queues[spec.name] = _work_queue(stack, cfg, key, spec, dlqs[spec.dead_letter_queue])
    redrive_targets = {spec.dead_letter_queue for spec in QUEUES}
    destinations = {source.on_failure for source in EVENT_SOURCES}
    for name, dlq in dlqs.items():
        if name not in redrive_targets and name in destinations:
            _acknowledge_destination(dlq, "the on-failure destination of the stream mapping")
    return queues


def _dlq(
    stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey, name: str, retention_days: int
) -> DeadLetterQueue:
    return DeadLetterQueue(
        stack,
        name,
        DeadLetterQueueProps(
            encryption_key=key,
            removal_policy=cfg.removal_policy,
            retention_days=retention_days,
            queue_name=queue_name(cfg, name),
        ),
    )


def _work_queue(
    stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey, spec: QueueSpec, dlq: DeadLetterQueue
) -> sqs.IQueue:
    return WorkQueue(
        stack,
        spec.name,
        WorkQueueProps(
            encryption_key=key,
            removal_policy=cfg.removal_policy,
            dead_letter_queue=dlq,
            max_receive_count=spec.max_receive_count,
            visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_seconds),
            retention_days=spec.retention_days,
            queue_name=queue_name(cfg, spec.name),
        ),
    ).queue


def _jobs_dlq(stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey) -> DeadLetterQueue:
    """Granted here against the rules' fixed names, so the service stack never writes into
    this one (that would be a dependency cycle)."""
    dlq = _dlq(stack, cfg, key, SCHEDULED_JOBS_DLQ, cfg.dlq_retention_days)
    rule_arns = [
        stack.format_arn(service="events", resource="rule", resource_name=rule_name(cfg, s))
        for s in SCHEDULES
    ]
    dlq.queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowScheduleDeadLetters",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[dlq.queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arns}},
        )
    )
    _acknowledge_destination(
        dlq, "the scheduled jobs' asynchronous-invocation DLQ and their schedule targets' DLQ"
    )
    return dlq


def _acknowledge_destination(dlq: DeadLetterQueue, role: str) -> None:
    nag.acknowledge(
        dlq.queue,
        "AwsSolutions-SQS3",
        f"This queue is a dead-letter queue ({role}); Lambda and EventBridge send to it "
        "directly, not through a redrive policy, so cdk-nag cannot see that it is one.",
    )
