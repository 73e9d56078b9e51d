"""What the operations and the background work cost, from footprints joined to the templates.

`operation_lines` prices one business operation: each step of the system's footprint
(config/cost.py) against the resources it touches in the templates (a function's memory
and architecture, a table's replicas, PITR and backups, the log groups' retention).
Stored data is priced as it stands after the config's storage horizon, so the cost per
operation includes the storage one more operation a month adds by then.

`background_lines` prices the work that runs with no operation at all: scheduled rules,
Lambda's idle long polls of its SQS sources, Route 53 health checks, custom metrics.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from decimal import Decimal
from statistics import median_low

from config.cost import Footprint, Invocation, TableUse, Usage
from cost_model.assembly import Resource, Stack
from cost_model.fixed import HOURS_PER_MONTH, NO_ENDPOINT_HEALTH_CHECKS, Environment, Line
from cost_model.prices import GLOBAL_REGION, table

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
GB = Decimal(1024**3)
# Lambda polls each SQS source with five long polls of 20 s while the queue is empty.
# Source: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (2025-06-01).
SQS_IDLE_POLLERS = 5
SQS_LONG_POLL_SECONDS = 20
# Route 53 checks from 8 regions with several checkers each and no coordination; at the
# default spread an endpoint sees about one request every two seconds per 30 s check.
# Source: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
HEALTH_CHECKERS = 16
# CloudWatch bills archived logs by their compressed size.
LOG_COMPRESSION = Decimal("0.15")
# Flow records (~120 bytes a connection) against the bytes those connections carry.
FLOW_LOG_BYTES_PER_NAT_BYTE = Decimal("0.05")
ARCHIVED_EVENT_BYTES = 1_024


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


class Resolver:
    """Finds what a footprint names in one environment's templates."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.region = env.primary_region

    def primary(self, *types: str) -> Iterator[tuple[Stack, Resource]]:
        return ((s, r) for s, r in self.env.resources(*types) if s.region == self.region)

    def function(self, key: str) -> Resource | None:
        found = [
            r
            for _, r in self.primary("AWS::Lambda::Function")
            if str(r.properties.get("FunctionName", "")).endswith(f"-{key}")
            or r.logical_id.startswith(f"{key}Function")
        ]
        if len(found) > 1:
            raise LookupError(f"{len(found)} functions match {key!r} in {self.env.name}")
        return found[0] if found else None

    def table(self, key: str) -> Resource:
        types = ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table")
        prefix = _pascal(key)
        found = [
            r
            for _, r in self.primary(*types)
            if str(r.properties.get("TableName", "")).endswith(f"-{key}")
            or r.logical_id.startswith((f"{prefix}Table", f"{prefix}DataTable"))
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} tables match {key!r} in {self.env.name}")
        return found[0]

    def has(self, resource_type: str) -> bool:
        return any(True for _ in self.primary(resource_type))

    def has_interface_endpoints(self) -> bool:
        return any(
            r.properties.get("VpcEndpointType") == "Interface"
            for _, r in self.primary("AWS::EC2::VPCEndpoint")
        )

    def has_cross_region_replica(self) -> bool:
        return any(
            s.region != self.region and "SourceDBInstanceIdentifier" in r.properties
            for s, r in self.env.resources("AWS::RDS::DBInstance")
        )

    def log_retention_months(self) -> Decimal:
        days = [
            int(r.properties["RetentionInDays"])
            for _, r in self.primary("AWS::Logs::LogGroup")
            if "RetentionInDays" in r.properties
        ]
        months = Decimal(median_low(days)) / Decimal(30) if days else Decimal(1)
        return min(months, Decimal(self.env.cost.storage_horizon_months))

    def backups(self) -> tuple[int, int, str | None]:
        """(daily backups kept, DR copies kept, DR region) of the plan, if any."""
        for _, plan in self.primary("AWS::Backup::BackupPlan"):
            for rule in plan.properties["BackupPlan"]["BackupPlanRule"]:
                kept = int(rule.get("Lifecycle", {}).get("DeleteAfterDays", 0))
                for copy in rule.get("CopyActions", []):
                    arn = str(copy["DestinationBackupVaultArn"])
                    copies = int(copy.get("Lifecycle", {}).get("DeleteAfterDays", 0))
                    return kept, copies, arn.split(":")[3]
                return kept, 0, None
        return 0, 0, None


def _gb(byte_count: Decimal | int) -> Decimal:
    return Decimal(byte_count) / GB


class UsagePricer:
    """Prices a `Usage` once; the caller multiplies by how often it happens."""

    def __init__(self, env: Environment, system_label: str = "") -> None:
        self.env = env
        self.find = Resolver(env)
        self.region = env.primary_region
        self.prices = table(self.region)
        self.horizon = Decimal(env.cost.storage_horizon_months)
        self.label = system_label

    def line(self, service: str, item: str, usd: Decimal, basis: str, region: str = "") -> Line:
        return Line(service, item, region or self.region, self.label, usd, basis)

    def price(self, usage: Usage) -> list[Line]:
        lines: list[Line] = []
        for invocation in usage.invocations:
            lines += self.invocation(invocation)
        for use in usage.tables:
            lines += self.table_use(use)
        lines += self.requests(usage)
        lines += self.logs(usage.log_bytes, usage.nat_bytes)
        lines += self.network(usage)
        lines += self.storage_services(usage)
        return [line for line in lines if line.usd]

    def invocation(self, call: Invocation) -> list[Line]:
        function = self.find.function(call.function)
        if function is None:
            if call.planned_memory_mb is None:
                raise LookupError(f"no function {call.function!r} in {self.env.name}")
            memory, arch, note = call.planned_memory_mb, "arm64", " (planned)"
        else:
            memory = int(function.properties.get("MemorySize", 128))
            arch = (function.properties.get("Architectures") or ["x86_64"])[0]
            note = ""
        gb_seconds = Decimal(memory) / 1024 * Decimal(call.duration_ms) / 1000 * call.count
        rate = self.prices(f"lambda.{arch}_gb_second")
        request = self.prices("lambda.request") * call.count
        item = f"{call.function}{note}"
        basis = f"{call.count} x {memory} MB x {call.duration_ms} ms {arch}"
        return [
            self.line("Lambda", item, gb_seconds * rate + request, basis),
        ]

    def table_use(self, use: TableUse) -> list[Line]:
        resource = self.find.table(use.table)
        p = self.prices
        lines = [
            self.line(
                "DynamoDB",
                f"{use.table} requests",
                use.read_units * p("dynamodb.read_request_unit")
                + use.write_units * p("dynamodb.write_request_unit"),
                f"{use.read_units} RRU + {use.write_units} WRU",
            )
        ]
        replicas = resource.properties.get("Replicas") or [{"Region": self.region}]
        stored = _gb(use.stored_bytes) * self.horizon
        for replica in replicas:
            region = str(replica.get("Region", self.region))
            prices = table(region)
            pitr = replica.get("PointInTimeRecoverySpecification", {})
            per_gb = prices("dynamodb.storage_gb_month")
            if pitr.get("PointInTimeRecoveryEnabled"):
                per_gb += prices("dynamodb.pitr_gb_month")
            lines.append(
                self.line("DynamoDB", f"{use.table} storage", stored * per_gb, "at horizon", region)
            )
            if region != self.region:
                replicated = use.write_units * prices("dynamodb.replicated_write_request_unit")
                transfer = _gb(use.stored_bytes or 1024) * p("transfer.inter_region_gb")
                lines.append(
                    self.line(
                        "DynamoDB", f"{use.table} replicated writes", replicated, region, region
                    )
                )
                lines.append(self.line("Data transfer", "table replication", transfer, region))
        lines += self.table_backups(use, stored)
        return lines

    def table_backups(self, use: TableUse, stored_gb: Decimal) -> list[Line]:
        kept, copies, dr_region = self.find.backups()
        if not kept:
            return []
        lines = [
            self.line(
                "AWS Backup",
                f"{use.table} daily backups",
                stored_gb * kept * self.prices("backup.warm_storage_gb_month"),
                f"{kept} full daily backups kept",
            )
        ]
        if dr_region and copies:
            copied = stored_gb * DAYS_PER_MONTH * self.prices("transfer.inter_region_gb")
            kept_copies = stored_gb * copies * table(dr_region)("backup.warm_storage_gb_month")
            lines.append(
                self.line("AWS Backup", "DR copies", kept_copies, f"{copies} kept", dr_region)
            )
            lines.append(self.line("Data transfer", "backup copies", copied, "a copy a day"))
        return lines

    def requests(self, u: Usage) -> list[Line]:
        p = self.prices
        global_prices = table(GLOBAL_REGION)
        lines = [
            self.line("API Gateway", "requests", u.api_requests * p("apigw.rest_request"), ""),
            self.line("WAF", "requests", u.api_requests * p("waf.request"), "regional ACL"),
            self.line("KMS", "requests", u.kms_requests * p("kms.request"), ""),
            self.line(
                "Secrets Manager", "API calls", u.secrets_calls * p("secretsmanager.api_call"), ""
            ),
            self.line("SQS", "requests", u.sqs_requests * p("sqs.request"), ""),
            self.line("SNS", "publishes", u.sns_publishes * p("sns.publish"), ""),
            self.line("X-Ray", "traces", u.xray_traces * p("xray.trace_recorded"), ""),
            self.line(
                "EventBridge", "custom events", u.custom_events * p("events.custom_event"), ""
            ),
            self.line(
                "CloudFront",
                "HTTPS requests",
                u.cdn_requests * global_prices("cloudfront.https_request"),
                "India edge",
                GLOBAL_REGION,
            ),
            self.line(
                "WAF",
                "CloudFront requests",
                u.cdn_requests * global_prices("waf.request"),
                "CloudFront ACL",
                GLOBAL_REGION,
            ),
        ]
        if u.custom_events and self.find.has("AWS::Events::Archive"):
            archived = _gb(u.custom_events * ARCHIVED_EVENT_BYTES)
            months = min(self.horizon, Decimal(12))
            lines.append(
                self.line(
                    "EventBridge",
                    "archive",
                    archived
                    * (p("events.archive_gb") + months * p("events.archive_storage_gb_month")),
                    "",
                )
            )
        return lines

    def logs(self, log_bytes: int, nat_bytes: int) -> list[Line]:
        p = self.prices
        ingested = _gb(log_bytes)
        months = self.find.log_retention_months()
        stored = ingested * LOG_COMPRESSION * months * p("logs.storage_gb_month")
        lines = [
            self.line("CloudWatch Logs", "ingestion", ingested * p("logs.ingest_gb"), ""),
            self.line("CloudWatch Logs", "storage", stored, f"{months:.1f} months kept"),
        ]
        if nat_bytes and self.find.has("AWS::EC2::FlowLog"):
            flow = _gb(Decimal(nat_bytes) * FLOW_LOG_BYTES_PER_NAT_BYTE)
            lines.append(
                self.line("CloudWatch Logs", "VPC flow logs", flow * p("logs.vended_ingest_gb"), "")
            )
        return lines

    def network(self, u: Usage) -> list[Line]:
        p = self.prices
        out = _gb(u.nat_bytes + u.internet_out_bytes)
        endpoint_gb = _gb(u.endpoint_bytes) if self.find.has_interface_endpoints() else Decimal(0)
        wal_gb = _gb(u.database_bytes) if self.find.has_cross_region_replica() else Decimal(0)
        return [
            self.line("VPC", "NAT processing", _gb(u.nat_bytes) * p("ec2.nat_gateway_gb"), ""),
            self.line(
                "VPC", "interface endpoint processing", endpoint_gb * p("vpce.interface_gb"), ""
            ),
            self.line(
                "Data transfer", "database replication", wal_gb * p("transfer.inter_region_gb"), ""
            ),
            self.line("Data transfer", "internet out", out * p("transfer.internet_out_gb"), ""),
            self.line(
                "CloudFront",
                "data out",
                _gb(u.cdn_bytes) * table(GLOBAL_REGION)("cloudfront.data_out_gb"),
                "India edge",
                GLOBAL_REGION,
            ),
        ]

    def storage_services(self, u: Usage) -> list[Line]:
        p = self.prices
        stored = _gb(u.s3_stored_bytes) * self.horizon
        lines = [
            self.line(
                "S3",
                "requests",
                u.s3_puts * p("s3.put_request") + u.s3_gets * p("s3.get_request"),
                "",
            ),
            self.line("S3", "storage", stored * p("s3.storage_gb_month"), "at horizon"),
        ]
        replicated = [
            r
            for _, r in self.find.primary("AWS::S3::Bucket")
            if "ReplicationConfiguration" in r.properties
        ]
        if u.s3_puts and replicated:
            dr = _replica_region(replicated[0])
            if dr:
                dr_prices = table(dr)
                lines += [
                    self.line(
                        "S3", "replica PUTs", u.s3_puts * dr_prices("s3.put_request"), "", dr
                    ),
                    self.line(
                        "S3", "replica storage", stored * dr_prices("s3.storage_gb_month"), "", dr
                    ),
                    self.line(
                        "Data transfer",
                        "S3 replication",
                        _gb(u.s3_stored_bytes) * p("transfer.inter_region_gb"),
                        "",
                    ),
                ]
        return lines


def _replica_region(bucket: Resource) -> str | None:
    """The destination bucket's region, read from its name (…-<account>-<region>)."""
    for rule in bucket.properties["ReplicationConfiguration"].get("Rules", []):
        destination = rule.get("Destination", {}).get("Bucket")
        text = destination if isinstance(destination, str) else str(destination)
        match = re.search(r"(ap|us|eu|sa|ca|me|af)-[a-z]+-\d", text)
        if match:
            return match.group(0)
    return None


def operation_lines(footprint: Footprint, env: Environment) -> list[Line]:
    """The cost of one business operation, line by line."""
    pricer = UsagePricer(env, footprint.system)
    lines: list[Line] = []
    for step in footprint.steps:
        for line in pricer.price(step.usage):
            lines.append(_scaled(line, step.count, f"{step.name}: {line.basis}"))
    return lines


def _scaled(line: Line, factor: Decimal, basis: str, **changes: str) -> Line:
    """The line `factor` times over, with the basis (and item or stack) it now rests on."""
    return dataclasses.replace(line, usd=line.usd * factor, basis=basis, **changes)


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


# A cron that fires every day at fixed times: minutes and hours as numbers (or comma lists),
# every day of the month, every month, every year (EventBridge's six fields).
_DAILY_CRON = re.compile(r"cron\(([0-9]+(?:,[0-9]+)*) ([0-9]+(?:,[0-9]+)*) (\*|\?) \* (\*|\?) \*\)")


def runs_per_month(expression: str) -> Decimal:
    text = expression.strip()
    match = _RATE.fullmatch(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]
        return SECONDS_PER_MONTH / seconds
    daily = _DAILY_CRON.fullmatch(text)
    # EventBridge wants `?` in one of the day fields: the other `*` is every day.
    if daily and {daily.group(3), daily.group(4)} == {"*", "?"}:
        per_day = len(daily.group(1).split(",")) * len(daily.group(2).split(","))
        return DAYS_PER_MONTH * per_day
    raise ValueError(
        f"cannot price schedule {expression!r}: give a rate() expression or a daily cron "
        "(fixed minutes and hours, every day: cron(30 20 * * ? *))"
    )


def background_lines(footprint: Footprint, env: Environment) -> list[Line]:
    pricer = UsagePricer(env, footprint.system)
    lines = _scheduled(footprint, env, pricer)
    lines += _idle_polls(env)
    lines += _health_checks(footprint, env, pricer)
    lines += _custom_metrics(footprint, env)
    return lines


def _scheduled(footprint: Footprint, env: Environment, pricer: UsagePricer) -> list[Line]:
    lines = []
    for stack, rule in env.resources("AWS::Events::Rule"):
        expression = rule.properties.get("ScheduleExpression")
        # A disabled rule (a standby Region's job) never runs: nothing to price.
        if not expression or rule.properties.get("State") == "DISABLED":
            continue
        name = str(rule.properties.get("Name", rule.logical_id))
        usage = next(
            (u for key, u in footprint.per_scheduled_run.items() if name.endswith(f"-{key}")), None
        )
        if usage is None:
            raise LookupError(f"scheduled rule {name} has no per_scheduled_run footprint")
        runs = runs_per_month(str(expression))
        for line in pricer.price(usage):
            basis = f"{runs:.0f} runs ({expression}): {line.basis}"
            lines.append(_scaled(line, runs, basis, item=f"schedule {name}", stack=stack.name))
    return lines


def _idle_polls(env: Environment) -> list[Line]:
    requests = SQS_IDLE_POLLERS * SECONDS_PER_MONTH / SQS_LONG_POLL_SECONDS
    return [
        Line(
            "SQS",
            "idle long polls",
            stack.region,
            stack.name,
            requests * table(stack.region)("sqs.request"),
            f"{SQS_IDLE_POLLERS} pollers x one 20 s poll each = {requests:.0f} requests",
        )
        for stack, mapping in env.resources("AWS::Lambda::EventSourceMapping")
        # SQS (stream reads are free), and only while enabled: a disabled mapping polls nothing.
        if "StartingPosition" not in mapping.properties
        and mapping.properties.get("Enabled", True) is not False
    ]


def _health_checks(footprint: Footprint, env: Environment, pricer: UsagePricer) -> list[Line]:
    checks = [
        (stack, check)
        for stack, check in env.resources("AWS::Route53::HealthCheck")
        if check.properties.get("HealthCheckConfig", {}).get("Type")
        not in NO_ENDPOINT_HEALTH_CHECKS
    ]
    if not checks or footprint.per_health_check is None:
        return []
    lines = []
    for stack, check in checks:
        interval = int(check.properties.get("HealthCheckConfig", {}).get("RequestInterval", 30))
        requests = HEALTH_CHECKERS * SECONDS_PER_MONTH / interval
        for line in pricer.price(footprint.per_health_check):
            basis = f"{requests:.0f} checker requests: {line.basis}"
            item = "health check traffic"
            lines.append(_scaled(line, requests, basis, item=item, stack=stack.name))
    return lines


def custom_metric_names(footprint: Footprint, env: Environment) -> set[str]:
    alarmed = {
        str(r.properties["MetricName"])
        for _, r in env.resources("AWS::CloudWatch::Alarm")
        if "MetricName" in r.properties
        and not str(r.properties.get("Namespace", "")).startswith("AWS/")
    }
    return alarmed | set(footprint.emitted_metrics)


def _custom_metrics(footprint: Footprint, env: Environment) -> list[Line]:
    names = custom_metric_names(footprint, env)
    rate = table(env.primary_region)("cloudwatch.custom_metric_month")
    return (
        [
            Line(
                "CloudWatch",
                "custom metrics",
                env.primary_region,
                f"{footprint.system} functions",
                rate * len(names),
                f"{len(names)} metrics x ${rate}",
            )
        ]
        if names
        else []
    )
