"""Alarm routing and dashboards, all through cdk-monitoring-constructs.

Two SNS topics: `critical` pages someone, `warning` opens a ticket. Both are
encrypted with their own rotated key and refuse non-TLS publishers. Two facades
share them: `operations` (API, functions, queues, tables) and `business` (the
KPIs the functions emit), each with its own dashboard.

A system whose topics already exist passes their ARNs instead (the hub then
creates neither topic nor key); one that wants a single dashboard per Region
names it, and `business` is then the same facade as `operations`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
import cdk_monitoring_constructs as cmc
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_constructs.keys import ManagedKey, ManagedKeyProps
from shared.metrics import MetricSpec


@dataclass(frozen=True)
class BusinessMetrics:
    """A Region's business metrics, and which of them it may alarm on.

    A business alarm exists only for a metric that a function deployed and running in
    that Region emits (`MetricSpec.producers`): a metric nothing publishes would page for
    silence from day one (missing data treated as breaching), or sit in INSUFFICIENT_DATA
    and hide that its producer is missing. Graphs show every declared metric regardless.
    """

    namespace: str
    declared: Sequence[MetricSpec]
    # Declared names (FunctionSpec.name) of the functions deployed and running here.
    running_functions: Collection[str]

    def spec(self, name: str) -> MetricSpec:
        for metric in self.declared:
            if metric.name == name:
                return metric
        raise ValueError(f"metric {name!r} is not declared in {self.namespace}")

    def alarmable(self, name: str) -> bool:
        return self.spec(name).emitted_by_any(self.running_functions)


@dataclass(frozen=True)
class MonitoringHubProps:
    name_prefix: str
    alarm_actions_enabled: bool
    removal_policy: cdk.RemovalPolicy
    # Existing topics to alarm to, by ARN, in this account and Region (CloudWatch
    # alarms publish only there); None creates the topic here under the hub's key.
    critical_topic_arn: str | None = None
    warning_topic_arn: str | None = None
    # One dashboard with exactly this name instead of `<prefix>-operations` and
    # `<prefix>-business`.
    dashboard_name: str | None = None


class MonitoringHub(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: MonitoringHubProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        stack = cdk.Stack.of(self)
        self.alarm_arn_pattern = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.key: ManagedKey | None = None
        if props.critical_topic_arn is None or props.warning_topic_arn is None:
            self.key = ManagedKey(
                self,
                "TopicKey",
                ManagedKeyProps(
                    alias=f"alias/{props.name_prefix}-alarms",
                    description=f"{props.name_prefix} alarm topics",
                    removal_policy=props.removal_policy,
                ),
            )
            self.key.allow_service(
                "AllowCloudWatchAlarms", "cloudwatch.amazonaws.com", [self.alarm_arn_pattern]
            )
        self.critical_topic = self._topic(
            "CriticalTopic", f"{props.name_prefix}-critical", props.critical_topic_arn
        )
        self.warning_topic = self._topic(
            "WarningTopic", f"{props.name_prefix}-warning", props.warning_topic_arn
        )
        self.critical = cmc.SnsAlarmActionStrategy(
            on_alarm_topic=self.critical_topic, on_ok_topic=self.critical_topic
        )
        self.warning = cmc.SnsAlarmActionStrategy(on_alarm_topic=self.warning_topic)
        if props.dashboard_name is None:
            self.operations = self._facade("Operations", f"{props.name_prefix}-operations")
            self.business = self._facade("Business", f"{props.name_prefix}-business")
        else:
            self.operations = self._facade("Operations", props.dashboard_name)
            self.business = self.operations

    def _topic(self, construct_id: str, name: str, existing_arn: str | None) -> sns.ITopic:
        if existing_arn is not None:
            _check_same_region(cdk.Stack.of(self), construct_id, existing_arn)
            return sns.Topic.from_topic_arn(self, construct_id, existing_arn)
        assert self.key is not None
        topic = sns.Topic(
            self,
            construct_id,
            topic_name=name,
            display_name=name,
            master_key=self.key.key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account},
                    "ArnLike": {"aws:SourceArn": self.alarm_arn_pattern},
                },
            )
        )
        return topic

    def _facade(self, construct_id: str, dashboard_name: str) -> cmc.MonitoringFacade:
        return cmc.MonitoringFacade(
            self,
            construct_id,
            alarm_factory_defaults=cmc.AlarmFactoryDefaults(
                alarm_name_prefix=self.props.name_prefix,
                actions_enabled=self.props.alarm_actions_enabled,
                action=self.warning,
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            metric_factory_defaults=cmc.MetricFactoryDefaults(),
            dashboard_factory=cmc.DefaultDashboardFactory(
                self,
                f"{construct_id}Dashboards",
                dashboard_name_prefix=dashboard_name,
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )


def _check_same_region(stack: cdk.Stack, label: str, topic_arn: str) -> None:
    """CloudWatch alarms can only publish to a topic in their own Region."""
    if cdk.Token.is_unresolved(topic_arn) or cdk.Token.is_unresolved(stack.region):
        return
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", parts[1], "sns"]:
        raise ValueError(f"{label}: {topic_arn!r} is not an SNS topic ARN")
    if parts[3] != stack.region:
        raise ValueError(
            f"{label}: topic {topic_arn} is in {parts[3]}, but alarms in {stack.region} "
            "can only publish to a topic in their own Region"
        )
