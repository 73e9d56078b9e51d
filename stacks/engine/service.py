"""The engine's business functions in one Region: Mumbai ("service") or Singapore ("dr-service").

Every function engine.declarations declares (but the health functions, in the API stacks,
and the schema migrator, in the database stack) is built here from its FunctionSpec with the
access stacks/engine/access.py declares for it, in the App subnets behind lambda_sg, with its
environment encrypted under the Region's Data key and its reserved concurrency from config.
The schedules and event sources come from the declarations too; a stream mapping reads its
table's stream in this Region (Region resources map each table to it: the Mumbai tables' own
streams, Singapore's regional tables' own, and the global tables' Singapore replicas' streams
read from DynamoDB at deploy time).

Jobs and consumers declared `active_region_only` run only in `cfg.active_region`: in the
other Region their schedules and mappings exist but are disabled, so the DR runbook can
switch them on (cdk_constructs/dr_runbook.py) and a deploy with `active_region` moved keeps
them on. Stateless: the stack can be destroyed and redeployed at any time; the API stack of
the same Region routes to these functions by their fixed names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction
from cdk_constructs.keys import grant_via_service
from cdk_constructs.network import APP, ThreeTierVpc
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.stream_arn import LatestStreamArn, LatestStreamArnProps
from config.engine import EngineConfig
from engine.declarations import EVENT_SOURCES, LMS_POSTER, LMS_SWEEPER, SCHEDULES
from engine.queues import QUEUES
from engine.tables import ALL_TABLES
from shared.declarations import EventSource, FunctionSpec, Schedule
from stacks.engine import access
from stacks.engine.functions import EngineFunctionProps, EngineRuntime, engine_function, kebab
from stacks.engine.grants import Database, Granter, RegionResources, SecretRef
from stacks.engine.regional import SCHEDULED_JOBS_DLQ, queue_name, rule_name, table_name

REGION_ROLES = ("service", "dr-service")
# EventBridge retries a failed delivery twice within an hour, then parks it in the DLQ; a
# scheduled run older than that is superseded by the next one anyway.
SCHEDULE_RETRIES = 2
SCHEDULE_MAX_EVENT_AGE = cdk.Duration.hours(1)
# The smallest maximum concurrency an SQS mapping takes; the replayer reserves as much.
SQS_MAPPING_MAX_CONCURRENCY = 2
SQS_MAPPING_REASON = (
    "SQS event source mappings take no on-failure destination: a message that fails "
    "returns to its queue, whose redrive policy moves it to the queue's DLQ after the "
    "declared receive count."
)


@dataclass(frozen=True)
class ServiceInputs:
    logs_key_arn: str
    data_key_arn: str
    # Table logical name -> that table's stream in this Region, for every table with a
    # stream; None: read it from DynamoDB at deploy time (a global table's replica, whose
    # stream ARN no template holds). Only the streams a function here consumes or reads
    # are used.
    stream_arns: Mapping[str, str | None]
    secrets: dict[str, SecretRef]
    documents_bucket: str
    event_bus_name: str
    database: Database


class EngineServiceStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        region_role: str,
        env: cdk.Environment,
        network: ThreeTierVpc,
        inputs: ServiceInputs,
        **kwargs: Any,
    ) -> None:
        region = _check(cfg, region_role, env)
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name(region_role),
            description=f"Payments engine {cfg.env_name}: business functions, schedules and "
            f"event sources in {region}",
            env=env,
            availability_zones=network.props.availability_zones,
            **kwargs,
        )
        self.cfg = cfg
        self.network = network
        self.active = region == cfg.active_region
        self.logs_key = kms.Key.from_key_arn(self, "LogsKeyRef", inputs.logs_key_arn)
        self.data_key = kms.Key.from_key_arn(self, "DataKeyRef", inputs.data_key_arn)
        self.runtime = EngineRuntime(self, "Runtime")
        self.granter = Granter(self, self._resources(inputs))
        self.jobs_dlq = self._queue(SCHEDULED_JOBS_DLQ)
        self.functions = {spec.name: self._function(spec) for spec in access.service_functions()}
        self.rules = {s.name: self._schedule(s) for s in SCHEDULES}
        self.mappings = {f"{s.function}:{s.source}": self._event_source(s) for s in EVENT_SOURCES}

    # ------------------------------------------------------------------ inputs

    def _resources(self, inputs: ServiceInputs) -> RegionResources:
        cfg = self.cfg
        missing = sorted(streams_used() - set(inputs.stream_arns))
        if missing:
            raise ValueError(f"{self.stack_name}: no stream given for {missing}")
        streams = {
            name: inputs.stream_arns[name] or self._stream_lookup(name)
            for name in sorted(streams_used())
        }
        return RegionResources(
            cfg=cfg,
            data_key=self.data_key,
            table_names={t.logical_name: table_name(cfg, t.logical_name) for t in ALL_TABLES},
            stream_arns=streams,
            queue_names={
                name: queue_name(cfg, name)
                for name in (*(q.name for q in QUEUES), SCHEDULED_JOBS_DLQ)
            },
            secrets=inputs.secrets,
            documents_bucket=inputs.documents_bucket,
            event_bus_name=inputs.event_bus_name,
            database=inputs.database,
        )

    def _stream_lookup(self, logical_name: str) -> str:
        cfg = self.cfg
        lookup = LatestStreamArn(
            self,
            f"{logical_name}Stream",
            LatestStreamArnProps(
                table_name=table_name(cfg, logical_name),
                log_encryption_key=self.logs_key,
                log_retention=cfg.internal_log_retention,
                log_removal_policy=cfg.removal_policy,
                vpc=self.network.vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_group_name=APP),
                security_groups=[self.network.lambda_sg],
                function_name=cfg.resource_name(f"{kebab(logical_name)}-stream-lookup"),
            ),
        )
        return lookup.stream_arn

    def _queue(self, name: str) -> sqs.IQueue:
        """By name, without its key: CDK's grants then add no key wildcards (granted exactly)."""
        return sqs.Queue.from_queue_attributes(
            self,
            f"{name}Ref",
            queue_arn=self.granter.queue_arn(name),
            queue_url=self.granter.queue_url(name),
        )

    # ------------------------------------------------------------------ functions

    def _function(self, spec: FunctionSpec) -> SecureFunction:
        cfg = self.cfg
        declared = access.ACCESS[spec.name]
        scheduled = declared.invoked_by == "schedule"
        function = engine_function(
            self,
            EngineFunctionProps(
                cfg=cfg,
                spec=spec,
                runtime=self.runtime,
                network=self.network,
                log_encryption_key=self.logs_key,
                log_retention=_retention(cfg, declared.log_kind),
                reserved_concurrency=cfg.reserved_concurrency[spec.name],
                environment_key=self.data_key,
                environment=self.granter.environment(declared),
                dead_letter_queue=self.jobs_dlq if scheduled else None,
                no_dlq_reason=declared.no_dlq_reason,
            ),
        )
        self.granter.grant(function, declared)
        if scheduled:
            # Lambda writes a failed asynchronous invocation with the function's own role.
            grant_via_service(
                function.function, self.data_key, "sqs", ["kms:Decrypt", "kms:GenerateDataKey"]
            )
        return function

    def _enabled(self, function: str) -> bool:
        return self.active or not self.functions[function].spec.active_region_only

    # ------------------------------------------------------------------ schedules

    def _schedule(self, schedule: Schedule) -> events.Rule:
        target = targets.LambdaFunction(
            self.functions[schedule.function].function,
            retry_attempts=SCHEDULE_RETRIES,
            max_event_age=SCHEDULE_MAX_EVENT_AGE,
            dead_letter_queue=self.jobs_dlq,
            event=events.RuleTargetInput.from_object(schedule.payload)
            if schedule.payload
            else None,
        )
        return events.Rule(
            self,
            f"{schedule.name}Schedule",
            rule_name=rule_name(self.cfg, schedule),
            description=schedule.description,
            schedule=events.Schedule.expression(schedule.expression),
            enabled=self._enabled(schedule.function),
            targets=[target],
        )

    # ------------------------------------------------------------------ event sources

    def _event_source(self, source: EventSource) -> lambda_.EventSourceMapping:
        function = self.functions[source.function]
        if source.kind == "dynamodb-stream":
            return self._stream_mapping(function, source)
        return self._queue_mapping(function, source)

    def _stream_mapping(
        self, function: SecureFunction, source: EventSource
    ) -> lambda_.EventSourceMapping:
        streamed = {t.logical_name for t in ALL_TABLES if t.stream}
        if source.source not in streamed or source.on_failure is None:
            raise ValueError(
                f"{source.function}: a stream source is one of {sorted(streamed)}, with a DLQ"
            )
        self.granter.allow_stream_read(function.function, source.source)
        dlq = self._queue(source.on_failure)
        grant_via_service(
            function.function, self.data_key, "sqs", ["kms:Decrypt", "kms:GenerateDataKey"]
        )
        pattern = source.filter_pattern
        # TRIM_HORIZON: a standby mapping switched on at failover starts from the oldest
        # record the stream keeps (24 h); each consumer's guard (the sync's version, the
        # poster's conditional claim) makes a replay a no-op.
        return lambda_.EventSourceMapping(
            self,
            f"{source.function}Stream",
            target=function.function,
            event_source_arn=self.granter.stream_arn(source.source),
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=source.batch_size,
            max_batching_window=cdk.Duration.seconds(source.max_batching_window_seconds),
            bisect_batch_on_error=True,
            retry_attempts=source.retry_attempts,
            report_batch_item_failures=True,
            # Lambda records a failed batch with the function's own role (SendMessage).
            on_failure=sources.SqsDlq(dlq),
            filters=[lambda_.FilterCriteria.filter(dict(pattern))] if pattern else None,
            enabled=self._enabled(source.function),
        )

    def _queue_mapping(
        self, function: SecureFunction, source: EventSource
    ) -> lambda_.EventSourceMapping:
        self.granter.allow_queue_consume(function.function, source.source)
        mapping = lambda_.EventSourceMapping(
            self,
            f"{source.function}Queue",
            target=function.function,
            event_source_arn=self.granter.queue_arn(source.source),
            batch_size=source.batch_size,
            report_batch_item_failures=True,
            max_concurrency=SQS_MAPPING_MAX_CONCURRENCY,
            enabled=self._enabled(source.function),
        )
        nag.acknowledge(
            mapping, "Serverless-LambdaEventSourceMappingDestination", SQS_MAPPING_REASON
        )
        return mapping


def streams_used() -> set[str]:
    """The tables whose stream a service function consumes (a mapping) or reads itself."""
    consumed = {s.source for s in EVENT_SOURCES if s.kind == "dynamodb-stream"}
    read = {a.reads_stream.logical_name for a in access.ACCESS.values() if a.reads_stream}
    return consumed | read


def _retention(cfg: EngineConfig, kind: str) -> logs.RetentionDays:
    retention: logs.RetentionDays = getattr(cfg, f"{kind}_log_retention")
    return retention


def _check(cfg: EngineConfig, region_role: str, env: cdk.Environment) -> str:
    # A poster stops taking items when less than a quarter of the lease is left in its run
    # (engine.logic.lms_posting): with a lease that long, a run would post nothing.
    for spec in (LMS_POSTER, LMS_SWEEPER):
        if cfg.lms_lease_seconds / 4 + cfg.lms_timeout_seconds >= spec.timeout_seconds:
            raise ValueError(
                f"{cfg.env_name}: lms_lease_seconds / 4 + lms_timeout_seconds must be under "
                f"{spec.name}'s {spec.timeout_seconds} s timeout, or no run posts anything"
            )
    if region_role not in REGION_ROLES:
        raise ValueError(f"region_role must be one of {REGION_ROLES}, got {region_role!r}")
    expected = cfg.region if region_role == "service" else cfg.dr_region
    if env.region != expected or env.account != cfg.account:
        raise ValueError(f"{region_role} belongs in {cfg.account}/{expected}, env says {env}")
    if region_role == "dr-service" and not cfg.dr_enabled:
        raise ValueError(f"{cfg.env_name} has no DR Region: no dr-service stack")
    return expected


__all__ = ["EngineServiceStack", "ServiceInputs", "streams_used"]
