"""The payments engine: one frozen config per environment (dev, qa, staging, prod).

Values come from the platform's design (network, environments, log retention, DR) unless
a comment says otherwise. Mumbai (ap-south-1) is primary;
Singapore (ap-southeast-1) holds the DR counterparts where `dr_enabled` is set.
Every difference between environments is a field here: the stacks never ask which
environment they are building.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from config.base import EnvironmentConfig, MessagingLimits
from config.cost import CostConfig
from config.validation import check_availability_zones, check_https_url, check_positive

SYSTEM = "engine"
REGION = "ap-south-1"
DR_REGION = "ap-southeast-1"
AVAILABILITY_ZONES = ("ap-south-1a", "ap-south-1b")
DR_AVAILABILITY_ZONES = ("ap-southeast-1a", "ap-southeast-1b")

# One /24 per tier and zone; the DR VPC repeats the third octets in 10.1/16.
VPC_CIDR = "10.0.0.0/16"
DR_VPC_CIDR = "10.1.0.0/16"
PUBLIC_THIRD_OCTETS = (1, 2)
APP_THIRD_OCTETS = (11, 12)
DB_THIRD_OCTETS = (21, 22)


# The LMS (FinnOne behind the lender's MuleSoft; docs/lms-api.yml is the contract). No public
# endpoint exists to default to: each environment names its own (the lender's UAT for dev and
# qa, its pre-production for staging, production for prod). These are placeholders in the
# reserved .example domain until the lender's integration team gives the real hosts: synth
# and the tests warn about one, and `make deploy` refuses it (`deploy_problems`).
def lms_placeholder_url(env_name: str) -> str:
    return f"https://lms-{env_name}.fivestar.example"


# The HRMS (DarwinBox; docs/hrms-api.yml is our contract with it): the lender's tenant per
# environment and the integration's API path, unknown until the HR team gives them. A
# placeholder like the LMS's, refused by `make deploy` alike; until it is set the nightly
# HrmsSync fails and its error alarm says so.
def hrms_placeholder_url(env_name: str) -> str:
    return f"https://hrms-{env_name}.fivestar.example/api/engine/v1"


# RDS and DynamoDB PITR both stop at 35 days; production keeps 35.
MAX_BACKUP_RETENTION_DAYS = 35
# The cross-region backup copy is kept 7 days.
BACKUP_COPY_RETENTION_DAYS = 7

# API Gateway throttling and the portal's per-IP rate limit (the platform's API limits).
API_THROTTLE_RATE = 1000
API_THROTTLE_BURST = 2000
PORTAL_RATE_LIMIT_PER_MINUTE_PER_IP = 100
# "Internal PE: 500 requests/minute per user"; WAF counts per IP, so the per-IP
# ceiling is the per-user figure (one branch user per device).
INTERNAL_RATE_LIMIT_PER_MINUTE_PER_IP = 500

# Reserved concurrency per service function (engine.declarations names). Each caps what one
# function can take from the account (and from PostgreSQL's connections: one per container)
# and is what `make preflight` adds up. Production: year one's 50,000 repayments
# a day peak at a few a second, each call a second or less, so 10-20 containers absorb a
# burst; RazorPay retries a throttled webhook. The jobs run one at a time (a second sweep or
# repair while one runs would only repeat its work); the replay queue's mapping keeps to 2
# (its minimum maximum concurrency), so it is never throttled into redriving its messages.
PRODUCTION_CONCURRENCY: Mapping[str, int] = {
    "PortalSessions": 10,
    "PortalLoans": 10,
    "PortalPayments": 20,
    "PortalReceipts": 5,
    "RazorpayWebhook": 20,
    "RazorpayWebhookReplayer": 2,
    "PaymentSweeper": 1,
    "TransactionsSync": 5,
    "TransactionsRepair": 1,
    # Invoked once per failover by the DR runbook.
    "ReceiptCountersCarryOver": 1,
    # The LMS poster takes each new receipt off the TransactionQueue stream; 2 containers at
    # most, so a backlog (a failover's TRIM_HORIZON replay, a morning's retries) cannot
    # overrun the lender's MuleSoft API. A throttled batch waits on its shard; the items stay
    # in the table either way, and the sweep takes whatever is still due a minute later.
    "LmsPoster": 2,
    # Jobs, one at a time: the sweep every minute, the heartbeat every minute.
    "LmsSweeper": 1,
    "LmsHeartbeat": 1,
    # Staff acting on LMS postings by hand: a handful of calls a day, each a Query or one
    # transaction (well under a second); 2 lets two people work at once.
    "InternalLms": 2,
    # Nightly, one run at a time: a second run would only contend for the sync's state row.
    "LoanSync": 1,
    # Field officers and cashiers record collections through the day, peaking as the field
    # comes back to the branches (~5,000 a day in year one over ~200 branches, a few a
    # second at the peak); each call is one PostgreSQL unit of work and one DynamoDB
    # transaction (well under a second), so 10 containers absorb it with room.
    "InternalCollections": 10,
    # Branch staff and managers on the day's DCR (~200 branches, a few calls each, mostly
    # in the evening), head office on the audit trail and on users: a handful at a time.
    "InternalDcr": 2,
    "InternalAudit": 2,
    "InternalUsers": 2,
    # The staff pool's post-authentication trigger: the morning sign-in burst as branches
    # open (~1,000 staff within an hour or so, a few a second at most, ~100 ms each). A
    # throttled trigger fails the sign-in, so more room than the traffic needs.
    "StaffSignIn": 5,
    # Nightly, one run at a time: a second run would only repeat the first's changes.
    "HrmsSync": 1,
}
# Dev and qa: test traffic only; small, so a new account's quota is exceeded by little.
SMALL_CONCURRENCY: Mapping[str, int] = {
    name: min(count, 2) for name, count in PRODUCTION_CONCURRENCY.items()
}


def subnet_cidrs(vpc_cidr: str, third_octets: tuple[int, ...], count: int) -> tuple[str, ...]:
    """The first `count` /24s of a tier, e.g. 10.0.11.0/24 and 10.0.12.0/24."""
    first_two = ".".join(vpc_cidr.split("/", maxsplit=1)[0].split(".")[:2])
    return tuple(f"{first_two}.{octet}.0/24" for octet in third_octets[:count])


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """One region's VPC: the CIDR and each tier's subnets, one per zone, in zone order."""

    vpc_cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]
    app_subnet_cidrs: tuple[str, ...]
    db_subnet_cidrs: tuple[str, ...]
    nat_gateways: int

    @classmethod
    def seed(
        cls, vpc_cidr: str, zones: tuple[str, ...], az_count: int, nat_gateways: int
    ) -> NetworkConfig:
        return cls(
            vpc_cidr=vpc_cidr,
            availability_zones=zones[:az_count],
            public_subnet_cidrs=subnet_cidrs(vpc_cidr, PUBLIC_THIRD_OCTETS, az_count),
            app_subnet_cidrs=subnet_cidrs(vpc_cidr, APP_THIRD_OCTETS, az_count),
            db_subnet_cidrs=subnet_cidrs(vpc_cidr, DB_THIRD_OCTETS, az_count),
            nat_gateways=nat_gateways,
        )

    def problems(self, label: str, region: str) -> list[str]:
        found: list[str | None] = [check_availability_zones(region, self.availability_zones)]
        try:
            vpc = ipaddress.IPv4Network(self.vpc_cidr)
        except ValueError:
            return [f"{label}: vpc_cidr {self.vpc_cidr!r} is not a CIDR block"]
        zones = len(self.availability_zones)
        subnets: list[ipaddress.IPv4Network] = []
        for tier, cidrs in (
            ("public", self.public_subnet_cidrs),
            ("app", self.app_subnet_cidrs),
            ("db", self.db_subnet_cidrs),
        ):
            if len(cidrs) != zones:
                found.append(
                    f"{label}: {tier}_subnet_cidrs lists {len(cidrs)} subnets for {zones} "
                    f"availability zones; give exactly one per zone"
                )
            for cidr in cidrs:
                try:
                    subnet = ipaddress.IPv4Network(cidr)
                except ValueError:
                    found.append(f"{label}: {tier} subnet {cidr!r} is not a CIDR block")
                    continue
                if not subnet.subnet_of(vpc):
                    found.append(f"{label}: {tier} subnet {cidr} is outside the VPC {vpc}")
                subnets.append(subnet)
        overlapping = sorted(
            {f"{a} and {b}" for a in subnets for b in subnets if a is not b and a.overlaps(b)}
        )
        if overlapping:
            found.append(f"{label}: subnets overlap: {overlapping[0]}")
        if not 1 <= self.nat_gateways <= zones:
            found.append(
                f"{label}: nat_gateways must be 1 to {zones} (one per zone at most), "
                f"got {self.nat_gateways}"
            )
        return [problem for problem in found if problem]


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """RDS PostgreSQL sizing per environment (the parameter tuning lives in the construct)."""

    instance_type: str  # without the "db." prefix, e.g. "r6g.large"
    multi_az: bool
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    # Same-region read replicas by purpose (prod: reporting, analytics).
    read_replicas: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        found: list[str | None] = [
            check_positive("database.allocated_storage_gb", self.allocated_storage_gb),
        ]
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            found.append("database.max_allocated_storage_gb must be >= allocated_storage_gb")
        if "." not in self.instance_type or self.instance_type.startswith("db."):
            found.append(
                f"database.instance_type {self.instance_type!r}: give class.size without 'db.'"
            )
        if len(set(self.read_replicas)) != len(self.read_replicas):
            found.append("database.read_replicas must be distinct")
        return [problem for problem in found if problem]


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    """A Route 53 public hosted zone the engine's names live in (no lookup: ids are given).

    With one, each API gets a regional custom domain in both regions and Route 53
    failover records with health checks on GET /health; without one, the APIs are
    reached on their execute-api names and failover is the runbook's DNS step only.
    """

    hosted_zone_id: str
    zone_name: str  # e.g. "pay.fivestar.example"
    portal_api_host: str = "api"  # -> api.<zone_name>
    internal_api_host: str = "engine"  # -> engine.<zone_name>
    site_host: str = "portal"  # -> portal.<zone_name> (CloudFront)

    def fqdn(self, host: str) -> str:
        return f"{host}.{self.zone_name}"


@dataclass(frozen=True, kw_only=True)
class EngineConfig(EnvironmentConfig):
    system: str = SYSTEM
    region: str = REGION
    availability_zones: tuple[str, ...] = AVAILABILITY_ZONES
    owner: str = "payments-engine"
    data_classification: str = "restricted"
    cost_centre: str = "CC-PAYMENTS-ENGINE"

    # Disaster recovery: the Singapore counterparts exist only where set.
    dr_region: str = DR_REGION
    dr_enabled: bool
    # Where the jobs and consumers run (functions declared active_region_only), and so
    # where the alarms on their metrics are armed: the primary until the DR runbook's
    # failover, after which an operator sets the DR Region here and runs `make deploy-dr`.
    active_region: str = REGION

    # Network (dev single AZ and minimal, the others multi-AZ).
    network: NetworkConfig
    dr_network: NetworkConfig

    # Log retention (the same in every environment): portal 30 d,
    # internal 90 d, scheduler 14 d, API access logs 30 d.
    portal_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    internal_log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    scheduler_log_retention: logs.RetentionDays = logs.RetentionDays.TWO_WEEKS
    api_access_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    # VPC flow logs: kept as long as the internal service logs they help explain.
    flow_log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS

    # Backups: RDS automated backups; DynamoDB PITR is always 35 days.
    backup_retention_days: int

    # Queues: a message is retried `queue_max_receive_count` times, then waits in
    # its DLQ for an operator; the visibility timeout leaves room for a slow LMS call.
    dlq_retention_days: int = 14
    queue_max_receive_count: int = 5
    queue_visibility_timeout_seconds: int = 180

    # EventBridge archive: events kept for replay after an incident or a bug fix.
    event_archive_retention_days: int

    # PostgreSQL (RDS). The Singapore cross-region replica exists where dr_enabled.
    database: DatabaseConfig

    # AWS Backup: daily, kept backup_retention_days, copied to the
    # DR region's vault for backup_copy_retention_days where DR is enabled.
    backup_copy_retention_days: int = BACKUP_COPY_RETENTION_DAYS

    # APIs: stage throttling and the per-IP limits.
    api_throttle_rate_limit: int = API_THROTTLE_RATE
    api_throttle_burst_limit: int = API_THROTTLE_BURST
    portal_rate_limit_per_minute_per_ip: int = PORTAL_RATE_LIMIT_PER_MINUTE_PER_IP
    internal_rate_limit_per_minute_per_ip: int = INTERNAL_RATE_LIMIT_PER_MINUTE_PER_IP
    # The portal's API-key usage plan: a daily quota per key (one key per client app).
    portal_usage_plan_quota_per_day: int = 200_000
    # The one origin the portal API (and its gateway error responses) answers CORS for;
    # empty: the site's name under `domain` where there is one, else no CORS at all (set it
    # to the CloudFront name once the edge stack has one).
    portal_cors_origins: tuple[str, ...] = ()

    # The engine functions' settings (engine/settings.py reads them; stacks/engine/access.py
    # gives each function the ones it reads).
    razorpay_base_url: str = "https://api.razorpay.com"
    # RazorPay captures authorised payments itself (the account's setting); False: we capture.
    razorpay_auto_capture: bool = True
    razorpay_timeout_seconds: int = 3
    max_payment_amount: Decimal = Decimal("500000.00")
    order_expiry_minutes: int = 30
    # How long a payment is left to its webhook before the sweeper asks RazorPay.
    payment_sweep_after_seconds: int = 300
    otp_ttl_seconds: int = 300
    session_ttl_seconds: int = 900  # customer sessions last 15 minutes
    # 0: no session SET (through RDS Proxy a SET pins the client to one backend for its
    # life); engine_app's role carries the timeouts instead (migration 0009).
    statement_timeout_ms: int = 0
    # After a failover the DR runbook raises the new Region's receipt counters to the last
    # sequence PostgreSQL holds plus this gap: room for receipts the old Region issued whose
    # rows had not reached PostgreSQL (the stream's and the replica's lag at the failure).
    receipt_counter_gap: int = 1000
    # The LMS poster, sweep and heartbeat (engine.settings LMS_*; engine.logic.lms_posting).
    # Each environment names its LMS base URL (https, no path: the contract's paths follow).
    lms_base_url: str
    # One call's timeout; an answer that does not come in time is an unknown outcome, asked
    # about (GET by reference) before the receipt is posted again.
    lms_timeout_seconds: int = 5
    # How long a poster's claim on an item lasts: longer than the call it covers, so a claim
    # runs out only when its poster died.
    lms_lease_seconds: int = 120
    # Attempts before an item waits for a person (EXCEPTION), retried base x 2^n up to the cap:
    # 24 attempts at 30 s doubling to an hour keep a receipt trying for about a day.
    lms_max_attempts: int = 24
    lms_backoff_base_seconds: int = 30
    lms_backoff_cap_seconds: int = 3600
    # The circuit breaker shared by every poster (its state in the Counters table): opens when
    # more than the ratio of at least min_volume calls in the window failed, for open_seconds.
    lms_breaker_min_volume: int = 5
    lms_breaker_failure_ratio: Decimal = Decimal("0.5")
    lms_breaker_window_seconds: int = 120
    lms_breaker_open_seconds: int = 60
    # Staff collections (engine.logic.collections). Cash from one payer of this much or
    # more in a day is refused (Income Tax Act s.269ST: Rs 2 lakh); a collection's
    # collected_at may be at most this many days old (an officer's app syncing late).
    cash_limit_per_payer_per_day: Decimal = Decimal("200000.00")
    collection_max_age_days: int = 7
    # The HRMS (engine.clients.hrms): the integration's base URL (https, the tenant's host
    # and the API's path, e.g. https://<tenant>.darwinbox.in/api/engine/v1; the contract's
    # paths follow) and one call's timeout; credentials in the HRMS secret
    # (stacks/engine/secrets.py).
    hrms_base_url: str
    hrms_timeout_seconds: int = 5
    # The audit anchors' S3 Object Lock default retention, COMPLIANCE mode (nobody, root
    # included, can shorten it or delete a locked version): staging and prod keep each
    # anchor version 8 years, the records' horizon (RBI record keeping for NBFCs, PMLA's
    # five years after the relationship ends); dev and qa 1 day, so a test account's bucket
    # can be emptied and removed the next day.
    audit_anchor_retention_days: int = 8 * 365
    # India's TRAI DLT rules: every SMS names the registered sender (header), principal
    # entity and content template. These are examples in the registered ids' shape; each
    # environment's real ids come from its DLT registration.
    sms_sender_id: str = "FIVSTR"
    sms_dlt_entity_id: str = "1101000000000000001"
    sms_otp_template_id: str = "1107000000000000001"
    reserved_concurrency: Mapping[str, int] = field(
        default_factory=lambda: dict(PRODUCTION_CONCURRENCY)
    )

    # S3 lifecycle: documents (receipts, mandate forms) are kept 8 years (RBI record
    # keeping for NBFCs), moved to cheaper storage as they age; old versions expire.
    document_transition_to_ia_days: int = 90
    document_transition_to_glacier_days: int = 365
    document_expiry_days: int = 8 * 365
    report_expiry_days: int = 2 * 365
    noncurrent_version_expiry_days: int = 90
    access_log_expiry_days: int = 365

    # DNS failover; None: no custom domain, no health-checked records.
    domain: DomainConfig | None = None

    @property
    def az_count(self) -> int:
        return len(self.network.availability_zones)

    @property
    def nat_gateways(self) -> int:
        return self.network.nat_gateways

    @property
    def runtime_regions(self) -> tuple[str, ...]:
        """Mumbai, and Singapore where DR is on: it becomes the active Region at failover."""
        return (self.region, self.dr_region) if self.dr_enabled else (self.region,)

    @property
    def portal_origin(self) -> str | None:
        """The one origin the portal API answers CORS for, if any."""
        if self.portal_cors_origins:
            return self.portal_cors_origins[0]
        if self.domain is not None:
            return f"https://{self.domain.fqdn(self.domain.site_host)}"
        return None

    def standby_regions(self) -> tuple[str, ...]:
        """Where functions are deployed but the active-Region-only ones stay switched off."""
        return tuple(r for r in self.runtime_regions if r != self.active_region)

    @property
    def dr_cdk_environment(self) -> cdk.Environment:
        return cdk.Environment(account=self.account, region=self.dr_region)

    def problems(self) -> list[str]:
        found: list[str | None] = [
            *super().problems(),
            *self.network.problems("network", self.region),
            *self.dr_network.problems("dr_network", self.dr_region),
            check_positive("backup_retention_days", self.backup_retention_days),
            check_positive("queue_max_receive_count", self.queue_max_receive_count),
            check_positive(
                "queue_visibility_timeout_seconds", self.queue_visibility_timeout_seconds
            ),
            check_positive("event_archive_retention_days", self.event_archive_retention_days),
            *self.database.problems(),
            check_positive("backup_copy_retention_days", self.backup_copy_retention_days),
            check_positive("api_throttle_rate_limit", self.api_throttle_rate_limit),
            check_positive("api_throttle_burst_limit", self.api_throttle_burst_limit),
            check_positive("portal_usage_plan_quota_per_day", self.portal_usage_plan_quota_per_day),
            *self._runtime_problems(),
        ]
        # WAF rate-based rules count at least 10 requests per window.
        rate_limits = {
            "portal_rate_limit_per_minute_per_ip": self.portal_rate_limit_per_minute_per_ip,
            "internal_rate_limit_per_minute_per_ip": self.internal_rate_limit_per_minute_per_ip,
        }
        found += [
            f"{name} must be at least 10 (the WAF minimum)"
            for name, limit in rate_limits.items()
            if limit < 10
        ]
        if not (
            self.document_transition_to_ia_days
            < self.document_transition_to_glacier_days
            < self.document_expiry_days
        ):
            found.append("document lifecycle must move to IA, then Glacier, then expire, in order")
        if self.document_transition_to_ia_days < 30:
            found.append("document_transition_to_ia_days must be at least 30 (the S3 minimum)")
        if self.dr_region == self.region:
            found.append(f"dr_region must differ from region ({self.region})")
        regions = (self.region, self.dr_region) if self.dr_enabled else (self.region,)
        if self.active_region not in regions:
            found.append(f"active_region must be one of {regions}, got {self.active_region!r}")
        if self.domain is not None and not self.dr_enabled:
            found.append("domain needs dr_enabled: its records fail over between both regions")
        if self.network.availability_zones != self.availability_zones[: self.az_count]:
            found.append("network.availability_zones must be the first zones of the region")
        if _overlap(self.network.vpc_cidr, self.dr_network.vpc_cidr):
            found.append("the primary and DR VPC CIDRs must not overlap (they may be peered)")
        if self.backup_retention_days > MAX_BACKUP_RETENTION_DAYS:
            found.append(
                f"backup_retention_days must be at most {MAX_BACKUP_RETENTION_DAYS}, "
                f"got {self.backup_retention_days}"
            )
        if not 1 <= self.dlq_retention_days <= 14:
            found.append("dlq_retention_days must be 1 to 14 (the SQS maximum)")
        retentions = {
            "portal_log_retention": self.portal_log_retention,
            "internal_log_retention": self.internal_log_retention,
            "scheduler_log_retention": self.scheduler_log_retention,
            "api_access_log_retention": self.api_access_log_retention,
            "flow_log_retention": self.flow_log_retention,
        }
        found += [
            f"{name} must be finite"
            for name, value in retentions.items()
            if value == logs.RetentionDays.INFINITE
        ]
        return [problem for problem in found if problem]

    def _runtime_problems(self) -> list[str]:
        found = [
            f"{name} must be positive"
            for name in (
                "razorpay_timeout_seconds",
                "order_expiry_minutes",
                "payment_sweep_after_seconds",
                "otp_ttl_seconds",
                "session_ttl_seconds",
            )
            if getattr(self, name) <= 0
        ]
        if self.receipt_counter_gap < 1:
            found.append("receipt_counter_gap must be at least 1")
        if self.statement_timeout_ms < 0:
            found.append("statement_timeout_ms must not be negative (0: the role's timeout)")
        if self.max_payment_amount < 1 or self.max_payment_amount != round(
            self.max_payment_amount, 2
        ):
            found.append("max_payment_amount must be at least 1 with at most 2 decimals")
        if len(self.portal_cors_origins) > 1:
            found.append(
                "portal_cors_origins: give one origin (gateway error responses name exactly one)"
            )
        found += [
            f"reserved_concurrency[{name!r}] must be at least 1"
            for name, count in self.reserved_concurrency.items()
            if count < 1
        ]
        if not self.razorpay_base_url.startswith("https://"):
            found.append("razorpay_base_url must be https://")
        return found + self._lms_problems() + self._staff_problems()

    def deploy_problems(self) -> list[str]:
        """What a deploy of this environment must refuse (synth and tests only warn)."""
        return [
            f"{field} is still the placeholder {url}"
            for field, url, _ in self._placeholders()
            if url == getattr(self, field)
        ]

    def how_to_set_placeholders(self) -> str:
        """What to set for each placeholder still held (the deploy refusal's last line)."""
        steps = [
            f"set {field} of {self.env_name} in config/engine.py to {what}"
            for field, url, what in self._placeholders()
            if url == getattr(self, field)
        ]
        return "; ".join(steps)

    def _placeholders(self) -> tuple[tuple[str, str, str], ...]:
        """(field, its placeholder, what the real value is) for each external system."""
        return (
            (
                "lms_base_url",
                lms_placeholder_url(self.env_name),
                "the LMS the lender names for it (https, no path)",
            ),
            (
                "hrms_base_url",
                hrms_placeholder_url(self.env_name),
                "the lender's DarwinBox integration URL for it (https, with its API path)",
            ),
        )

    def _staff_problems(self) -> list[str]:
        found = [f"hrms_base_url: {p}" for p in _api_url_problems(self.hrms_base_url)]
        found += [
            f"{name} must be at least 1"
            for name in (
                "hrms_timeout_seconds",
                "collection_max_age_days",
                "audit_anchor_retention_days",
            )
            if getattr(self, name) < 1
        ]
        limit = self.cash_limit_per_payer_per_day
        if limit < 1 or limit != round(limit, 2):
            found.append("cash_limit_per_payer_per_day must be at least 1 with at most 2 decimals")
        return found

    def _lms_problems(self) -> list[str]:
        url = check_https_url(self.lms_base_url)
        found = [f"lms_base_url: {url}"] if url else []
        found += [
            f"{name} must be positive"
            for name in (
                "lms_timeout_seconds",
                "lms_lease_seconds",
                "lms_max_attempts",
                "lms_backoff_base_seconds",
                "lms_breaker_min_volume",
                "lms_breaker_window_seconds",
                "lms_breaker_open_seconds",
            )
            if getattr(self, name) <= 0
        ]
        if self.lms_lease_seconds <= self.lms_timeout_seconds:
            found.append(
                f"lms_lease_seconds ({self.lms_lease_seconds}) must be longer than "
                f"lms_timeout_seconds ({self.lms_timeout_seconds}): a claim outlives its call"
            )
        if self.lms_backoff_cap_seconds < self.lms_backoff_base_seconds:
            found.append("lms_backoff_cap_seconds must be at least lms_backoff_base_seconds")
        if not 0 < self.lms_breaker_failure_ratio <= 1:
            found.append(
                f"lms_breaker_failure_ratio must be in (0, 1], got {self.lms_breaker_failure_ratio}"
            )
        return found


def _api_url_problems(value: str) -> list[str]:
    """An https API base URL: a host, a path allowed (no trailing slash), no query."""
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.hostname:
        return [f"{value!r} must be an https:// URL with a host"]
    if parsed.query or parsed.fragment or value.endswith("/"):
        return [f"{value!r} must end with its path (no query, fragment or trailing slash)"]
    return []


def _overlap(first: str, second: str) -> bool:
    try:
        return ipaddress.IPv4Network(first).overlaps(ipaddress.IPv4Network(second))
    except ValueError:
        return False  # reported by NetworkConfig.problems


# Customer messages (OTPs, receipts, mandate notices) leave through SNS SMS and SES e-mail,
# from the active Region. Dev and qa send to verified test numbers and addresses only, so
# the sandboxes suffice. The spend limits are ceilings to request (size them from SNS's
# current SMS price for India when asking): staging a test budget, prod room for year one's
# volume (50,000 operations a day, a receipt and an OTP each).
SANDBOX_MESSAGING = MessagingLimits(sms_monthly_spend_limit_usd=1, emails_per_day=200)
STAGING_MESSAGING = MessagingLimits(
    sms_production=True,
    sms_monthly_spend_limit_usd=100,
    email_production=True,
    emails_per_day=2_000,
)
PROD_MESSAGING = MessagingLimits(
    sms_production=True,
    sms_monthly_spend_limit_usd=10_000,
    email_production=True,
    emails_per_day=100_000,
)


def _network(az_count: int, nat_gateways: int) -> NetworkConfig:
    return NetworkConfig.seed(VPC_CIDR, AVAILABILITY_ZONES, az_count, nat_gateways)


def _dr_network(az_count: int, nat_gateways: int) -> NetworkConfig:
    return NetworkConfig.seed(DR_VPC_CIDR, DR_AVAILABILITY_ZONES, az_count, nat_gateways)


# Development: single AZ, minimal resources, synthetic data, no DR. "Single AZ" is what
# runs: one NAT gateway and a single-AZ database. The subnets still span two zones because
# RDS needs a DB subnet group in two zones and RDS Proxy two subnets, even for one instance.
DEV = EngineConfig(
    env_name="dev",
    lms_base_url=lms_placeholder_url("dev"),
    hrms_base_url=hrms_placeholder_url("dev"),
    messaging=SANDBOX_MESSAGING,
    cost=CostConfig(operations_per_day=200, monthly_budget_usd=Decimal(400), active_staff_users=20),
    event_archive_retention_days=7,
    account="444444444444",
    retain_data=False,
    deletion_protection=False,
    termination_protection=False,
    alarm_actions_enabled=False,
    dr_enabled=False,
    network=_network(az_count=2, nat_gateways=1),
    dr_network=_dr_network(az_count=2, nat_gateways=1),
    backup_retention_days=1,
    reserved_concurrency=SMALL_CONCURRENCY,
    audit_anchor_retention_days=1,
    database=DatabaseConfig(
        instance_type="t4g.medium",
        multi_az=False,
        allocated_storage_gb=20,
        max_allocated_storage_gb=50,
    ),
)

# QA: multi-AZ, production-like shape, masked data; no DR counterpart.
QA = EngineConfig(
    env_name="qa",
    lms_base_url=lms_placeholder_url("qa"),
    hrms_base_url=hrms_placeholder_url("qa"),
    messaging=SANDBOX_MESSAGING,
    cost=CostConfig(operations_per_day=500, monthly_budget_usd=Decimal(800), active_staff_users=30),
    event_archive_retention_days=30,
    account="555555555555",
    retain_data=True,
    deletion_protection=True,
    termination_protection=True,
    alarm_actions_enabled=True,
    dr_enabled=False,
    network=_network(az_count=2, nat_gateways=1),
    dr_network=_dr_network(az_count=2, nat_gateways=1),
    backup_retention_days=7,
    reserved_concurrency=SMALL_CONCURRENCY,
    audit_anchor_retention_days=1,
    database=DatabaseConfig(
        instance_type="r6g.large",
        multi_az=True,
        allocated_storage_gb=50,
        max_allocated_storage_gb=200,
    ),
)

# Staging: a production replica, DR included, one NAT gateway to save cost.
STAGING = EngineConfig(
    env_name="staging",
    lms_base_url=lms_placeholder_url("staging"),
    hrms_base_url=hrms_placeholder_url("staging"),
    messaging=STAGING_MESSAGING,
    cost=CostConfig(
        operations_per_day=1_000, monthly_budget_usd=Decimal(1_400), active_staff_users=30
    ),
    event_archive_retention_days=90,
    account="666666666666",
    retain_data=True,
    deletion_protection=True,
    termination_protection=True,
    alarm_actions_enabled=True,
    dr_enabled=True,
    network=_network(az_count=2, nat_gateways=1),
    dr_network=_dr_network(az_count=2, nat_gateways=1),
    backup_retention_days=14,
    database=DatabaseConfig(
        instance_type="r6g.large",
        multi_az=True,
        allocated_storage_gb=100,
        max_allocated_storage_gb=500,
    ),
)

# Production: one NAT gateway per zone (a zone's outage takes no egress with it).
# The Singapore standby keeps one NAT gateway until it is promoted.
PROD = EngineConfig(
    env_name="prod",
    lms_base_url=lms_placeholder_url("prod"),
    hrms_base_url=hrms_placeholder_url("prod"),
    messaging=PROD_MESSAGING,
    # 10,000 transactions a day now, 50,000 in year 1 (its ~400 staff are a
    # guess from the branch network: cashiers, managers, operations, finance).
    cost=CostConfig(
        operations_per_day=10_000,
        monthly_budget_usd=Decimal(4_000),
        active_staff_users=400,
        year_one_operations_per_day=50_000,
    ),
    event_archive_retention_days=365,
    account="777777777777",
    retain_data=True,
    deletion_protection=True,
    termination_protection=True,
    alarm_actions_enabled=True,
    dr_enabled=True,
    network=_network(az_count=2, nat_gateways=2),
    dr_network=_dr_network(az_count=2, nat_gateways=1),
    backup_retention_days=MAX_BACKUP_RETENTION_DAYS,
    database=DatabaseConfig(
        instance_type="r6g.xlarge",
        multi_az=True,
        allocated_storage_gb=200,
        max_allocated_storage_gb=1000,
        read_replicas=("reporting", "analytics"),
    ),
)

ENVIRONMENTS: dict[str, EngineConfig] = {cfg.env_name: cfg for cfg in (DEV, QA, STAGING, PROD)}
