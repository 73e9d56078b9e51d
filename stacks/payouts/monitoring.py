"""Alarms and dashboards of one environment, all through cdk-monitoring-constructs.

Critical alarms page (critical topic); warnings open a ticket (warning topic).
Thresholds come from config. The five base alarms:
  1. CreatePayout error rate above 5% over 5 minutes
  2. MonoovaWebhook errors above 3 in 10 minutes
  3. WebhookDlq depth above 0
  4. API 5xx above 10 in 5 minutes
  5. Lambda throttles above 5, per function
plus 6. WebhookDlq oldest message older than config, 7. stuck UNKNOWN payouts, and
depth alarms on the two other DLQs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import cdk_monitoring_constructs as cmc
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.monitoring import BusinessMetrics, MonitoringHub, MonitoringHubProps
from cdk_constructs.stack_base import ConfiguredStack
from config.payouts import PayoutsConfig
from payouts import declarations as fn
from payouts.logic import metrics as m
from shared.metrics import MetricSpec
from stacks.payouts.access import METRICS_NAMESPACE
from stacks.payouts.service import PayoutsServiceStack
from stacks.payouts.stateful import PayoutsStatefulStack

# The business metrics by dashboard group, each with the functions whose code publishes it.
# The names are the runtime's own constants, so a renamed metric cannot silently leave a
# dashboard or alarm watching nothing; an alarm exists only while a producer is deployed.
_CREATE = (fn.CREATE_PAYOUT.name,)
_SUBMIT = (fn.CREATE_PAYOUT.name, fn.RECONCILER.name)
_FINAL = (fn.RECONCILER.name, fn.MONOOVA_WEBHOOK.name, fn.WEBHOOK_REPLAY.name)
_RESTORE = (fn.BALANCE_RESTORER.name,)
_RECONCILE = (fn.RECONCILER.name,)
BUSINESS_METRICS: dict[str, tuple[MetricSpec, ...]] = {
    "Payouts": (
        MetricSpec(m.PAYOUT_CREATED, "Count", _CREATE),
        MetricSpec(m.PAYOUT_COMPLETED, "Count", _FINAL),
        MetricSpec(m.PAYOUT_REJECTED, "Count", _SUBMIT + _FINAL),
        MetricSpec(m.PAYOUT_RETURNED, "Count", _FINAL),
        MetricSpec(m.PAYOUT_UNKNOWN, "Count", _SUBMIT + _FINAL),
        MetricSpec(m.BALANCE_RESTORED, "Count", _RESTORE),
        MetricSpec(m.RETURNS_FOUND, "Count", _RECONCILE),
    ),
    "Value (AUD cents)": (MetricSpec(m.PAYOUT_AMOUNT_CENTS, "Count", _CREATE),),
    "Time to final state": (
        MetricSpec(m.TIME_TO_FINAL_STATE, "Milliseconds", _RESTORE, statistic="p90"),
    ),
    "Monoova": (
        MetricSpec(m.MONOOVA_LATENCY, "Milliseconds", _SUBMIT, statistic="p90"),
        MetricSpec(m.MONOOVA_CALL_FAILED, "Count", _SUBMIT),
        MetricSpec(m.CIRCUIT_OPENED, "Count", _SUBMIT),
        MetricSpec(m.BREAKER_UPDATE_FAILED, "Count", _SUBMIT),
        MetricSpec(m.CIRCUIT_REJECTED, "Count", _CREATE),
    ),
    "Needs attention": (
        MetricSpec(m.SUBMISSION_INCOMPLETE, "Count", _CREATE),
        MetricSpec(m.WEBHOOK_DEAD_LETTERED, "Count", (fn.MONOOVA_WEBHOOK.name,)),
        MetricSpec(m.RECONCILE_ERRORS, "Count", (fn.RECONCILER.name,)),
    ),
}
# A gauge the reconciler sets every run: the worst value in the window counts.
STUCK_UNKNOWN = MetricSpec(m.STUCK_UNKNOWN, "Count", _RECONCILE, statistic="Maximum")
STUCK_UNKNOWN_METRIC = STUCK_UNKNOWN.name


@dataclass(frozen=True)
class AlarmedMetric:
    """A business metric whose value above `threshold` raises an alarm (no data: fine)."""

    title: str
    spec: MetricSpec
    threshold_field: str | None  # a config field, else 0
    critical: bool


ALARMED = (
    AlarmedMetric("Stuck UNKNOWN payouts", STUCK_UNKNOWN, "stuck_unknown_max", critical=True),
    # Monoova refused our API key: every payout waits until it is fixed.
    AlarmedMetric(
        "Monoova refused our credentials",
        MetricSpec(m.MONOOVA_AUTH_FAILED, "Count", _SUBMIT),
        None,
        critical=True,
    ),
    # A payout the reconciler cannot send again as first sent: a person decides.
    AlarmedMetric(
        "Payouts in manual review",
        MetricSpec(m.PAYOUT_NEEDS_REVIEW, "Count", _RECONCILE),
        None,
        critical=True,
    ),
    # The refund sweep credited what the table stream missed: the money is right again, but
    # the stream path is broken. A ticket, not a page.
    AlarmedMetric(
        "Credits the stream missed",
        MetricSpec(m.REFUNDS_SWEPT, "Count", (fn.REFUND_SWEEPER.name,)),
        None,
        critical=False,
    ),
)
DECLARED_METRICS = (
    *(s for group in BUSINESS_METRICS.values() for s in group),
    *(alarmed.spec for alarmed in ALARMED),
)


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
        self._business(
            BusinessMetrics(
                namespace=METRICS_NAMESPACE,
                declared=DECLARED_METRICS,
                running_functions=frozenset(service.functions),
            )
        )

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

    def _business(self, metrics: BusinessMetrics) -> None:
        cfg = self.cfg
        business = self.hub.business
        business.add_large_header(f"Payouts {cfg.env_name}: business")
        groups = [
            cmc.CustomMetricGroup(
                title=title,
                metrics=[self._metric(spec.name, spec.unit, spec.statistic) for spec in specs],
            )
            for title, specs in BUSINESS_METRICS.items()
        ]
        for alarmed in ALARMED:
            if metrics.alarmable(alarmed.spec.name):
                metric = self._alarmed(alarmed)
                groups.append(cmc.CustomMetricGroup(title=alarmed.title, metrics=[metric]))
        business.monitor_custom(
            human_readable_name="Payout KPIs", alarm_friendly_name="Business", metric_groups=groups
        )

    def _alarmed(self, alarmed: AlarmedMetric) -> cmc.CustomMetricWithAlarm:
        spec = alarmed.spec
        severity = "Critical" if alarmed.critical else "Warning"
        threshold = getattr(self.cfg, alarmed.threshold_field) if alarmed.threshold_field else 0
        return cmc.CustomMetricWithAlarm(
            alarm_friendly_name=spec.name,
            metric=self._metric(spec.name, spec.unit, spec.statistic),
            add_alarm={
                severity: cmc.CustomThreshold(
                    threshold=threshold,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                    action_override=self.hub.critical if alarmed.critical else None,
                )
            },
        )
