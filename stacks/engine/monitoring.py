"""The payments engine's alarms and dashboard, one stack per Region, by resource NAME.

CloudWatch alarms cannot watch another Region's metrics, so Mumbai (`monitoring`)
and Singapore (`dr-monitoring`) each get their own stack. Everything it watches is
named by a string the lead derives from config (table, queue, function, API, web
ACL and DB instance names), so this stack takes no token from any other stack and
can be deployed, or rebuilt, on its own.

Everything goes through cdk-monitoring-constructs (MonitoringHub's facade): the
typed monitors where an import by name is honest (tables, queues, functions), and
`monitor_custom` with metrics built from their documented names and dimensions
where the typed monitor would need an object this stack cannot have by name (a
REST API's id, a DB endpoint, a `CfnWebACL`) or lacks the alarm (RDS latency and
ReplicaLag, DynamoDB ReplicationLatency).

Severity: the critical topic pages (payments failing, LMS
unreachable, receipts not reaching the LMS, a message in a DLQ, a database not reporting,
the DR replica past its RPO); everything else goes to the warning topic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import cdk_monitoring_constructs as cmc
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.monitoring import BusinessMetrics, MonitoringHub, MonitoringHubProps
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig
from engine import metrics as engine_metrics
from shared.metrics import MetricSpec

# Where the engine's code publishes its custom metrics.
ENGINE_METRIC_NAMESPACE = engine_metrics.NAMESPACE

PRIMARY_ROLE = "monitoring"
DR_ROLE = "dr-monitoring"
REGION_ROLES = (PRIMARY_ROLE, DR_ROLE)

# The platform's metric names, declared with their producers in engine/metrics.py. Every
# alarm and graph here reads the undimensioned (aggregate) series.
PAYMENT_SUCCESS_RATE = engine_metrics.PAYMENT_SUCCESS_RATE.name
LMS_CONNECTIVITY_STATUS = engine_metrics.LMS_CONNECTIVITY_STATUS.name
API_RESPONSE_TIME = engine_metrics.API_RESPONSE_TIME.name
LMS_QUEUE_OLDEST_AGE = engine_metrics.LMS_QUEUE_OLDEST_AGE.name
LMS_POSTING_EXCEPTIONS = engine_metrics.LMS_POSTING_EXCEPTIONS.name
# Receipts must reach the LMS within 15 minutes of their capture.
LMS_RECEIPT_MAX_AGE_SECONDS = 15 * 60


@dataclass(frozen=True)
class SeedAlarm:
    """A business alarm on one engine metric: the platform's three specified CloudWatch
    alarms as specified, and the LMS posting's (LMS_ALARMS)."""

    name: str
    metric_name: str
    statistic: str
    threshold: float
    comparison: cw.ComparisonOperator
    evaluation_periods: int
    period_seconds: int
    critical: bool
    treat_missing_data: cw.TreatMissingData
    why: str


SEED_ALARMS: tuple[SeedAlarm, ...] = (
    SeedAlarm(
        name="PaymentFailureRate",
        metric_name=PAYMENT_SUCCESS_RATE,
        statistic="Average",
        threshold=95,
        comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=2,
        period_seconds=300,
        critical=True,
        # No payments at night means no datapoints, not failing payments.
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        why="Fewer than 95% of payments succeeded over 10 minutes.",
    ),
    SeedAlarm(
        name="HighAPILatency",
        metric_name=API_RESPONSE_TIME,
        statistic="Average",
        threshold=2000,
        comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=3,
        period_seconds=300,
        critical=False,
        # No requests at night means no datapoints, not slow requests.
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        why="API responses averaged over 2 s for 15 minutes.",
    ),
    SeedAlarm(
        name="LMSConnectivityFailure",
        metric_name=LMS_CONNECTIVITY_STATUS,
        statistic="Minimum",
        threshold=1,
        comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=1,
        period_seconds=60,
        critical=True,
        # A heartbeat the engine publishes every minute (1: LMS reachable, 0: not),
        # traffic or none. A missing minute means the prober itself is down, throttled
        # or cut off from CloudWatch, and then nobody knows whether repayments reach
        # the LMS: silence must page like a 0 does, or the outage that kills the
        # prober is the one nobody hears about.
        treat_missing_data=cw.TreatMissingData.BREACHING,
        why="The LMS heartbeat reported unreachable, or did not report, for a minute.",
    ),
)

# The LMS posting's business alarms (engine.logic.lms_posting), armed like the specified ones
# only where their producer runs: the sweep and the poster, in the active Region.
LMS_ALARMS: tuple[SeedAlarm, ...] = (
    SeedAlarm(
        name="LMSReceiptsDelayed",
        metric_name=LMS_QUEUE_OLDEST_AGE,
        statistic="Maximum",
        threshold=LMS_RECEIPT_MAX_AGE_SECONDS,
        comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=3,
        period_seconds=60,
        critical=True,
        # The sweep publishes the oldest live item's age on every run, every minute, 0 when
        # nothing waits, traffic or none. Three minutes without a datapoint therefore mean
        # the sweep is not running (failed, throttled, cut off from CloudWatch), which is
        # when nothing retries a receipt and nobody measures how late they are: silence
        # must page as an old receipt does (as LMSConnectivityFailure does for the
        # heartbeat). A run lasts at most its 2-minute timeout, so a sweep that overruns
        # its minute leaves a one-minute gap, not three.
        treat_missing_data=cw.TreatMissingData.BREACHING,
        why="A receipt has waited more than 15 minutes to reach the LMS (3 of 3 minutes), "
        "or the LMS sweep that measures it stopped reporting.",
    ),
    SeedAlarm(
        name="LMSPostingExceptions",
        metric_name=LMS_POSTING_EXCEPTIONS,
        statistic="Sum",
        threshold=0,
        comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        period_seconds=300,
        critical=False,
        # Published only when an item moves to EXCEPTION: no datapoint, none did.
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        why="A receipt moved to EXCEPTION (the LMS refused it, or it ran out of attempts): "
        "a person must retry or resolve it.",
    ),
)
BUSINESS_ALARMS: tuple[SeedAlarm, ...] = SEED_ALARMS + LMS_ALARMS

# Thresholds beyond the three specified alarms. The platform's rule: "Resource utilization
# >80%" and "High error rate (>5%)" are warnings.
CPU_HIGH_PERCENT = 80
CONNECTIONS_HIGH_FRACTION = 0.8  # of PostgreSQL's default max_connections
FREE_STORAGE_LOW_FRACTION = 0.10  # of allocated storage: storage autoscaling acts at 10%
DB_IO_LATENCY_HIGH_SECONDS = 0.02  # gp3 serves in single-digit ms; 20 ms for 15 min is not IO
# The DR target: RPO 15 minutes for payments. Alarm at 5 minutes of lag sustained
# for 5 minutes, so someone acts while the replica is still inside its RPO.
REPLICA_LAG_SECONDS = 300
REPLICA_LAG_MINUTES_SUSTAINED = 5
REPLICATION_LATENCY_MS = 60_000  # DynamoDB global tables usually replicate in ~1 s
DYNAMO_THROTTLED_EVENTS = 5  # per 5 minutes: on-demand tables throttle on sudden peaks
API_5XX_COUNT = 10  # per 5 minutes
API_5XX_RATE = 0.05  # 5XXError's Average is the fault ratio (each request reports 0 or 1)
API_LATENCY_P99_MS = 2000
WAF_BLOCKED_SPIKE = 1000  # blocked requests per 5 minutes: an attack, or a rule blocking users
LAMBDA_ERROR_RATE = 0.05
LAMBDA_THROTTLES = 5  # per 5 minutes
STREAM_AGE_WARNING_MS = 5 * 60_000
STREAM_AGE_CRITICAL_MS = 30 * 60_000
FIVE_MINUTES = cdk.Duration.minutes(5)

# PostgreSQL's default max_connections on RDS is LEAST(DBInstanceClassMemory/9531392, 5000).
_PG_BYTES_PER_CONNECTION = 9_531_392
_PG_MAX_CONNECTIONS = 5000
# GiB of memory per vCPU by instance family letter; t classes below large are fixed.
_GIB_PER_VCPU = {"t": 4, "m": 4, "r": 8, "x": 16}
_SMALL_T_SIZES_GIB = {"micro": 1, "small": 2, "medium": 4}
_GIB = 1024**3


@dataclass(frozen=True)
class LogRetentionRule:
    """Which config field sets a kind of log group's retention, and the specified value."""

    config_field: str
    seed_log_group: str | None  # the specified log group name; None where none is
    seed_days: int | None
    applies_to: str


# The platform's log retention. The stacks that create log groups enforce these (the lead's policy
# test reads this mapping); the specified ECS log group names map to the engine's Lambda services.
LOG_RETENTION_POLICY: Mapping[str, LogRetentionRule] = {
    "portal": LogRetentionRule(
        "portal_log_retention",
        "/aws/ecs/customer-portal",
        30,
        "customer-portal functions and their API's execution logs",
    ),
    "internal": LogRetentionRule(
        "internal_log_retention",
        "/aws/ecs/internal-pe",
        90,
        "internal engine functions (LMS posting, mandates, reconciliation, reporting), "
        "their API's execution logs, and the database's exported logs",
    ),
    "scheduler": LogRetentionRule(
        "scheduler_log_retention",
        "/aws/lambda/scheduler",
        14,
        "functions started by EventBridge Scheduler",
    ),
    "api_access": LogRetentionRule(
        "api_access_log_retention",
        "/aws/apigateway/access-logs",
        30,
        "API Gateway access logs and WAF logs of every API",
    ),
    "vpc_flow": LogRetentionRule(
        "flow_log_retention",
        None,
        None,
        "VPC flow logs (not in the seed: kept as long as the internal logs they explain)",
    ),
}


def log_retention(cfg: EngineConfig, kind: str) -> logs.RetentionDays:
    """The retention a kind of log group gets in this environment."""
    if kind not in LOG_RETENTION_POLICY:
        raise ValueError(f"unknown log group kind {kind!r}; known: {sorted(LOG_RETENTION_POLICY)}")
    value: logs.RetentionDays = getattr(cfg, LOG_RETENTION_POLICY[kind].config_field)
    return value


@dataclass(frozen=True, kw_only=True)
class MonitoringTargets:
    """What one Region's stack watches, all by name (no cross-stack tokens)."""

    metric_namespace: str = ENGINE_METRIC_NAMESPACE
    table_names: Sequence[str] = ()  # global tables: the same name in every Region
    regional_table_names: Sequence[str] = ()  # this Region's own tables (never replicated)
    replica_regions: Sequence[str] = ()  # the Regions the global tables replicate to
    db_instance_identifiers: Sequence[str] = ()  # the primary, or the DR replica
    replica_instance_identifiers: Sequence[str] = ()  # read replicas: ReplicaLag
    rest_api_names: Sequence[str] = ()
    stage_name: str = "v1"
    web_acl_names: Sequence[str] = ()
    queue_names: Sequence[str] = ()
    dlq_names: Sequence[str] = ()
    function_names: Sequence[str] = ()
    # Functions deployed here that do not run here (jobs and consumers of the active Region
    # only, in the standby): graphed, never alarmed, until the Region becomes the active one.
    standby_function_names: Sequence[str] = ()
    # Functions fed by a stream mapping: their iterator age says how far behind they are.
    stream_function_names: Sequence[str] = ()
    # The business metrics declared in metric_namespace, and the declared names
    # (FunctionSpec.name) of the functions deployed AND running in this Region (a job that
    # runs only in the active Region is not running in the standby): a business alarm
    # exists only for a metric one of them emits.
    metrics: Sequence[MetricSpec] = engine_metrics.METRICS
    running_functions: Sequence[str] = ()
    # Existing topics in this account and Region; None: the stack creates them.
    critical_topic_arn: str | None = None
    warning_topic_arn: str | None = None

    def problems(self, region: str) -> list[str]:
        found: list[str] = []
        if not self.metric_namespace or self.metric_namespace.startswith("AWS/"):
            found.append(f"metric_namespace {self.metric_namespace!r}: AWS/ is reserved")
        for label in (
            "table_names",
            "regional_table_names",
            "replica_regions",
            "db_instance_identifiers",
            "replica_instance_identifiers",
            "rest_api_names",
            "web_acl_names",
            "queue_names",
            "dlq_names",
            "function_names",
            "standby_function_names",
            "stream_function_names",
            "running_functions",
        ):
            found += _name_problems(label, getattr(self, label))
        if region in self.replica_regions:
            found.append(f"replica_regions lists {region}, this stack's own Region")
        if self.rest_api_names and not self.stage_name:
            found.append("stage_name is empty, but rest_api_names are given")
        overlap = set(self.queue_names) & set(self.dlq_names)
        if overlap:
            found.append(f"{sorted(overlap)} named as both a work queue and a DLQ")
        unknown = (set(self.standby_function_names) | set(self.stream_function_names)) - set(
            self.function_names
        )
        if unknown:
            found.append(f"{sorted(unknown)} are not among function_names")
        if set(self.table_names) & set(self.regional_table_names):
            found.append("a table is named both global and regional")
        return found


def _name_problems(label: str, names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        return [f"{label} must be a sequence of names, not the string {names!r}"]
    found = [f"{label} has an empty name" for name in names if not name.strip()]
    duplicates = sorted({name for name in names if list(names).count(name) > 1})
    if duplicates:
        found.append(f"{label} lists {duplicates} more than once")
    return found


class EngineMonitoringStack(ConfiguredStack):
    """Alarms and one dashboard for one Region of one engine environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        region_role: str,
        env: cdk.Environment,
        targets: MonitoringTargets,
        **kwargs: Any,
    ) -> None:
        _check(cfg, region_role, env, targets)
        self.is_dr = region_role == DR_ROLE
        network = cfg.dr_network if self.is_dr else cfg.network
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name(region_role),
            description=(
                f"Payments engine {cfg.env_name}: alarms and dashboard ({env.region}, "
                f"{'DR' if self.is_dr else 'primary'})"
            ),
            env=env,
            availability_zones=network.availability_zones,
            **kwargs,
        )
        self.cfg = cfg
        self.targets = targets
        self.name_prefix = cfg.resource_name("dr") if self.is_dr else f"{cfg.system}-{cfg.env_name}"
        self.dashboard_name = cfg.resource_name("dashboard") + ("-dr" if self.is_dr else "")
        self.hub = MonitoringHub(
            self,
            "Monitoring",
            MonitoringHubProps(
                name_prefix=self.name_prefix,
                alarm_actions_enabled=cfg.alarm_actions_enabled,
                removal_policy=cfg.removal_policy,
                critical_topic_arn=targets.critical_topic_arn,
                warning_topic_arn=targets.warning_topic_arn,
                dashboard_name=self.dashboard_name,
            ),
        )
        self.facade = self.hub.operations
        self.business = BusinessMetrics(
            namespace=targets.metric_namespace,
            declared=tuple(targets.metrics),
            running_functions=frozenset(targets.running_functions),
        )
        self._acknowledge_disabled_actions()
        self.facade.add_large_header(
            f"Payments engine {cfg.env_name}: {env.region} ({'DR' if self.is_dr else 'primary'})"
        )
        self._seed_alarms()
        self._databases()
        self._tables()
        self._apis()
        self._web_acls()
        self._queues()
        self._functions()

    # --- helpers -------------------------------------------------------------------

    def _acknowledge_disabled_actions(self) -> None:
        if self.cfg.alarm_actions_enabled:
            return
        # Only where config turns alarm actions off (dev): the alarms keep their topic
        # actions, with ActionsEnabled false.
        nag.acknowledge(
            self.hub,
            "NIST.800.53.R5-CloudWatchAlarmAction",
            "NIST 800-53 R5 SI-4(12), SI-5b, CA-7: this environment's config turns alarm "
            "actions off (alarm_actions_enabled=False) because it holds only synthetic "
            "data and pages nobody; its alarms still evaluate, keep their SNS actions and "
            "show on the dashboard, and every environment with real data enables them.",
        )

    def _severity(self, critical: bool) -> dict[str, Any]:
        return {"action_override": self.hub.critical} if critical else {}

    def _threshold(
        self,
        threshold: float,
        comparison: cw.ComparisonOperator,
        *,
        critical: bool,
        evaluation_periods: int = 3,
        missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        description: str,
    ) -> cmc.CustomThreshold:
        """N consecutive breaching periods (datapoints = periods: one spike is no alarm)."""
        return cmc.CustomThreshold(
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data_override=missing,
            additional_description=description,
            **self._severity(critical),
        )

    def _alarmed(
        self, friendly_name: str, metric: cw.Metric, *, critical: bool, **threshold: Any
    ) -> cmc.CustomMetricWithAlarm:
        return cmc.CustomMetricWithAlarm(
            alarm_friendly_name=friendly_name,
            metric=metric,
            add_alarm={
                "Critical" if critical else "Warning": self._threshold(
                    critical=critical, **threshold
                )
            },
        )

    def _short(self, name: str) -> str:
        """Alarm-name part of a resource name: `engine-prod-db` -> `db`."""
        return name.removeprefix(f"{self.cfg.system}-{self.cfg.env_name}-") or name

    # --- the three specified alarms --------------------------------------------------------------

    def _seed_alarms(self) -> None:
        """The business alarms whose metric a running function emits; graphs of the rest."""
        namespace = self.targets.metric_namespace
        business = self.business
        alarmed = {
            seed.metric_name for seed in BUSINESS_ALARMS if business.alarmable(seed.metric_name)
        }
        groups = [
            cmc.CustomMetricGroup(title=seed.name, metrics=[self._seed_alarm(namespace, seed)])
            for seed in BUSINESS_ALARMS
            if seed.metric_name in alarmed
        ]
        groups += [
            cmc.CustomMetricGroup(title=metric.name, metrics=[_engine_metric(namespace, metric)])
            for metric in business.declared
            if metric.name not in alarmed
        ]
        self.facade.monitor_custom(
            human_readable_name="Payments engine (business metrics)",
            alarm_friendly_name="Engine",
            metric_groups=groups,
        )

    def _seed_alarm(self, namespace: str, seed: SeedAlarm) -> cmc.CustomMetricWithAlarm:
        # No Unit on the alarm's metric: CloudWatch then evaluates the datapoints in
        # whatever unit the engine published, where a unit mismatch would silently
        # leave the alarm with no data. No label either, on any alarmed metric here:
        # a label makes CDK render the alarm as a metric-math `Metrics` list instead
        # of the plain MetricName/Statistic/Period the specification gives.
        metric = cw.Metric(
            namespace=namespace,
            metric_name=seed.metric_name,
            statistic=seed.statistic,
            period=cdk.Duration.seconds(seed.period_seconds),
        )
        # Only where the metric's producer runs (see _seed_alarms): the standby Region, where
        # the heartbeat job does not run until it is the active one, has no such alarm.
        missing = seed.treat_missing_data
        disambiguator = "Critical" if seed.critical else "Warning"
        threshold = cmc.CustomThreshold(
            threshold=seed.threshold,
            comparison_operator=seed.comparison,
            evaluation_periods=seed.evaluation_periods,
            # The specification gives no DatapointsToAlarm: CloudWatch's default, all of them.
            datapoints_to_alarm=seed.evaluation_periods,
            period=cdk.Duration.seconds(seed.period_seconds),
            treat_missing_data_override=missing,
            alarm_name_override=f"{self.name_prefix}-{seed.name}",
            additional_description=seed.why,
            **self._severity(seed.critical),
        )
        return cmc.CustomMetricWithAlarm(
            alarm_friendly_name=seed.name, metric=metric, add_alarm={disambiguator: threshold}
        )

    # --- RDS -----------------------------------------------------------------------

    def _databases(self) -> None:
        targets = self.targets
        instances = list(
            dict.fromkeys([*targets.db_instance_identifiers, *targets.replica_instance_identifiers])
        )
        for identifier in instances:
            groups = self._database_groups(identifier)
            if identifier in targets.db_instance_identifiers:
                groups.append(self._database_available(identifier))
            if identifier in targets.replica_instance_identifiers:
                groups.append(self._replica_lag(identifier))
            self.facade.monitor_custom(
                human_readable_name=f"RDS {identifier}",
                alarm_friendly_name=self._short(identifier),
                metric_groups=groups,
            )

    def _database_groups(self, identifier: str) -> list[cmc.CustomMetricGroup]:
        database = self.cfg.database
        storage_floor = int(database.allocated_storage_gb * _GIB * FREE_STORAGE_LOW_FRACTION)
        connections = int(max_connections(database.instance_type) * CONNECTIONS_HIGH_FRACTION)
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        latency = {
            name: self._alarmed(
                name,
                _rds_metric(name, identifier, "Average"),
                critical=False,
                threshold=DB_IO_LATENCY_HIGH_SECONDS,
                comparison=gt,
                description=f"{name} above {DB_IO_LATENCY_HIGH_SECONDS * 1000:g} ms "
                "for 15 minutes.",
            )
            for name in ("ReadLatency", "WriteLatency")
        }
        return [
            cmc.CustomMetricGroup(
                title="CPU (%)",
                metrics=[
                    self._alarmed(
                        "Cpu",
                        _rds_metric("CPUUtilization", identifier, "Average"),
                        critical=False,
                        threshold=CPU_HIGH_PERCENT,
                        comparison=gt,
                        description=f"CPU above {CPU_HIGH_PERCENT}% for 15 minutes "
                        "(resource utilization).",
                    )
                ],
            ),
            cmc.CustomMetricGroup(
                title="Free storage (bytes)",
                metrics=[
                    self._alarmed(
                        "FreeStorage",
                        _rds_metric("FreeStorageSpace", identifier, "Minimum"),
                        critical=False,
                        threshold=storage_floor,
                        comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                        description="Free storage below 10% of the allocated size for 15 "
                        "minutes: storage autoscaling is not keeping up or reached its "
                        "maximum; a full disk stops the database.",
                    )
                ],
            ),
            cmc.CustomMetricGroup(
                title="Connections",
                metrics=[
                    self._alarmed(
                        "Connections",
                        _rds_metric("DatabaseConnections", identifier, "Maximum"),
                        critical=False,
                        threshold=connections,
                        comparison=gt,
                        description=f"More than {connections} connections (80% of "
                        "max_connections) for 15 minutes.",
                    )
                ],
            ),
            cmc.CustomMetricGroup(title="IO latency (s)", metrics=list(latency.values())),
        ]

    def _database_available(self, identifier: str) -> cmc.CustomMetricGroup:
        # RDS reports CPUUtilization every minute while the instance runs; three
        # minutes without a sample is an instance that is down ("Database connectivity
        # lost" is critical), hence missing data breaches.
        metric = _rds_metric(
            "CPUUtilization", identifier, "SampleCount", period=cdk.Duration.minutes(1)
        )
        return cmc.CustomMetricGroup(
            title="Available (samples per minute)",
            metrics=[
                self._alarmed(
                    "Available",
                    metric,
                    critical=True,
                    threshold=1,
                    comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    missing=cw.TreatMissingData.BREACHING,
                    description="The instance published no metrics for 3 minutes: it is "
                    "down, stopped or failing over.",
                )
            ],
        )

    def _replica_lag(self, identifier: str) -> cmc.CustomMetricGroup:
        # In Singapore the replica is the DR copy the 15-minute RPO rests on:
        # critical. In Mumbai the replicas serve reporting and analytics: warning.
        metric = _rds_metric("ReplicaLag", identifier, "Maximum", period=cdk.Duration.minutes(1))
        return cmc.CustomMetricGroup(
            title="Replica lag (s)",
            metrics=[
                self._alarmed(
                    "ReplicaLag",
                    metric,
                    critical=self.is_dr,
                    threshold=REPLICA_LAG_SECONDS,
                    comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=REPLICA_LAG_MINUTES_SUSTAINED,
                    description=f"Replica more than {REPLICA_LAG_SECONDS} s behind for "
                    f"{REPLICA_LAG_MINUTES_SUSTAINED} minutes (RPO 15 minutes).",
                )
            ],
        )

    # --- DynamoDB ------------------------------------------------------------------

    def _tables(self) -> None:
        targets = self.targets
        for name in (*targets.table_names, *targets.regional_table_names):
            table = dynamodb.Table.from_table_name(self, f"Table{_id(name)}", name)
            throttled = cmc.ThrottledEventsThreshold(
                max_throttled_events_threshold=DYNAMO_THROTTLED_EVENTS
            )
            self.facade.monitor_dynamo_table(
                table=table,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                human_readable_name=f"DynamoDB {name}",
                alarm_friendly_name=self._short(name),
                add_read_throttled_events_count_alarm={"Warning": throttled},
                add_write_throttled_events_count_alarm={"Warning": throttled},
                add_system_error_count_alarm={
                    "Warning": cmc.ErrorCountThreshold(max_error_count=0)
                },
            )
            # Only a global table replicates (and so reports ReplicationLatency).
            if targets.replica_regions and name in targets.table_names:
                self._replication_latency(name)

    def _replication_latency(self, table_name: str) -> None:
        # Published in the sending Region, one series per receiving Region.
        metrics = [
            self._alarmed(
                f"ReplicationLatency-{region}",
                cw.Metric(
                    namespace="AWS/DynamoDB",
                    metric_name="ReplicationLatency",
                    dimensions_map={"TableName": table_name, "ReceivingRegion": region},
                    statistic="Average",
                    period=FIVE_MINUTES,
                ),
                critical=False,
                threshold=REPLICATION_LATENCY_MS,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"Writes took over {REPLICATION_LATENCY_MS // 1000} s to reach "
                f"{region} for 15 minutes.",
            )
            for region in self.targets.replica_regions
        ]
        self.facade.monitor_custom(
            human_readable_name=f"DynamoDB {table_name} replication",
            alarm_friendly_name=f"{self._short(table_name)}-replication",
            metric_groups=[
                cmc.CustomMetricGroup(title="Replication latency (ms)", metrics=metrics)
            ],
        )

    # --- API Gateway and WAF -------------------------------------------------------

    def _apis(self) -> None:
        stage = self.targets.stage_name
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        for name in self.targets.rest_api_names:

            def api_metric(metric_name: str, statistic: str, api: str = name) -> cw.Metric:
                return cw.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name=metric_name,
                    dimensions_map={"ApiName": api, "Stage": stage},
                    statistic=statistic,
                    period=FIVE_MINUTES,
                )

            faults = self._alarmed(
                "5xxCount",
                api_metric("5XXError", "Sum"),
                critical=False,
                threshold=API_5XX_COUNT,
                comparison=gt,
                evaluation_periods=1,
                description=f"More than {API_5XX_COUNT} 5XX responses in 5 minutes.",
            )
            fault_rate = self._alarmed(
                "5xxRate",
                api_metric("5XXError", "Average"),
                critical=False,
                threshold=API_5XX_RATE,
                comparison=gt,
                evaluation_periods=1,
                description="More than 5% of requests failed with 5XX in 5 minutes "
                "(high error rate).",
            )
            latency = self._alarmed(
                "LatencyP99",
                api_metric("Latency", "p99"),
                critical=False,
                threshold=API_LATENCY_P99_MS,
                comparison=gt,
                description=f"p99 latency above {API_LATENCY_P99_MS} ms for 15 minutes "
                "(slow responses).",
            )
            self.facade.monitor_custom(
                human_readable_name=f"API {name} ({stage})",
                alarm_friendly_name=self._short(name),
                metric_groups=[
                    cmc.CustomMetricGroup(
                        title="Requests", metrics=[api_metric("Count", "Sum"), faults]
                    ),
                    cmc.CustomMetricGroup(title="5XX rate", metrics=[fault_rate]),
                    cmc.CustomMetricGroup(
                        title="Latency (ms)",
                        metrics=[latency, api_metric("IntegrationLatency", "p99")],
                    ),
                ],
            )

    def _web_acls(self) -> None:
        region = self.region
        for name in self.targets.web_acl_names:

            def waf_metric(metric_name: str, acl: str = name) -> cw.Metric:
                return cw.Metric(
                    namespace="AWS/WAFV2",
                    metric_name=metric_name,
                    dimensions_map={"WebACL": acl, "Rule": "ALL", "Region": region},
                    statistic="Sum",
                    period=FIVE_MINUTES,
                )

            # Warning, not critical: blocks are WAF working. A spike is an attack to
            # watch, or a managed rule that started blocking real customers.
            blocked = self._alarmed(
                "Blocked",
                waf_metric("BlockedRequests"),
                critical=False,
                threshold=WAF_BLOCKED_SPIKE,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                description=f"WAF blocked more than {WAF_BLOCKED_SPIKE} requests in 5 minutes.",
            )
            self.facade.monitor_custom(
                human_readable_name=f"WAF {name}",
                alarm_friendly_name=f"{self._short(name)}-waf",
                metric_groups=[
                    cmc.CustomMetricGroup(
                        title="Requests", metrics=[waf_metric("AllowedRequests"), blocked]
                    )
                ],
            )

    # --- SQS and Lambda ------------------------------------------------------------

    def _arn(self, service: str, resource: str) -> str:
        """A literal ARN, so that names parsed back out of it are literals too.

        `format_arn` would put `${AWS::Partition}` in it, and CDK would then read the
        name back with Fn::Select/Fn::Split inside every metric dimension.
        """
        partition = RegionInfo.get(self.region).partition or "aws"
        return f"arn:{partition}:{service}:{self.region}:{self.account}:{resource}"

    def _queue(self, name: str) -> sqs.IQueue:
        return sqs.Queue.from_queue_attributes(
            self, f"Queue{_id(name)}", queue_arn=self._arn("sqs", name), queue_name=name
        )

    def _queues(self) -> None:
        cfg = self.cfg
        # A message retried max_receive_count times at the visibility timeout is at most
        # that old when it moves to its DLQ; twice that means consumers are not keeping up.
        work_age = 2 * cfg.queue_visibility_timeout_seconds * cfg.queue_max_receive_count
        for name in self.targets.queue_names:
            self.facade.monitor_sqs_queue(
                queue=self._queue(name),
                human_readable_name=f"Queue {name}",
                alarm_friendly_name=self._short(name),
                add_queue_max_message_age_alarm={
                    "Warning": cmc.MaxMessageAgeThreshold(
                        max_age_in_seconds=work_age,
                        # An idle queue stops reporting: nothing is waiting.
                        treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                    )
                },
            )
        # Half the DLQ's retention: the message has waited long, and will expire.
        dlq_age = cfg.dlq_retention_days * 86_400 // 2
        for name in self.targets.dlq_names:
            self.facade.monitor_sqs_queue(
                queue=self._queue(name),
                human_readable_name=f"DLQ {name}",
                alarm_friendly_name=self._short(name),
                add_queue_max_size_alarm={
                    "Critical": cmc.MaxMessageCountThreshold(
                        max_message_count=1,
                        comparison_operator_override=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        alarm_description_override=(
                            f"A message is in {name}: a payment or notification waiting "
                            "for a human to inspect, fix and redrive."
                        ),
                        action_override=self.hub.critical,
                        # An idle queue stops reporting: nothing is waiting.
                        treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                    )
                },
                add_queue_max_message_age_alarm={
                    "Critical": cmc.MaxMessageAgeThreshold(
                        max_age_in_seconds=dlq_age,
                        action_override=self.hub.critical,
                        treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                    )
                },
            )

    def _functions(self) -> None:
        targets = self.targets
        for name in targets.function_names:
            function = lambda_.Function.from_function_attributes(
                self,
                f"Function{_id(name)}",
                function_arn=self._arn("lambda", f"function:{name}"),
                same_environment=True,
            )
            alarms = {} if name in targets.standby_function_names else self._function_alarms(name)
            self.facade.monitor_lambda_function(
                lambda_function=function,
                human_readable_name=f"Function {name}",
                alarm_friendly_name=self._short(name),
                is_iterator=name in targets.stream_function_names,
                **alarms,
            )

    def _function_alarms(self, name: str) -> dict[str, Any]:
        alarms: dict[str, Any] = {
            # Lambda's Errors metric averaged over invocations is a 0..1 ratio.
            "add_fault_rate_alarm": {
                "Warning": cmc.ErrorRateThreshold(max_error_rate=LAMBDA_ERROR_RATE)
            },
            "add_throttles_count_alarm": {
                "Warning": cmc.ErrorCountThreshold(max_error_count=LAMBDA_THROTTLES)
            },
        }
        if name in self.targets.stream_function_names:
            # The consumer is this far behind its stream (PostgreSQL's balances behind the
            # payments, receipts behind their capture): warn after 5 minutes, page after 30
            # (customers see stale outstanding amounts; the repair job is hourly, the LMS
            # sweep's age alarm pages at 15). No records, no datapoints: an idle stream is
            # not a late one.
            alarms["add_max_iterator_age_alarm"] = {
                "Warning": cmc.MaxAgeThreshold(
                    max_age_in_millis=STREAM_AGE_WARNING_MS,
                    datapoints_to_alarm=3,
                    evaluation_periods=3,
                    treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                ),
                "Critical": cmc.MaxAgeThreshold(
                    max_age_in_millis=STREAM_AGE_CRITICAL_MS,
                    datapoints_to_alarm=3,
                    evaluation_periods=3,
                    action_override=self.hub.critical,
                    treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                ),
            }
        return alarms


def max_connections(instance_type: str) -> int:
    """PostgreSQL's default max_connections on RDS for an instance class, e.g. r6g.large."""
    family, _, size = instance_type.partition(".")
    letter = family[:1]
    if letter == "t" and size in _SMALL_T_SIZES_GIB:
        memory_gib = _SMALL_T_SIZES_GIB[size]
    else:
        vcpus = _vcpus(size)
        if letter not in _GIB_PER_VCPU or vcpus is None:
            raise ValueError(
                f"cannot size max_connections for instance type {instance_type!r}; "
                f"known families {sorted(_GIB_PER_VCPU)}, sizes large and [N]xlarge"
            )
        memory_gib = vcpus * _GIB_PER_VCPU[letter]
    return min(memory_gib * _GIB // _PG_BYTES_PER_CONNECTION, _PG_MAX_CONNECTIONS)


def _vcpus(size: str) -> int | None:
    if size == "large":
        return 2
    match = re.fullmatch(r"(\d*)xlarge", size)
    return 4 * int(match.group(1) or 1) if match else None


def _rds_metric(
    name: str, identifier: str, statistic: str, *, period: cdk.Duration = FIVE_MINUTES
) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/RDS",
        metric_name=name,
        dimensions_map={"DBInstanceIdentifier": identifier},
        statistic=statistic,
        period=period,
    )


def _engine_metric(namespace: str, metric: MetricSpec) -> cw.Metric:
    return cw.Metric(
        namespace=namespace,
        metric_name=metric.name,
        statistic=metric.statistic,
        period=FIVE_MINUTES,
        label=f"{metric.name} ({metric.unit})",
    )


def _id(name: str) -> str:
    """A construct id from a resource name: letters and digits only."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _check(
    cfg: EngineConfig, region_role: str, env: cdk.Environment, targets: MonitoringTargets
) -> None:
    problems: list[str] = []
    if region_role not in REGION_ROLES:
        problems.append(f"region_role must be one of {REGION_ROLES}, got {region_role!r}")
    elif region_role == DR_ROLE and not cfg.dr_enabled:
        problems.append(f"{cfg.env_name} has no DR (dr_enabled=False): no {DR_ROLE} stack")
    else:
        expected = cfg.dr_region if region_role == DR_ROLE else cfg.region
        if env.region != expected:
            problems.append(f"{region_role} belongs in {expected}, got env.region={env.region!r}")
    if env.account != cfg.account:
        problems.append(f"env.account {env.account!r} is not the config's {cfg.account}")
    problems += targets.problems(str(env.region))
    if problems:
        raise ValueError("EngineMonitoringStack: " + "; ".join(problems))
