"""The engine's data: Mumbai's global tables, secrets, bus, queues and topics; Singapore's own.

Stateful: termination protection and retention (RetainExceptOnCreate) from config;
construct ids never change (a new id is a new, empty table). Where DR is enabled every
global table has a Singapore replica under the Singapore replica of the data key, and so do
the secrets; the regional tables and the queues exist in each Region on their own
(stacks/engine/regional.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.global_table import GlobalTable, GlobalTableProps
from cdk_constructs.queue import DeadLetterQueue, DeadLetterQueueProps, WorkQueue, WorkQueueProps
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig
from engine.tables import GLOBAL_TABLES
from stacks.engine.functions import kebab
from stacks.engine.keys import EngineKeysStack, event_bus_name
from stacks.engine.regional import add_regional_data, queue_name, table_name
from stacks.engine.secrets import EngineSecrets

# Work queue id -> what it carries (for the later notifier). Each has its own DLQ. The queues
# the functions use are declared in engine/queues.py (regional.py). The LMS poster has no
# queue here: its outbox is the TransactionQueue table (the `LmsPosting` placeholder queue and
# its DLQ were removed; where they were deployed, RetainExceptOnCreate leaves them behind,
# empty: docs/engine-platform.md says how to delete them).
WORK_QUEUES = {
    "Notifications": "customer notifications waiting to be sent",
}
TOPICS = {
    "Critical": "pages the on-call engineer",
    "Warning": "opens a ticket",
}


@dataclass
class Messaging:
    """The event bus and archive, work queues with their DLQs, alarm topics, schedule group."""

    event_bus: events.EventBus
    archive: events.Archive
    queues: dict[str, WorkQueue]
    dlqs: dict[str, DeadLetterQueue]
    topics: dict[str, sns.Topic]
    schedule_group: scheduler.ScheduleGroup

    def outputs(self, scope: Construct) -> None:
        outputs = {f"{name}QueueUrl": q.queue.queue_url for name, q in self.queues.items()}
        outputs |= {f"{name}DlqUrl": q.queue.queue_url for name, q in self.dlqs.items()}
        outputs |= {f"{name}TopicArn": t.topic_arn for name, t in self.topics.items()}
        outputs["EventBusName"] = self.event_bus.event_bus_name
        outputs["ScheduleGroupName"] = self.schedule_group.schedule_group_name
        for key, value in outputs.items():
            cdk.CfnOutput(scope, key, value=value)


__all__ = ["EngineDataStack", "EngineDrDataStack", "queue_name", "table_name"]


def dlq_name(cfg: EngineConfig, name: str) -> str:
    return cfg.resource_name(f"{kebab(name)}-dlq")


def topic_name(cfg: EngineConfig, name: str) -> str:
    return cfg.resource_name(name.lower())


def add_messaging(stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey) -> Messaging:
    """The same resources, with the same ids and names, in whichever region `stack` is.

    Names are per region by nature (queues, topics, buses are regional), so the Singapore
    standby set carries the names the Mumbai set has: after a failover the functions
    deployed there find them unchanged.
    """
    event_bus = events.EventBus(
        stack,
        "EventBus",
        event_bus_name=event_bus_name(cfg),
        description=f"Payments engine {cfg.env_name} domain events",
        kms_key=key,
    )
    event_bus.apply_removal_policy(cfg.removal_policy)
    archive = events.Archive(
        stack,
        "EventArchive",
        source_event_bus=event_bus,
        archive_name=cfg.resource_name("events"),
        description="Every event on the engine bus, for replay",
        # Archives need a pattern; every event carries an account.
        event_pattern=events.EventPattern(account=[stack.account]),
        retention=cdk.Duration.days(cfg.event_archive_retention_days),
        kms_key=key,
    )
    archive.apply_removal_policy(cfg.removal_policy)
    dlqs: dict[str, DeadLetterQueue] = {}
    queues: dict[str, WorkQueue] = {}
    for name in WORK_QUEUES:
        dlqs[name] = DeadLetterQueue(
            stack,
            f"{name}Dlq",
            DeadLetterQueueProps(
                encryption_key=key,
                removal_policy=cfg.removal_policy,
                retention_days=cfg.dlq_retention_days,
                queue_name=dlq_name(cfg, name),
            ),
        )
        queues[name] = WorkQueue(
            stack,
            f"{name}Queue",
            WorkQueueProps(
                encryption_key=key,
                removal_policy=cfg.removal_policy,
                dead_letter_queue=dlqs[name],
                max_receive_count=cfg.queue_max_receive_count,
                visibility_timeout=cdk.Duration.seconds(cfg.queue_visibility_timeout_seconds),
                queue_name=queue_name(cfg, name),
            ),
        )
    topics = {name: _topic(stack, cfg, key, name) for name in TOPICS}
    schedule_group = scheduler.ScheduleGroup(
        stack,
        "Schedules",
        schedule_group_name=cfg.resource_name("schedules"),
        removal_policy=cfg.removal_policy,
    )
    return Messaging(event_bus, archive, queues, dlqs, topics, schedule_group)


def _topic(stack: cdk.Stack, cfg: EngineConfig, key: kms.IKey, name: str) -> sns.Topic:
    topic = sns.Topic(
        stack,
        f"{name}Topic",
        topic_name=topic_name(cfg, name),
        display_name=f"Payments engine {cfg.env_name}: {TOPICS[name]}",
        master_key=key,
        enforce_ssl=True,
    )
    topic.apply_removal_policy(cfg.removal_policy)
    # enforce_ssl writes a topic policy, which replaces SNS's default one: CloudWatch alarms
    # of this account (and only they) must be let back in to publish.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarms",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                    f"{stack.account}:alarm:*"
                },
            },
        )
    )
    return topic


class EngineDataStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        keys: EngineKeysStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("data"),
            description=f"Payments engine {cfg.env_name}: tables, secrets, bus, queues, topics",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        data = keys.keys["Data"]
        # Imported by ARN so that no L2 here writes key-policy statements back into
        # the keys stack (the key policy there already names the services).
        self.data_key = kms.Key.from_key_arn(self, "DataKeyRef", data.key_arn)
        replica_key_arns = (
            {cfg.dr_region: data.replica_arn(cfg.dr_region)} if cfg.dr_enabled else {}
        )
        self.tables = {
            spec.logical_name: GlobalTable(
                self,
                spec.logical_name,
                GlobalTableProps(
                    spec=spec,
                    encryption_key=self.data_key,
                    removal_policy=cfg.removal_policy,
                    deletion_protection=cfg.deletion_protection,
                    replica_key_arns=replica_key_arns,
                    table_name=table_name(cfg, spec.logical_name),
                ),
            )
            for spec in GLOBAL_TABLES
        }
        self.regional = add_regional_data(self, cfg, self.data_key)
        self.secrets = EngineSecrets(
            self, "Secrets", cfg=cfg, key=self.data_key, replica_key_arns=replica_key_arns
        ).secrets
        self.messaging = add_messaging(self, cfg, self.data_key)
        self.event_bus = self.messaging.event_bus
        self.archive = self.messaging.archive
        self.queues = self.messaging.queues
        self.dlqs = self.messaging.dlqs
        self.topics = self.messaging.topics
        self.schedule_group = self.messaging.schedule_group
        for name, t in self.tables.items():
            cdk.CfnOutput(self, f"{name}TableName", value=t.table.table_name)
        for name, secret in self.secrets.items():
            cdk.CfnOutput(self, f"{_pascal(name)}SecretArn", value=secret.secret_arn)
        self.regional.outputs(self)
        self.messaging.outputs(self)

    @property
    def stateful_table_arns(self) -> list[str]:
        """Every table here, global and regional (for the backup plan)."""
        tables = [t.table for t in self.tables.values()]
        tables += [t.table for t in self.regional.tables.values()]
        return [t.table_arn for t in tables]


def _pascal(name: str) -> str:
    return "".join(part.title() for part in name.split("-"))


class EngineDrDataStack(ConfiguredStack):
    """Singapore (DR environments): the regional tables, the standby bus, queues, topics and
    schedule group, under the Singapore replica of the Data key.

    The global tables and the secrets need nothing here: their Singapore replicas belong to
    the global tables and secrets of the Mumbai data stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        data_key_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-data"),
            description=f"Payments engine {cfg.env_name}: regional tables, standby bus (DR)",
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        self.data_key = kms.Key.from_key_arn(self, "DataKeyRef", data_key_arn)
        self.regional = add_regional_data(self, cfg, self.data_key)
        self.messaging = add_messaging(self, cfg, self.data_key)
        self.topics = self.messaging.topics
        self.queues = self.messaging.queues
        self.dlqs = self.messaging.dlqs
        self.regional.outputs(self)
        self.messaging.outputs(self)
