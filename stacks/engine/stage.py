"""One payments-engine environment: a Stage `engine-<env>` holding its stacks.

Deploy order, stated with explicit stack dependencies:

    keys -> dr-keys                                  multi-region keys, then their replicas
    network, dr-network, dr-data                     both VPCs; the standby's own data
    data -> database -> dr-database                  tables and secrets, PostgreSQL, replica
    data, database, storage -> service -> api        the functions, then the routes to them
    dr-data, dr-database, dr-storage -> dr-service -> dr-api
    dr-database, dr-data -> dr-runbook               the failover runbook and switch
    api, dr-api, dr-runbook -> dns                   failover records (with a domain)

The DR stacks (Singapore) exist only where config enables DR (staging, prod); none of them
depends on a Mumbai stack at deploy time except through values Singapore already holds
(SSM-backed cross-Region references, literal ARNs), so `make deploy-dr` can deploy them
alone while Mumbai is down.
"""

from __future__ import annotations

from typing import TypeVar

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.function import SecureFunction
from cdk_constructs.postgres import PORT
from cdk_constructs.tags import tag_every_resource
from config.engine import EngineConfig
from engine import metrics as engine_metrics
from engine.declarations import EVENT_SOURCES
from engine.queues import QUEUES
from engine.tables import GLOBAL_TABLES, REGIONAL_TABLES
from shared.declarations import FunctionSpec
from stacks.engine import access
from stacks.engine.api import DatabaseEndpoint, EngineApiStack
from stacks.engine.backup import EngineBackupStack, EngineDrBackupVaultStack
from stacks.engine.data import (
    WORK_QUEUES,
    EngineDataStack,
    EngineDrDataStack,
    dlq_name,
    queue_name,
    table_name,
    topic_name,
)
from stacks.engine.database import (
    DATABASE_NAME,
    HEALTH_USER,
    EngineDatabaseStack,
    EngineDrDatabaseStack,
    dr_replica_identifier,
    primary_arn,
    primary_identifier,
)
from stacks.engine.dr import (
    EngineDnsStack,
    EngineDrRunbookStack,
    FailoverApi,
    FailoverTarget,
    api_domain,
    failover_target,
)
from stacks.engine.edge import EngineEdgeStack, EngineEdgeWafStack
from stacks.engine.functions import function_name
from stacks.engine.grants import Database, SecretRef
from stacks.engine.keys import EngineDrKeysStack, EngineKeysStack, event_bus_name
from stacks.engine.monitoring import EngineMonitoringStack, MonitoringTargets
from stacks.engine.network import EngineNetworkStack
from stacks.engine.regional import SCHEDULED_JOBS_DLQ, RegionalData
from stacks.engine.secrets import SECRETS, secret_arn_pattern, secret_name
from stacks.engine.service import EngineServiceStack, ServiceInputs
from stacks.engine.storage import (
    AUDIT_ANCHORS,
    EngineDrStorageStack,
    EngineStorageStack,
    bucket_name,
)

S = TypeVar("S", bound=cdk.Stack)


class EngineStage(cdk.Stage):
    def __init__(self, scope: Construct, cfg: EngineConfig) -> None:
        super().__init__(scope, f"{cfg.system}-{cfg.env_name}", env=cfg.cdk_environment)
        self.cfg = cfg
        self._all: list[cdk.Stack] = []
        self._keys()
        self._networks()
        self._data()
        self._databases()
        self._storage_and_edge()
        self._services()
        self._apis()
        self._backup()
        self._dr_runbook()
        self._dns()
        self._monitoring()
        tag_every_resource(self, cfg.tags)

    # ------------------------------------------------------------------ builders

    def _add(self, stack: S, *after: cdk.Stack | None) -> S:
        for dependency in after:
            if dependency is not None:
                stack.add_stack_dependency(dependency)
        self._all.append(stack)
        return stack

    def _keys(self) -> None:
        cfg = self.cfg
        self.keys = self._add(EngineKeysStack(self, "Keys", cfg=cfg))
        self.dr_keys: EngineDrKeysStack | None = None
        if cfg.dr_enabled:
            self.dr_keys = self._add(
                EngineDrKeysStack(self, "DrKeys", cfg=cfg, primaries=self.keys), self.keys
            )

    def key_arn(self, domain: str) -> str:
        return self.keys.keys[domain].key_arn

    def dr_key_arn(self, domain: str) -> str:
        """The Singapore replica's ARN, as Mumbai stacks may name it (same `mrk-` id)."""
        return self.keys.keys[domain].replica_arn(self.cfg.dr_region)

    def _networks(self) -> None:
        cfg = self.cfg
        self.network = self._add(
            EngineNetworkStack(
                self,
                "Network",
                cfg=cfg,
                network=cfg.network,
                env=cfg.cdk_environment,
                role="network",
                logs_key_arn=self.key_arn("Logs"),
            ),
            self.keys,
        )
        self.dr_network: EngineNetworkStack | None = None
        self.dr_data: EngineDrDataStack | None = None
        if self.dr_keys is not None:
            dr_keys = self.dr_keys
            self.dr_network = self._add(
                EngineNetworkStack(
                    self,
                    "DrNetwork",
                    cfg=cfg,
                    network=cfg.dr_network,
                    env=cfg.dr_cdk_environment,
                    role="dr-network",
                    logs_key_arn=dr_keys.keys["Logs"].key_arn,
                    functions_reach_database_directly=True,
                ),
                dr_keys,
            )
            self.dr_data = self._add(
                EngineDrDataStack(
                    self, "DrData", cfg=cfg, data_key_arn=dr_keys.keys["Data"].key_arn
                ),
                dr_keys,
            )

    def _data(self) -> None:
        # The tables' Singapore replicas are encrypted with the replica keys.
        self.data = self._add(
            EngineDataStack(self, "Data", cfg=self.cfg, keys=self.keys),
            self.keys,
            self.network,
            self.dr_keys,
        )

    def _databases(self) -> None:
        cfg = self.cfg
        self.database = self._add(
            EngineDatabaseStack(
                self,
                "Database",
                cfg=cfg,
                network=self.network.network,
                database_key_arn=self.key_arn("Backup"),
                logs_key_arn=self.key_arn("Logs"),
                secret_replica_key_arn=self.dr_key_arn("Backup") if cfg.dr_enabled else None,
            ),
            self.keys,
            self.network,
            self.dr_keys,
        )
        self.dr_database: EngineDrDatabaseStack | None = None
        if self.dr_keys is not None and self.dr_network is not None:
            self.dr_database = self._add(
                EngineDrDatabaseStack(
                    self,
                    "DrDatabase",
                    cfg=cfg,
                    network=self.dr_network.network,
                    database_key_arn=self.dr_keys.keys["Backup"].key_arn,
                    logs_key_arn=self.dr_keys.keys["Logs"].key_arn,
                ),
                self.database,
                self.dr_network,
                self.dr_keys,
            )

    def _storage_and_edge(self) -> None:
        cfg = self.cfg
        self.dr_storage: EngineDrStorageStack | None = None
        if self.dr_keys is not None:
            # Replication destinations exist before the buckets that replicate into them.
            self.dr_storage = self._add(
                EngineDrStorageStack(
                    self, "DrStorage", cfg=cfg, data_key_arn=self.dr_keys.keys["Data"].key_arn
                ),
                self.dr_keys,
            )
        replica = self.dr_key_arn("Data") if cfg.dr_enabled else None
        self.storage = self._add(
            EngineStorageStack(
                self,
                "Storage",
                cfg=cfg,
                data_key_arn=self.key_arn("Data"),
                replica_key_arn=replica,
            ),
            self.keys,
            self.dr_storage,
        )
        self.edge_waf = self._add(EngineEdgeWafStack(self, "EdgeWaf", cfg=cfg))
        self.edge = self._add(
            EngineEdgeStack(
                self,
                "Edge",
                cfg=cfg,
                web_acl_arn=self.edge_waf.web_acl_arn,
                replica_key_arn=replica,
                site_certificate_arn=(
                    self.edge_waf.site_certificate.certificate_arn
                    if self.edge_waf.site_certificate
                    else None
                ),
            ),
            self.edge_waf,
            self.keys,
            self.dr_storage,
        )

    def _services(self) -> None:
        self.service_inputs = self._primary_inputs()
        self.service = self._add(
            EngineServiceStack(
                self,
                "Service",
                cfg=self.cfg,
                region_role="service",
                env=self.cfg.cdk_environment,
                network=self.network.network,
                inputs=self.service_inputs,
            ),
            self.network,
            self.data,
            self.database,
            self.storage,
        )
        self.dr_service: EngineServiceStack | None = None
        self.dr_service_inputs: ServiceInputs | None = None
        if (
            self.dr_keys is None
            or self.dr_network is None
            or self.dr_database is None
            or self.dr_data is None
        ):
            return
        self.dr_service_inputs = self._dr_inputs()
        self.dr_service = self._add(
            EngineServiceStack(
                self,
                "DrService",
                cfg=self.cfg,
                region_role="dr-service",
                env=self.cfg.dr_cdk_environment,
                network=self.dr_network.network,
                inputs=self.dr_service_inputs,
            ),
            self.dr_network,
            self.dr_data,
            self.dr_database,
            self.dr_storage,
            # The Transactions table's Singapore replica (its stream) and the secrets' replicas.
            self.data,
        )

    def _primary_inputs(self) -> ServiceInputs:
        """What Mumbai's business functions are given (the service stack's and the API
        stack's pool-bound ones)."""
        cfg = self.cfg
        database = self.database.database
        return ServiceInputs(
            logs_key_arn=self.key_arn("Logs"),
            data_key_arn=self.key_arn("Data"),
            # Every table's own stream here: the global tables' and the regional ones'.
            stream_arns={
                **{
                    spec.logical_name: self.data.tables[spec.logical_name].table.table_stream_arn
                    for spec in GLOBAL_TABLES
                    if spec.stream
                },
                **_regional_streams(self.data.regional),
            },
            secrets={
                spec.env_var: SecretRef(secret.secret_arn, secret.secret_arn)
                for spec in SECRETS
                for secret in (self.data.secrets[spec.name],)
            },
            documents_bucket=bucket_name(cfg, "documents", cfg.region),
            event_bus_name=event_bus_name(cfg),
            database=Database(
                host=database.proxy.endpoint,
                port=PORT,
                name=DATABASE_NAME,
                connect_arn=database.user_connect_arn(access.DATABASE_USER),
            ),
            audit_anchor_bucket=bucket_name(cfg, AUDIT_ANCHORS, cfg.region),
        )

    def _dr_inputs(self) -> ServiceInputs:
        cfg = self.cfg
        assert self.dr_keys is not None and self.dr_data is not None
        assert self.dr_database is not None
        replica = self.dr_database.replica
        return ServiceInputs(
            logs_key_arn=self.dr_keys.keys["Logs"].key_arn,
            data_key_arn=self.dr_keys.keys["Data"].key_arn,
            # The global tables' Singapore replicas' streams, read from DynamoDB at deploy
            # time (None); the regional tables' streams are those of Singapore's own tables
            # (dr-data, same Region: no cross-Region reference).
            stream_arns={
                **{spec.logical_name: None for spec in GLOBAL_TABLES if spec.stream},
                **_regional_streams(self.dr_data.regional),
            },
            # The secrets' replicas, by name (same name, Singapore's random suffix).
            secrets={
                spec.env_var: SecretRef(
                    secret_name(cfg, spec), secret_arn_pattern(cfg, spec, cfg.dr_region)
                )
                for spec in SECRETS
            },
            documents_bucket=bucket_name(cfg, "documents", cfg.dr_region),
            event_bus_name=event_bus_name(cfg),
            # No proxy before promotion: the replica itself (the promoted primary later).
            database=Database(
                host=replica.instance.db_instance_endpoint_address,
                port=PORT,
                name=DATABASE_NAME,
                connect_arn=replica.user_connect_arn(access.DATABASE_USER),
            ),
            # Singapore's replica of the anchors: the standby anchors its own appends there
            # (replicated objects and its own live side by side, all under Object Lock).
            audit_anchor_bucket=bucket_name(cfg, AUDIT_ANCHORS, cfg.dr_region),
        )

    def _apis(self) -> None:
        cfg = self.cfg
        health_table = table_name(cfg, "Transactions")
        self.api = self._add(
            EngineApiStack(
                self,
                "Api",
                cfg=cfg,
                region_role="api",
                env=cfg.cdk_environment,
                network=self.network.network,
                logs_key_arn=self.key_arn("Logs"),
                data_key_arn=self.key_arn("Data"),
                health_table_name=health_table,
                database=DatabaseEndpoint(
                    host=self.database.database.proxy.endpoint,
                    port=PORT,
                    name=DATABASE_NAME,
                    user=HEALTH_USER,
                    connect_resource_arn=self.database.health_connect_arn,
                ),
                staff_inputs=self.service_inputs,
            ),
            self.network,
            self.data,
            self.database,
            self.service,
        )
        self.dr_api: EngineApiStack | None = None
        if (
            self.dr_keys is not None
            and self.dr_network
            and self.dr_database
            and self.dr_service_inputs is not None
        ):
            self.dr_api = self._add(
                EngineApiStack(
                    self,
                    "DrApi",
                    cfg=cfg,
                    region_role="dr-api",
                    env=cfg.dr_cdk_environment,
                    network=self.dr_network.network,
                    logs_key_arn=self.dr_keys.keys["Logs"].key_arn,
                    data_key_arn=self.dr_keys.keys["Data"].key_arn,
                    health_table_name=health_table,
                    # The standby answers from the replica directly (no proxy before promotion).
                    database=DatabaseEndpoint(
                        host=self.dr_database.replica.instance.db_instance_endpoint_address,
                        port=PORT,
                        name=DATABASE_NAME,
                        user=HEALTH_USER,
                        connect_resource_arn=self.dr_database.health_connect_arn,
                    ),
                    staff_inputs=self.dr_service_inputs,
                ),
                self.dr_network,
                self.dr_database,
                self.data,
                self.dr_service,
            )

    def _monitoring(self) -> None:
        cfg = self.cfg
        self.monitoring = self._add(
            EngineMonitoringStack(
                self,
                "Monitoring",
                cfg=cfg,
                region_role="monitoring",
                env=cfg.cdk_environment,
                targets=self._monitoring_targets(cfg.region),
            ),
            self.data,
            self.database,
            self.api,
        )
        self.dr_monitoring: EngineMonitoringStack | None = None
        if self.dr_api is not None and self.dr_data is not None:
            self.dr_monitoring = self._add(
                EngineMonitoringStack(
                    self,
                    "DrMonitoring",
                    cfg=cfg,
                    region_role="dr-monitoring",
                    env=cfg.dr_cdk_environment,
                    targets=self._monitoring_targets(cfg.dr_region),
                ),
                self.dr_data,
                self.dr_database,
                self.dr_api,
            )

    def _monitoring_targets(self, region: str) -> MonitoringTargets:
        cfg = self.cfg
        primary = region == cfg.region
        apis = (cfg.resource_name("portal-api"), cfg.resource_name("internal-api"))
        queues, dlqs = _queue_names(cfg)
        if primary:
            replicas = tuple(
                f"{primary_identifier(cfg)}-{name}" for name in cfg.database.read_replicas
            )
            instances = (primary_identifier(cfg), *replicas)
        else:
            replicas = instances = (dr_replica_identifier(cfg),)
        others = tuple(r for r in cfg.runtime_regions if r != region)
        specs = self._functions_in(region)
        running = set(self._running_functions(region))
        streams = {source.function for source in EVENT_SOURCES if source.kind == "dynamodb-stream"}
        return MonitoringTargets(
            table_names=tuple(table_name(cfg, spec.logical_name) for spec in GLOBAL_TABLES),
            regional_table_names=tuple(
                table_name(cfg, spec.logical_name) for spec in REGIONAL_TABLES
            ),
            replica_regions=others,
            db_instance_identifiers=instances,
            replica_instance_identifiers=replicas,
            rest_api_names=apis,
            web_acl_names=apis,
            queue_names=queues,
            dlq_names=dlqs,
            function_names=tuple(function_name(cfg, spec) for spec in specs),
            standby_function_names=tuple(
                function_name(cfg, spec) for spec in specs if spec.name not in running
            ),
            stream_function_names=tuple(
                function_name(cfg, spec) for spec in specs if spec.name in streams
            ),
            metrics=engine_metrics.METRICS,
            running_functions=tuple(sorted(running)),
            critical_topic_arn=self._topic_arn(region, "Critical"),
            warning_topic_arn=self._topic_arn(region, "Warning"),
        )

    def _topic_arn(self, region: str, name: str) -> str:
        return f"arn:aws:sns:{region}:{self.cfg.account}:{topic_name(self.cfg, name)}"

    def _functions_in(self, region: str) -> list[FunctionSpec]:
        """Every declared function the stacks built so far deploy in `region`."""
        return [
            construct.spec
            for stack in self._all
            if stack.region == region
            for construct in stack.node.find_all()
            if isinstance(construct, SecureFunction)
        ]

    def _function_names(self, region: str) -> tuple[str, ...]:
        return tuple(function_name(self.cfg, spec) for spec in self._functions_in(region))

    def _running_functions(self, region: str) -> tuple[str, ...]:
        """What runs in `region`: every function deployed there, except the jobs and
        consumers that run only in the active Region when `region` is not it."""
        active = region == self.cfg.active_region
        specs = self._functions_in(region)
        return tuple(spec.name for spec in specs if active or not spec.active_region_only)

    def _backup(self) -> None:
        cfg = self.cfg
        self.dr_backup: EngineDrBackupVaultStack | None = None
        if self.dr_keys is not None:
            self.dr_backup = self._add(
                EngineDrBackupVaultStack(
                    self, "DrBackup", cfg=cfg, backup_key_arn=self.dr_keys.keys["Backup"].key_arn
                ),
                self.dr_keys,
            )
        self.backup = self._add(
            EngineBackupStack(
                self,
                "Backup",
                cfg=cfg,
                backup_key_arn=self.key_arn("Backup"),
                resource_arns=[
                    primary_arn(cfg),
                    *self.data.stateful_table_arns,
                    *(b.bucket_arn for b in self.storage.buckets.values()),
                ],
            ),
            self.keys,
            self.data,
            self.database,
            self.storage,
            self.dr_backup,
        )

    def _dns(self) -> None:
        """Route 53 failover records for both APIs (only with a domain; it needs DR)."""
        cfg = self.cfg
        self.dns: EngineDnsStack | None = None
        if cfg.domain is None or self.dr_api is None:
            return
        primary = self._failover_targets(self.api)
        secondary = self._failover_targets(self.dr_api)
        self.dns = self._add(
            EngineDnsStack(
                self,
                "Dns",
                cfg=cfg,
                apis=[FailoverApi(host, primary[host], secondary[host]) for host in primary],
            ),
            self.api,
            self.dr_api,
            # The switch's alarm, which the primary records' health checks name.
            self.dr_runbook,
        )

    def _failover_targets(self, stack: EngineApiStack) -> dict[str, FailoverTarget]:
        """Each API's regional custom domain `<host>.<zone>` in `stack`'s region."""
        domain = self.cfg.domain
        assert domain is not None
        targets = {}
        for host, api in (
            (domain.portal_api_host, stack.portal),
            (domain.internal_api_host, stack.internal),
        ):
            custom = api_domain(stack, self.cfg, host)
            custom.domain.add_base_path_mapping(api.api, stage=api.stage)
            targets[host] = failover_target(custom.domain, api.api, api.stage_name)
        return targets

    def _dr_runbook(self) -> None:
        cfg = self.cfg
        self.dr_runbook: EngineDrRunbookStack | None = None
        if self.dr_keys is None or self.dr_data is None:
            return
        self.dr_runbook = self._add(
            EngineDrRunbookStack(
                self,
                "DrRunbook",
                cfg=cfg,
                replica_identifier=dr_replica_identifier(cfg),
                notification_topic_arn=(
                    f"arn:aws:sns:{cfg.dr_region}:{cfg.account}:{topic_name(cfg, 'Critical')}"
                ),
                notification_key_arn=self.dr_keys.keys["Data"].key_arn,
            ),
            self.dr_database,
            self.dr_data,
        )

    # ------------------------------------------------------------------ views

    @property
    def stacks(self) -> tuple[cdk.Stack, ...]:
        return tuple(self._all)

    @property
    def roles(self) -> dict[str, cdk.Stack]:
        """Stack role (the suffix of its name) -> stack."""
        prefix = f"{self.cfg.system}-{self.cfg.env_name}-"
        return {stack.stack_name.removeprefix(prefix): stack for stack in self.stacks}


def _regional_streams(regional: RegionalData) -> dict[str, str | None]:
    """The streams of one Region's own regional tables (never replicated: each Region's
    consumer reads its own table's stream)."""
    return {
        spec.logical_name: regional.tables[spec.logical_name].table.table_stream_arn
        for spec in REGIONAL_TABLES
        if spec.stream
    }


def _queue_names(cfg: EngineConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(work queues, DLQs) by name: the later notification queue, and the queues
    engine/queues.py declares (a declared queue without a DLQ of its own is one)."""
    work = [queue_name(cfg, name) for name in WORK_QUEUES]
    work += [queue_name(cfg, q.name) for q in QUEUES if q.dead_letter_queue]
    dlqs = [dlq_name(cfg, name) for name in WORK_QUEUES]
    dlqs += [queue_name(cfg, q.name) for q in QUEUES if not q.dead_letter_queue]
    dlqs.append(queue_name(cfg, SCHEDULED_JOBS_DLQ))
    return tuple(work), tuple(dlqs)
