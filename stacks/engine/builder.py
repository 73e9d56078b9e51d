"""Builds declared business functions into one stack: each function from its FunctionSpec and
its access (stacks/engine/access.py), its schedules and its event sources.

The service stacks build most of them; the API stacks build the few that live beside the staff
user pool (access.beside_the_pool). Every construct is added straight to the stack with the
ids the service stack has always used (a function's id is its declared name), so a function
keeps its logical id whichever stack builds it first: a fixed-name function must never be
replaced under a new id (CloudFormation would create the new one before deleting the old).

Jobs and consumers declared `active_region_only` run only in `cfg.active_region`: in the
other Region their schedules and mappings exist but are disabled, so the DR runbook can
switch them on (cdk_constructs/dr_runbook.py) and a deploy with `active_region` moved keeps
them on.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction
from cdk_constructs.keys import grant_via_service
from cdk_constructs.network import ThreeTierVpc
from config.engine import EngineConfig
from engine.tables import ALL_TABLES
from shared.declarations import EventSource, FunctionSpec, Schedule
from stacks.engine import access
from stacks.engine.functions import EngineFunctionProps, EngineRuntime, engine_function
from stacks.engine.grants import Granter
from stacks.engine.regional import SCHEDULED_JOBS_DLQ, rule_name

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
class BuildContext:
    """What every function of one stack shares."""

    cfg: EngineConfig
    network: ThreeTierVpc
    runtime: EngineRuntime
    logs_key: kms.IKey
    data_key: kms.IKey
    granter: Granter
    # The stack's Region is the active one: its jobs and consumers run.
    active: bool


class FunctionBuilder:
    """Adds functions, their schedules and their event sources to `stack`."""

    def __init__(self, stack: cdk.Stack, context: BuildContext) -> None:
        self.stack = stack
        self.c = context
        self.jobs_dlq = self.queue(SCHEDULED_JOBS_DLQ)
        self.functions: dict[str, SecureFunction] = {}

    def queue(self, name: str) -> sqs.IQueue:
        """By name, without its key: CDK's grants then add no key wildcards (granted exactly)."""
        granter = self.c.granter
        return sqs.Queue.from_queue_attributes(
            self.stack,
            f"{name}Ref",
            queue_arn=granter.queue_arn(name),
            queue_url=granter.queue_url(name),
        )

    # ------------------------------------------------------------------ functions

    def function(self, spec: FunctionSpec) -> SecureFunction:
        c = self.c
        declared = access.ACCESS[spec.name]
        scheduled = declared.invoked_by == "schedule"
        function = engine_function(
            self.stack,
            EngineFunctionProps(
                cfg=c.cfg,
                spec=spec,
                runtime=c.runtime,
                network=c.network,
                log_encryption_key=c.logs_key,
                log_retention=_retention(c.cfg, declared.log_kind),
                reserved_concurrency=c.cfg.reserved_concurrency[spec.name],
                environment_key=c.data_key,
                environment=c.granter.environment(declared),
                dead_letter_queue=self.jobs_dlq if scheduled else None,
                no_dlq_reason=declared.no_dlq_reason,
            ),
        )
        c.granter.grant(function, declared)
        if scheduled:
            # Lambda writes a failed asynchronous invocation with the function's own role.
            grant_via_service(
                function.function, c.data_key, "sqs", ["kms:Decrypt", "kms:GenerateDataKey"]
            )
        self.functions[spec.name] = function
        return function

    def enabled(self, function: str) -> bool:
        return self.c.active or not self.functions[function].spec.active_region_only

    # ------------------------------------------------------------------ schedules

    def schedule(self, schedule: Schedule) -> events.Rule:
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
            self.stack,
            f"{schedule.name}Schedule",
            rule_name=rule_name(self.c.cfg, schedule),
            description=schedule.description,
            schedule=events.Schedule.expression(schedule.expression),
            enabled=self.enabled(schedule.function),
            targets=[target],
        )

    # ------------------------------------------------------------------ event sources

    def event_source(self, source: EventSource) -> lambda_.EventSourceMapping:
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
        granter = self.c.granter
        granter.allow_stream_read(function.function, source.source)
        dlq = self.queue(source.on_failure)
        grant_via_service(
            function.function, self.c.data_key, "sqs", ["kms:Decrypt", "kms:GenerateDataKey"]
        )
        pattern = source.filter_pattern
        # TRIM_HORIZON: a standby mapping switched on at failover starts from the oldest
        # record the stream keeps (24 h); each consumer's guard (the sync's version, the
        # poster's conditional claim) makes a replay a no-op.
        return lambda_.EventSourceMapping(
            self.stack,
            f"{source.function}Stream",
            target=function.function,
            event_source_arn=granter.stream_arn(source.source),
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=source.batch_size,
            max_batching_window=cdk.Duration.seconds(source.max_batching_window_seconds),
            bisect_batch_on_error=True,
            retry_attempts=source.retry_attempts,
            report_batch_item_failures=True,
            # Lambda records a failed batch with the function's own role (SendMessage).
            on_failure=sources.SqsDlq(dlq),
            filters=[lambda_.FilterCriteria.filter(dict(pattern))] if pattern else None,
            enabled=self.enabled(source.function),
        )

    def _queue_mapping(
        self, function: SecureFunction, source: EventSource
    ) -> lambda_.EventSourceMapping:
        granter = self.c.granter
        granter.allow_queue_consume(function.function, source.source)
        mapping = lambda_.EventSourceMapping(
            self.stack,
            f"{source.function}Queue",
            target=function.function,
            event_source_arn=granter.queue_arn(source.source),
            batch_size=source.batch_size,
            report_batch_item_failures=True,
            max_concurrency=SQS_MAPPING_MAX_CONCURRENCY,
            enabled=self.enabled(source.function),
        )
        nag.acknowledge(
            mapping, "Serverless-LambdaEventSourceMappingDestination", SQS_MAPPING_REASON
        )
        return mapping


def _retention(cfg: EngineConfig, kind: str) -> logs.RetentionDays:
    retention: logs.RetentionDays = getattr(cfg, f"{kind}_log_retention")
    return retention


__all__ = ["BuildContext", "FunctionBuilder"]
