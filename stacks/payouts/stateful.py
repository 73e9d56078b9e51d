"""Keys, tables, secrets, the admin user pool and the queues of one environment.

Everything here holds data or identity, so it lives apart from the functions:
termination protection and retention (RetainExceptOnCreate) come from config, and
construct ids never change (a new id is a new resource, i.e. an empty table).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.keys import ManagedKey, ManagedKeyProps
from cdk_constructs.queue import (
    DeadLetterQueue,
    DeadLetterQueueProps,
    WorkQueue,
    WorkQueueProps,
)
from cdk_constructs.secret import PlaceholderSecret, PlaceholderSecretProps
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.table import DataTable, DataTableProps
from cdk_constructs.user_pool import AdminUserPool, AdminUserPoolProps
from config.payouts import PayoutsConfig
from payouts.declarations import WEBHOOK_REPLAY
from payouts.tables import ALL_TABLES

# AWS's guidance for a queue feeding Lambda: visibility timeout at least six times
# the function timeout, so a slow batch is not redelivered while still running.
_VISIBILITY_PER_TIMEOUT = 6


class PayoutsStatefulStack(ConfiguredStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: PayoutsConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("stateful"),
            description=f"Payouts {cfg.env_name}: keys, tables, secrets, user pool, queues",
            env=cfg.cdk_environment,
            availability_zones=cfg.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.cfg = cfg
        # The scheduled jobs' rule names (the suffix is the cost model's key for each).
        self.schedule_rule_names = {
            job: cfg.resource_name(job) for job in ("reconcile", "return-check", "refund-sweep")
        }
        self.reconcile_rule_name = self.schedule_rule_names["reconcile"]
        self._keys()
        self.tables = {
            spec.logical_name: DataTable(
                self,
                spec.logical_name,
                DataTableProps(
                    spec=spec,
                    encryption_key=self.data_key,
                    removal_policy=cfg.removal_policy,
                    deletion_protection=cfg.deletion_protection,
                ),
            )
            for spec in ALL_TABLES
        }
        self._secrets()
        self.user_pool = AdminUserPool(
            self,
            "AdminUserPool",
            AdminUserPoolProps(
                user_pool_name=cfg.resource_name("admins"),
                removal_policy=cfg.removal_policy,
                deletion_protection=cfg.deletion_protection,
            ),
        )
        self._queues()
        self._outputs()

    def _key(self, construct_id: str, purpose: str) -> ManagedKey:
        return ManagedKey(
            self,
            construct_id,
            ManagedKeyProps(
                alias=f"alias/{self.cfg.resource_name(purpose)}",
                description=f"Payouts {self.cfg.env_name}: {purpose}",
                removal_policy=self.cfg.removal_policy,
            ),
        )

    def _keys(self) -> None:
        self.data_key_construct = self._key("DataKey", "data")
        self.data_key = self.data_key_construct.key
        # Attribute-level encryption of payout destinations (PayID, BSB, account).
        self.pii_key = self._key("PiiKey", "pii").key
        logs_key = self._key("LogsKey", "logs")
        logs_key.allow_cloudwatch_logs()
        self.logs_key = logs_key.key

    def _secrets(self) -> None:
        self.monoova_api_secret = self._secret(
            "MonoovaApiSecret",
            "monoova/api-key",
            "api_key",
            "Monoova API key (HTTP Basic username)",
        )
        self.monoova_webhook_secret = self._secret(
            "MonoovaWebhookSecret",
            "monoova/webhook",
            "authorization",
            "Authorization header value Monoova sends with every webhook",
        )
        no_rotation = {
            self.monoova_api_secret: (
                "Monoova issues the API key in its portal and offers no API to rotate it, "
                "so no rotation Lambda can do it; it is rotated by the runbook when Monoova "
                "re-issues the key or on suspected compromise."
            ),
            self.monoova_webhook_secret: (
                "The webhook credential is configured in Monoova's portal and must change "
                "there and here together; it is rotated by the runbook (old and new "
                "accepted during the switch), not by a rotation Lambda that cannot reach "
                "Monoova's portal."
            ),
        }
        for secret, reason in no_rotation.items():
            nag.acknowledge(secret, "AwsSolutions-SMG4", reason)
            nag.acknowledge(
                secret,
                "NIST.800.53.R5-SecretsManagerRotationEnabled",
                f"NIST 800-53 R5 SC-12, AC-4 (same finding as AwsSolutions-SMG4): {reason}",
            )

    def _secret(self, construct_id: str, name: str, key: str, description: str) -> Any:
        return PlaceholderSecret(
            self,
            construct_id,
            PlaceholderSecretProps(
                secret_name=f"{self.cfg.system}/{self.cfg.env_name}/{name}",
                description=description,
                generated_key=key,
                encryption_key=self.data_key,
                removal_policy=self.cfg.removal_policy,
            ),
        ).secret

    def _dlq(self, construct_id: str) -> DeadLetterQueue:
        return DeadLetterQueue(
            self,
            construct_id,
            DeadLetterQueueProps(
                encryption_key=self.data_key,
                removal_policy=self.cfg.removal_policy,
                retention_days=self.cfg.dlq_retention_days,
            ),
        )

    def _queues(self) -> None:
        self.webhook_dlq = self._dlq("WebhookDlq")
        self.webhook_replay_queue = WorkQueue(
            self,
            "WebhookReplayQueue",
            WorkQueueProps(
                encryption_key=self.data_key,
                removal_policy=self.cfg.removal_policy,
                dead_letter_queue=self.webhook_dlq,
                max_receive_count=self.cfg.webhook_replay_max_receive_count,
                visibility_timeout=cdk.Duration.seconds(
                    _VISIBILITY_PER_TIMEOUT * WEBHOOK_REPLAY.timeout_seconds
                ),
            ),
        )
        self.balance_restore_dlq = self._dlq("BalanceRestoreDlq")
        self.reconciler_dlq = self._dlq("ReconcilerDlq")
        self._allow_schedule_to_reconciler_dlq()
        for dlq, consumer in (
            (
                self.balance_restore_dlq,
                "the BalanceRestorer stream mapping's on-failure destination",
            ),
            (
                self.reconciler_dlq,
                "the scheduled functions' async-invoke DLQ and their schedule targets' DLQ",
            ),
        ):
            nag.acknowledge(
                dlq.queue,
                "AwsSolutions-SQS3",
                f"This queue is a dead-letter queue: it is {consumer}, wired in the service "
                "stack, which the rule cannot see from this stack.",
            )

    def _allow_schedule_to_reconciler_dlq(self) -> None:
        """EventBridge delivers failed schedule invocations to ReconcilerDlq (the scheduled
        jobs' DLQ: reconcile, return check, refund sweep).

        Granted here, against the rules' fixed names, so that the service stack does
        not write back into this stack (that would be a dependency cycle).
        """
        rule_arns = [
            self.format_arn(service="events", resource="rule", resource_name=name)
            for name in self.schedule_rule_names.values()
        ]
        self.reconciler_dlq.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowReconcileScheduleDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.reconciler_dlq.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arns}},
            )
        )
        self.data_key_construct.allow_service(
            "AllowReconcileScheduleDeadLetters", "events.amazonaws.com", rule_arns
        )

    def _outputs(self) -> None:
        """What operators and scripts (e.g. the DLQ redrive) read from the stack."""
        outputs = {
            "UserPoolId": self.user_pool.user_pool.user_pool_id,
            "UserPoolClientId": self.user_pool.client.user_pool_client_id,
            "WebhookDlqUrl": self.webhook_dlq.queue.queue_url,
            "WebhookDlqArn": self.webhook_dlq.queue.queue_arn,
            "WebhookReplayQueueUrl": self.webhook_replay_queue.queue.queue_url,
            "WebhookReplayQueueArn": self.webhook_replay_queue.queue.queue_arn,
            "BalanceRestoreDlqUrl": self.balance_restore_dlq.queue.queue_url,
            "ReconcilerDlqUrl": self.reconciler_dlq.queue.queue_url,
        }
        for name, table in self.tables.items():
            outputs[f"{name}TableName"] = table.table.table_name
        for key, value in outputs.items():
            cdk.CfnOutput(self, key, value=value)
