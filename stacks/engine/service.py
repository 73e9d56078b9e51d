"""The engine's business functions in one Region: Mumbai ("service") or Singapore ("dr-service").

Every function engine.declarations declares (but the health functions and the few bound to
the staff user pool, in the API stacks, and the schema migrator, in the database stack) is
built here (stacks/engine/builder.py) from its FunctionSpec with the access
stacks/engine/access.py declares for it, in the App subnets behind lambda_sg, with its
environment encrypted under the Region's Data key and its reserved concurrency from config.
The schedules and event sources come from the declarations too; a stream mapping reads its
table's stream in this Region (Region resources map each table to it: the Mumbai tables' own
streams, Singapore's regional tables' own, and the global tables' Singapore replicas' streams
read from DynamoDB at deploy time).

Stateless: the stack can be destroyed and redeployed at any time; the API stack of the same
Region routes to these functions by their fixed names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.function import SecureFunction
from cdk_constructs.network import APP, ThreeTierVpc
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.stream_arn import LatestStreamArn, LatestStreamArnProps
from config.engine import EngineConfig
from engine.declarations import EVENT_SOURCES, LMS_POSTER, LMS_SWEEPER, SCHEDULES
from engine.queues import QUEUES
from engine.tables import ALL_TABLES
from shared.declarations import FunctionSpec
from stacks.engine import access
from stacks.engine.builder import BuildContext, FunctionBuilder
from stacks.engine.functions import EngineRuntime, kebab
from stacks.engine.grants import Database, Granter, RegionResources, SecretRef, StaffPoolRef
from stacks.engine.regional import SCHEDULED_JOBS_DLQ, queue_name, table_name

REGION_ROLES = ("service", "dr-service")


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
    audit_anchor_bucket: str


def region_resources(
    cfg: EngineConfig,
    inputs: ServiceInputs,
    data_key: kms.IKey,
    streams: dict[str, str],
    staff_pool: StaffPoolRef | None = None,
) -> RegionResources:
    """One Region's resources for a Granter: `streams` are those its functions read."""
    return RegionResources(
        cfg=cfg,
        data_key=data_key,
        table_names={t.logical_name: table_name(cfg, t.logical_name) for t in ALL_TABLES},
        stream_arns=streams,
        queue_names={
            name: queue_name(cfg, name) for name in (*(q.name for q in QUEUES), SCHEDULED_JOBS_DLQ)
        },
        secrets=inputs.secrets,
        documents_bucket=inputs.documents_bucket,
        event_bus_name=inputs.event_bus_name,
        database=inputs.database,
        audit_anchor_bucket=inputs.audit_anchor_bucket,
        staff_pool=staff_pool,
    )


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
        self.builder = FunctionBuilder(
            self,
            BuildContext(
                cfg=cfg,
                network=network,
                runtime=self.runtime,
                logs_key=self.logs_key,
                data_key=self.data_key,
                granter=Granter(self, self._resources(inputs)),
                active=self.active,
            ),
        )
        self.granter = self.builder.c.granter
        self.jobs_dlq = self.builder.jobs_dlq
        self.functions: dict[str, SecureFunction] = {
            spec.name: self.builder.function(spec) for spec in built_here()
        }
        self.rules = {
            s.name: self.builder.schedule(s) for s in SCHEDULES if s.function in self.functions
        }
        self.mappings = {
            f"{s.function}:{s.source}": self.builder.event_source(s)
            for s in EVENT_SOURCES
            if s.function in self.functions
        }

    # ------------------------------------------------------------------ inputs

    def _resources(self, inputs: ServiceInputs) -> RegionResources:
        missing = sorted(streams_used() - set(inputs.stream_arns))
        if missing:
            raise ValueError(f"{self.stack_name}: no stream given for {missing}")
        streams = {
            name: inputs.stream_arns[name] or self._stream_lookup(name)
            for name in sorted(streams_used())
        }
        return region_resources(self.cfg, inputs, self.data_key, streams)

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


def built_here() -> tuple[FunctionSpec, ...]:
    """The business functions a service stack builds (the pool's are the API stack's)."""
    return tuple(s for s in access.service_functions() if not access.beside_the_pool(s.name))


def streams_used() -> set[str]:
    """The tables whose stream a service function consumes (a mapping) or reads itself."""
    consumed = {s.source for s in EVENT_SOURCES if s.kind == "dynamodb-stream"}
    read = {a.reads_stream.logical_name for a in access.ACCESS.values() if a.reads_stream}
    return consumed | read


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


__all__ = ["EngineServiceStack", "ServiceInputs", "built_here", "region_resources", "streams_used"]
