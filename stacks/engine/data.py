"""The engine's primary data in Mumbai: global tables, the event bus, queues, topics.

Stateful: termination protection and RETAIN from config; construct ids never
change (a new id is a new, empty table). Where DR is enabled every table has a
Singapore replica under the Singapore replica of the data key.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.global_table import GlobalTable, GlobalTableProps
from cdk_constructs.queue import DeadLetterQueue, DeadLetterQueueProps, WorkQueue, WorkQueueProps
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig
from shared.engine_tables import GLOBAL_TABLES
from stacks.engine.keys import EngineKeysStack

# Queue id -> what it carries. Each has its own DLQ.
QUEUES = {
    "LmsPosting": "repayments waiting to be posted to the LMS (FinnOne via MuleSoft)",
    "Notifications": "customer notifications waiting to be sent",
}
TOPICS = {
    "Critical": "pages the on-call engineer",
    "Warning": "opens a ticket",
}


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
            description=f"Payments engine {cfg.env_name}: tables, event bus, queues, topics",
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
                ),
            )
            for spec in GLOBAL_TABLES
        }
        self._event_bus()
        self._queues()
        self.topics = {name: self._topic(name) for name in TOPICS}
        self.schedule_group = scheduler.ScheduleGroup(
            self,
            "Schedules",
            schedule_group_name=cfg.resource_name("schedules"),
            removal_policy=cfg.removal_policy,
        )
        self._outputs()

    def _event_bus(self) -> None:
        cfg = self.cfg
        self.event_bus = events.EventBus(
            self,
            "EventBus",
            event_bus_name=cfg.resource_name("events"),
            description=f"Payments engine {cfg.env_name} domain events",
            kms_key=self.data_key,
        )
        self.event_bus.apply_removal_policy(cfg.removal_policy)
        self.archive = events.Archive(
            self,
            "EventArchive",
            source_event_bus=self.event_bus,
            archive_name=cfg.resource_name("events"),
            description="Every event on the engine bus, for replay",
            # Archives need a pattern; every event carries an account.
            event_pattern=events.EventPattern(account=[self.account]),
            retention=cdk.Duration.days(cfg.event_archive_retention_days),
            kms_key=self.data_key,
        )

    def _queues(self) -> None:
        cfg = self.cfg
        self.dlqs: dict[str, DeadLetterQueue] = {}
        self.queues: dict[str, WorkQueue] = {}
        for name in QUEUES:
            dlq = DeadLetterQueue(
                self,
                f"{name}Dlq",
                DeadLetterQueueProps(
                    encryption_key=self.data_key,
                    removal_policy=cfg.removal_policy,
                    retention_days=cfg.dlq_retention_days,
                ),
            )
            self.dlqs[name] = dlq
            self.queues[name] = WorkQueue(
                self,
                f"{name}Queue",
                WorkQueueProps(
                    encryption_key=self.data_key,
                    removal_policy=cfg.removal_policy,
                    dead_letter_queue=dlq,
                    max_receive_count=cfg.queue_max_receive_count,
                    visibility_timeout=cdk.Duration.seconds(cfg.queue_visibility_timeout_seconds),
                ),
            )

    def _topic(self, name: str) -> sns.Topic:
        topic = sns.Topic(
            self,
            f"{name}Topic",
            topic_name=self.cfg.resource_name(name.lower()),
            display_name=f"Payments engine {self.cfg.env_name}: {TOPICS[name]}",
            master_key=self.data_key,
            enforce_ssl=True,
        )
        topic.apply_removal_policy(self.cfg.removal_policy)
        return topic

    def _outputs(self) -> None:
        outputs = {f"{name}TableName": t.table.table_name for name, t in self.tables.items()}
        outputs |= {f"{name}QueueUrl": q.queue.queue_url for name, q in self.queues.items()}
        outputs |= {f"{name}DlqUrl": q.queue.queue_url for name, q in self.dlqs.items()}
        outputs |= {f"{name}TopicArn": t.topic_arn for name, t in self.topics.items()}
        outputs["EventBusName"] = self.event_bus.event_bus_name
        outputs["ScheduleGroupName"] = self.schedule_group.schedule_group_name
        for key, value in outputs.items():
            cdk.CfnOutput(self, key, value=value)
