"""The engine's S3 data: documents, reports and audit anchors in Mumbai, their replicas in
Singapore.

Documents are receipts and mandate forms (kept 8 years, moved to IA then Glacier
as they age); reports are generated extracts (kept 2 years); audit anchors are the heads
of the audit trail's hash chains (engine.clients.anchors), kept outside the Audit table
so that deleting its newest records is detected too: that bucket has S3 Object Lock, every
version locked in COMPLIANCE mode for `audit_anchor_retention_days`. All are SSE-KMS under
the Data key and, where DR is enabled, replicate to same-named buckets in the DR
Region under the Singapore replica of that key (the anchors' replica locked alike: S3
replicates each version with its retention).

Bucket names are fixed (`bucket_name`): the replication rule names its destination
without a cross-Region token, and the DR stack creates exactly that bucket.
Deploy order: dr-keys -> dr-storage -> storage (S3 checks that the destination
bucket exists and is versioned when replication is configured).

Stateful: termination protection and the removal policy come from config, and the
construct ids never change (a new id is a new, empty bucket).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.bucket import (
    AccessLogBucket,
    AccessLogBucketProps,
    BucketLifecycle,
    ReplicationTarget,
    SecureBucket,
    SecureBucketProps,
)
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig

ACCESS_LOGS = "access-logs"
AUDIT_ANCHORS = "audit-anchors"
# Purpose -> construct id. The purpose is part of the bucket name.
DATA_BUCKETS = {"documents": "Documents", "reports": "Reports", AUDIT_ANCHORS: "AuditAnchors"}
# What S3 replication reads of a source object under Object Lock, beside what SecureBucket's
# replication role already may (the version, its ACL and tags): its retention and legal hold,
# which the replica keeps.
_LOCK_REPLICATION_ACTIONS = ("s3:GetObjectRetention", "s3:GetObjectLegalHold")
# The portal's static site: its primary bucket lives in the edge stack (beside the
# CloudFront distribution and the key CloudFront decrypts with); its DR copy here.
SITE = "site"
DR_BUCKETS = DATA_BUCKETS | {SITE: "Site"}


def bucket_name(cfg: EngineConfig, purpose: str, region: str) -> str:
    """Globally unique and fixed, so either Region can name the other's bucket."""
    return f"{cfg.resource_name(purpose)}-{cfg.account}-{region}"


def lifecycle(cfg: EngineConfig, purpose: str) -> BucketLifecycle:
    """The same retention in both Regions: a replica outlives nothing its source does not."""
    if purpose == "documents":
        return BucketLifecycle(
            transition_to_ia_days=cfg.document_transition_to_ia_days,
            transition_to_glacier_days=cfg.document_transition_to_glacier_days,
            expiry_days=cfg.document_expiry_days,
            noncurrent_version_expiry_days=cfg.noncurrent_version_expiry_days,
        )
    if purpose == "reports":
        return BucketLifecycle(
            expiry_days=cfg.report_expiry_days,
            noncurrent_version_expiry_days=cfg.noncurrent_version_expiry_days,
        )
    if purpose == AUDIT_ANCHORS:
        # Each append overwrites its chain's anchor: the chain's history is the noncurrent
        # versions, each locked for the retention. They expire once unlocked (a version turns
        # noncurrent no earlier than it was written, so this never reaches a locked one); the
        # current anchors stay, as the Audit table's records do.
        return BucketLifecycle(noncurrent_version_expiry_days=cfg.audit_anchor_retention_days)
    if purpose == SITE:
        # Site assets live until the next release replaces them; old versions go.
        return BucketLifecycle(noncurrent_version_expiry_days=cfg.noncurrent_version_expiry_days)
    raise ValueError(f"no lifecycle for bucket purpose {purpose!r}")


def no_dr_reason(cfg: EngineConfig) -> str:
    return (
        f"The {cfg.env_name} environment has no DR Region (config dr_enabled is false), so "
        "there is no replica bucket to replicate to; staging and prod replicate every data "
        "bucket to Singapore (availability: PCI DSS 12.10.1, NIST CP-9/CP-10)."
    )


def dr_replica_reason(cfg: EngineConfig) -> str:
    return (
        f"This bucket is the {cfg.dr_region} replication destination of its Mumbai "
        "namesake; replicating the replica onwards would add a third copy with no failover "
        "target (availability: PCI DSS 12.10.1, NIST CP-9/CP-10)."
    )


def access_log_bucket(
    stack: cdk.Stack, cfg: EngineConfig, region: str, purpose: str = ACCESS_LOGS
) -> AccessLogBucket:
    """The server-access-log target of a stack's buckets (SSE-S3: see AccessLogBucket)."""
    return AccessLogBucket(
        stack,
        "AccessLogs",
        AccessLogBucketProps(
            bucket_name=bucket_name(cfg, purpose, region),
            expiry_days=cfg.access_log_expiry_days,
            noncurrent_version_expiry_days=cfg.noncurrent_version_expiry_days,
            removal_policy=cfg.removal_policy,
        ),
    )


class EngineStorageStack(ConfiguredStack):
    """ap-south-1 (role "storage"): access logs, documents and reports."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        data_key_arn: str,
        replica_key_arn: str | None,
        **kwargs: Any,
    ) -> None:
        if cfg.dr_enabled and replica_key_arn is None:
            raise ValueError(
                "replica_key_arn (the DR Region's replica of the Data key) is required where "
                "dr_enabled: replicas are re-encrypted with it"
            )
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("storage"),
            description=f"Payments engine {cfg.env_name}: document, report and audit anchor "
            "buckets",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        # Imported by ARN so that no L2 here writes key-policy statements back into
        # the keys stack (S3 uses the key through the caller's IAM permissions).
        data_key = kms.Key.from_key_arn(self, "DataKeyRef", data_key_arn)
        self.access_logs = access_log_bucket(self, cfg, cfg.region).bucket
        self.secure_buckets = _secure_buckets(
            self,
            cfg,
            region=cfg.region,
            key=data_key,
            access_logs=self.access_logs,
            purposes=DATA_BUCKETS,
            replica_key_arn=replica_key_arn,
        )
        self.buckets = {purpose: sb.bucket for purpose, sb in self.secure_buckets.items()}
        _outputs(self, self.buckets)


class EngineDrStorageStack(ConfiguredStack):
    """ap-southeast-1 (role "dr-storage"): the replication destinations.

    `data_key_arn` is the Singapore replica of the Data key. Deploys before the
    primary storage and edge stacks, which replicate into these buckets.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        data_key_arn: str,
        **kwargs: Any,
    ) -> None:
        if not cfg.dr_enabled:
            raise ValueError(f"{cfg.env_name} has dr_enabled false: it has no DR storage stack")
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-storage"),
            description=(
                f"Payments engine {cfg.env_name}: replica buckets in the DR Region "
                f"({cfg.dr_region})"
            ),
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        data_key = kms.Key.from_key_arn(self, "DataKeyRef", data_key_arn)
        self.access_logs = access_log_bucket(self, cfg, cfg.dr_region).bucket
        self.secure_buckets = _secure_buckets(
            self,
            cfg,
            region=cfg.dr_region,
            key=data_key,
            access_logs=self.access_logs,
            purposes=DR_BUCKETS,
            replica_key_arn=None,
        )
        self.buckets = {purpose: sb.bucket for purpose, sb in self.secure_buckets.items()}
        _outputs(self, self.buckets)


def replication_target(
    cfg: EngineConfig, purpose: str, replica_key_arn: str | None
) -> ReplicationTarget | None:
    """The DR namesake of a primary bucket, where DR is enabled."""
    if not cfg.dr_enabled:
        return None
    if replica_key_arn is None:
        raise ValueError("replica_key_arn is required where dr_enabled")
    return ReplicationTarget(
        bucket_name=bucket_name(cfg, purpose, cfg.dr_region),
        region=cfg.dr_region,
        kms_key_arn=replica_key_arn,
    )


def _secure_buckets(
    stack: cdk.Stack,
    cfg: EngineConfig,
    *,
    region: str,
    key: kms.IKey,
    access_logs: s3.IBucket,
    purposes: dict[str, str],
    replica_key_arn: str | None,
) -> dict[str, SecureBucket]:
    """purpose -> bucket in `region`: the primary's replicate to the DR region (where DR is
    on); the DR region's are the replicas and replicate nowhere."""
    primary = region == cfg.region
    buckets = {
        purpose: SecureBucket(
            stack,
            construct_id,
            SecureBucketProps(
                bucket_name=bucket_name(cfg, purpose, region),
                encryption_key=key,
                access_log_bucket=access_logs,
                removal_policy=cfg.removal_policy,
                lifecycle=lifecycle(cfg, purpose),
                access_log_prefix=f"{purpose}/",
                replication=replication_target(cfg, purpose, replica_key_arn) if primary else None,
                no_replication_reason=_no_replication_reason(cfg, primary),
            ),
        )
        for purpose, construct_id in purposes.items()
    }
    if AUDIT_ANCHORS in buckets:
        lock_versions(buckets[AUDIT_ANCHORS], cfg.audit_anchor_retention_days)
    return buckets


def lock_versions(secure: SecureBucket, retention_days: int) -> None:
    """S3 Object Lock on the bucket, every new version locked in COMPLIANCE mode (nobody,
    the account's root included, can delete it or shorten its lock before it runs out).

    Object Lock can only be enabled when a bucket is created: set on the CfnBucket here (the
    SecureBucket construct has no prop for it), so the bucket is created with it. A first
    create that fails and rolls back leaves nothing behind: Object Lock protects object
    versions, not an empty bucket, and nothing writes an anchor until the function stacks,
    which deploy after this one, exist; so RetainExceptOnCreate deletes the empty bucket and
    the retry reuses its fixed name. Once anchors exist, the removal policy from config
    applies as to the other buckets: kept on update and delete where data is kept; where it
    is DESTROY (dev), deleting the stack fails on a bucket holding versions still locked
    (a day there), until they have run out and are deleted.
    """
    bucket = secure.bucket.node.default_child
    assert isinstance(bucket, s3.CfnBucket)
    bucket.object_lock_enabled = True
    bucket.object_lock_configuration = s3.CfnBucket.ObjectLockConfigurationProperty(
        object_lock_enabled="Enabled",
        rule=s3.CfnBucket.ObjectLockRuleProperty(
            default_retention=s3.CfnBucket.DefaultRetentionProperty(
                mode="COMPLIANCE", days=retention_days
            )
        ),
    )
    if secure.replication_policy is not None:
        partition = cdk.Stack.of(secure).partition
        secure.replication_policy.add_statements(
            iam.PolicyStatement(
                sid="ReadSourceObjectLocks",
                actions=list(_LOCK_REPLICATION_ACTIONS),
                resources=[f"arn:{partition}:s3:::{secure.props.bucket_name}/*"],
            )
        )


def _no_replication_reason(cfg: EngineConfig, primary: bool) -> str | None:
    if not primary:
        return dr_replica_reason(cfg)
    return None if cfg.dr_enabled else no_dr_reason(cfg)


def _outputs(stack: cdk.Stack, buckets: dict[str, s3.Bucket]) -> None:
    for purpose, bucket in buckets.items():
        label = "".join(part.title() for part in purpose.split("-"))
        cdk.CfnOutput(stack, f"{label}BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(stack, f"{label}BucketArn", value=bucket.bucket_arn)
