"""Alarms and dashboards of one environment, all through cdk-monitoring-constructs.

Critical alarms page (critical topic); warnings open a ticket (warning topic).
Thresholds come from config. The seed's five alarms:
  1. CreatePayout error rate above 5% over 5 minutes
  2. MonoovaWebhook errors above 3 in 10 minutes
  3. WebhookDlq depth above 0
  4. API 5xx above 10 in 5 minutes
  5. Lambda throttles above 5, per function
plus 6. WebhookDlq oldest message older than config, 7. stuck UNKNOWN payouts, 8. Monoova
refusing our credentials (401/403), 9. payouts in manual review, 10. credits the refund sweep
had to make, and depth alarms on the two other DLQs.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cdk_monitoring_constructs as cmc
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.monitoring import MonitoringHub, MonitoringHubProps
from cdk_constructs.stack_base import ConfiguredStack
from config.payouts import PayoutsConfig
from payouts import declarations as fn
from payouts.logic import metrics as m
from stacks.payouts.access import METRICS_NAMESPACE
from stacks.payouts.service import PayoutsServiceStack
from stacks.payouts.stateful import PayoutsStatefulStack

# (metric, unit, statistic): the names are the runtime's own constants, so a renamed
# metric cannot silently leave a dashboard or alarm watching nothing.
BUSINESS_METRICS = {
    "Payouts": (
        (m.PAYOUT_CREATED, "Count", "Sum"),
        (m.PAYOUT_COMPLETED, "Count", "Sum"),
        (m.PAYOUT_REJECTED, "Count", "Sum"),
        (m.PAYOUT_RETURNED, "Count", "Sum"),
        (m.PAYOUT_UNKNOWN, "Count", "Sum"),
        (m.BALANCE_RESTORED, "Count", "Sum"),
        (m.RETURNS_FOUND, "Count", "Sum"),
    ),
    "Value (AUD cents)": ((m.PAYOUT_AMOUNT_CENTS, "Count", "Sum"),),
    "Time to final state": ((m.TIME_TO_FINAL_STATE, "Milliseconds", "p90"),),
    "Monoova": (
        (m.MONOOVA_LATENCY, "Milliseconds", "p90"),
        (m.MONOOVA_CALL_FAILED, "Count", "Sum"),
        (m.CIRCUIT_OPENED, "Count", "Sum"),
        (m.BREAKER_UPDATE_FAILED, "Count", "Sum"),
        (m.CIRCUIT_REJECTED, "Count", "Sum"),
    ),
    "Needs attention": (
        (m.SUBMISSION_INCOMPLETE, "Count", "Sum"),
        (m.WEBHOOK_DEAD_LETTERED, "Count", "Sum"),
        (m.RECONCILE_ERRORS, "Count", "Sum"),
    ),
}
STUCK_UNKNOWN_METRIC = m.STUCK_UNKNOWN


class PayoutsMonitoringStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: PayoutsConfig,
        stateful: PayoutsStatefulStack,
        service: PayoutsServiceStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("monitoring"),
            description=f"Payouts {cfg.env_name}: alarms, topics and dashboards",
            env=cfg.cdk_environment,
            availability_zones=cfg.availability_zones,
            **kwargs,
        )
        self.cfg = cfg
        self.hub = MonitoringHub(
            self,
            "Monitoring",
            MonitoringHubProps(
                name_prefix=f"{cfg.system}-{cfg.env_name}",
                alarm_actions_enabled=cfg.alarm_actions_enabled,
                removal_policy=cfg.removal_policy,
            ),
        )
        if not cfg.alarm_actions_enabled:
            # Only where config turns alarm actions off (dev): the alarms keep their
            # topic actions, with ActionsEnabled false.
            nag.acknowledge(
                self.hub,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "NIST 800-53 R5 SI-4(12), SI-5b, CA-7: this environment's config turns alarm "
                "actions off (alarm_actions_enabled=False) because it holds only test data "
                "and pages nobody; its alarms still evaluate, keep their SNS actions and "
                "show on the dashboards, and every environment with real data enables them.",
            )
        self._api(service)
        self._functions(service)
        self._queues(stateful)
        self._tables(stateful)
        self._business()

    def _api(self, service: PayoutsServiceStack) -> None:
        cfg = self.cfg
        ops = self.hub.operations
        ops.add_large_header(f"Payouts {cfg.env_name}: operations")
        ops.monitor_api_gateway(
            api=service.api.api,
            api_stage=service.api.stage_name,
            human_readable_name="Payouts API",
            alarm_friendly_name="Api",
            add5_xx_fault_count_alarm={
                "Critical": cmc.ErrorCountThreshold(
                    max_error_count=cfg.api_5xx_count,
                    period=cdk.Duration.minutes(cfg.api_5xx_window_minutes),
                    action_override=self.hub.critical,
                )
            },
        )

    def _functions(self, service: PayoutsServiceStack) -> None:
        cfg = self.cfg
        special: dict[str, dict[str, Any]] = {
            fn.CREATE_PAYOUT.name: {
                "add_fault_rate_alarm": {
                    "Critical": cmc.ErrorRateThreshold(
                        # Lambda's Errors metric averaged over invocations is a 0..1 ratio.
                        max_error_rate=cfg.create_payout_error_rate_percent / 100,
                        period=cdk.Duration.minutes(cfg.create_payout_error_window_minutes),
                        action_override=self.hub.critical,
                    )
                }
            },
            fn.MONOOVA_WEBHOOK.name: {
                "add_fault_count_alarm": {
                    "Critical": cmc.ErrorCountThreshold(
                        max_error_count=cfg.webhook_error_count,
                        period=cdk.Duration.minutes(cfg.webhook_error_window_minutes),
                        action_override=self.hub.critical,
                    )
                }
            },
        }
        for name, secure_function in service.functions.items():
            self.hub.operations.monitor_lambda_function(
                lambda_function=secure_function.function,
                human_readable_name=name,
                alarm_friendly_name=name,
                add_throttles_count_alarm={
                    "Warning": cmc.ErrorCountThreshold(max_error_count=cfg.lambda_throttle_count)
                },
                **special.get(name, {}),
            )

    def _queues(self, stateful: PayoutsStatefulStack) -> None:
        self._dlq(stateful.webhook_dlq.queue, "WebhookDlq", critical=True, age_alarm=True)
        self._dlq(stateful.balance_restore_dlq.queue, "BalanceRestoreDlq", critical=True)
        self._dlq(stateful.reconciler_dlq.queue, "ReconcilerDlq", critical=False)
        self.hub.operations.monitor_sqs_queue(
            queue=stateful.webhook_replay_queue.queue,
            human_readable_name="WebhookReplayQueue",
            alarm_friendly_name="WebhookReplayQueue",
        )

    def _dlq(
        self, queue: sqs.IQueue, name: str, *, critical: bool, age_alarm: bool = False
    ) -> None:
        cfg = self.cfg
        alarms: dict[str, Any] = {
            "add_queue_max_size_alarm": {
                "Critical" if critical else "Warning": cmc.MaxMessageCountThreshold(
                    max_message_count=cfg.dlq_max_visible_messages,
                    action_override=self.hub.critical if critical else None,
                )
            }
        }
        if age_alarm:
            alarms["add_queue_max_message_age_alarm"] = {
                "Warning": cmc.MaxMessageAgeThreshold(
                    max_age_in_seconds=cfg.dlq_max_age_alarm_seconds
                )
            }
        self.hub.operations.monitor_sqs_queue(
            queue=queue, human_readable_name=name, alarm_friendly_name=name, **alarms
        )

    def _tables(self, stateful: PayoutsStatefulStack) -> None:
        for name, table in stateful.tables.items():
            self.hub.operations.monitor_dynamo_table(
                table=table.table, human_readable_name=f"{name} table", alarm_friendly_name=name
            )

    def _metric(self, name: str, unit: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": self.cfg.system, "environment": self.cfg.env_name},
            unit=cloudwatch.Unit[unit.upper()],
            statistic=statistic,
            period=cdk.Duration.minutes(5),
            label=name,
        )

    def _business(self) -> None:
        cfg = self.cfg
        business = self.hub.business
        business.add_large_header(f"Payouts {cfg.env_name}: business")
        groups = [
            cmc.CustomMetricGroup(
                title=title,
                metrics=[self._metric(name, unit, stat) for name, unit, stat in metrics],
            )
            for title, metrics in BUSINESS_METRICS.items()
        ]
        alarmed = (
            # A gauge the reconciler sets every run: the worst value in the window counts.
            ("Stuck UNKNOWN payouts", STUCK_UNKNOWN_METRIC, "Maximum", cfg.stuck_unknown_max, True),
            # Monoova refused our API key: every payout waits until it is fixed.
            ("Monoova refused our credentials", m.MONOOVA_AUTH_FAILED, "Sum", 0, True),
            # A payout the reconciler cannot send again as first sent: a person decides.
            ("Payouts in manual review", m.PAYOUT_NEEDS_REVIEW, "Sum", 0, True),
            # The refund sweep credited what the table stream missed: the money is right
            # again, but the stream path is broken. A ticket, not a page.
            ("Credits the stream missed", m.REFUNDS_SWEPT, "Sum", 0, False),
        )
        for title, name, statistic, threshold, critical in alarmed:
            metric = self._alarmed(name, statistic, threshold, critical=critical)
            groups.append(cmc.CustomMetricGroup(title=title, metrics=[metric]))
        business.monitor_custom(
            human_readable_name="Payout KPIs", alarm_friendly_name="Business", metric_groups=groups
        )

    def _alarmed(
        self, name: str, statistic: str, threshold: float, *, critical: bool = True
    ) -> cmc.CustomMetricWithAlarm:
        """A business metric whose value above `threshold` raises an alarm (no data: fine)."""
        severity = "Critical" if critical else "Warning"
        return cmc.CustomMetricWithAlarm(
            alarm_friendly_name=name,
            metric=self._metric(name, "Count", statistic),
            add_alarm={
                severity: cmc.CustomThreshold(
                    threshold=threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                    action_override=self.hub.critical if critical else None,
                )
            },
        )
