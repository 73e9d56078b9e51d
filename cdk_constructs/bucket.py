"""S3 buckets that are always private, versioned, TLS-only and logged.

`SecureBucket` holds data: SSE-KMS with a customer-managed key and a bucket key,
every public-access block on, TLS 1.2+ only, ACLs disabled (BUCKET_OWNER_ENFORCED),
server access logs to an `AccessLogBucket`, lifecycle rules from props, and either
cross-Region replication or the stated reason there is none. None of that is a prop
except what differs between buckets (name, key, lifecycle, replication target).

`AccessLogBucket` is the server-access-log target. S3 server access logging can
only deliver to a bucket with SSE-S3 default encryption (SSE-KMS targets are not
supported), so it is the one bucket without a customer-managed key; its cdk-nag
acknowledgments live here, on that bucket alone (none is needed for its own access
logging: cdk-nag counts a bucket that others log into as logged). Delivery is
granted through the bucket policy (principal `logging.s3.amazonaws.com`), never
through the `LogDeliveryWrite` ACL, so ACLs stay disabled on it too.

Replication uses its own role with a customer-managed policy (PCI DSS
IAMNoInlinePolicy: no inline or default policies) listing exact actions on the
two buckets and the two keys.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.removal import stateful

# CDK grants server-access-log delivery through the target's bucket policy only
# under this feature flag (otherwise it sets the LogDeliveryWrite ACL, which needs
# ACLs enabled). It is set on the AccessLogBucket's own scope: the flag is read from
# the target bucket's context, so nothing outside this construct changes.
_LOGS_USE_BUCKET_POLICY_FLAG = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
_BUCKET_NAME_MAX = 63
# S3 refuses a transition to STANDARD_IA (and GLACIER after it) before 30 days.
_MIN_IA_DAYS = 30
_ABORT_MULTIPART_DAYS = 7
_MIN_TLS_VERSION = 1.2

_REPLICATION_SOURCE_BUCKET_ACTIONS = ("s3:GetReplicationConfiguration", "s3:ListBucket")
_REPLICATION_SOURCE_OBJECT_ACTIONS = (
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
)
_REPLICATION_DESTINATION_OBJECT_ACTIONS = (
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
    "s3:ReplicateTags",
)


@dataclass(frozen=True)
class BucketLifecycle:
    """Days after which current objects move to STANDARD_IA, then GLACIER, then expire.

    Each step is optional; the ones given must come in that order. Old versions
    (overwritten or deleted objects) expire `noncurrent_version_expiry_days` after
    they stop being current.
    """

    noncurrent_version_expiry_days: int
    transition_to_ia_days: int | None = None
    transition_to_glacier_days: int | None = None
    expiry_days: int | None = None

    def problems(self) -> list[str]:
        found: list[str] = []
        if self.noncurrent_version_expiry_days < 1:
            found.append("noncurrent_version_expiry_days must be at least 1")
        if self.transition_to_ia_days is not None and self.transition_to_ia_days < _MIN_IA_DAYS:
            found.append(
                f"transition_to_ia_days must be at least {_MIN_IA_DAYS} (the S3 minimum), "
                f"got {self.transition_to_ia_days}"
            )
        steps = [
            (name, days)
            for name, days in (
                ("transition_to_ia_days", self.transition_to_ia_days),
                ("transition_to_glacier_days", self.transition_to_glacier_days),
                ("expiry_days", self.expiry_days),
            )
            if days is not None
        ]
        found += [f"{name} must be at least 1, got {days}" for name, days in steps if days < 1]
        for (earlier, earlier_days), (later, later_days) in itertools.pairwise(steps):
            if later_days <= earlier_days:
                found.append(
                    f"{later} ({later_days}) must be later than {earlier} ({earlier_days}): "
                    "objects move to IA, then Glacier, then expire"
                )
        return found

    def rule(self) -> s3.LifecycleRule:
        transitions = [
            s3.Transition(storage_class=storage_class, transition_after=cdk.Duration.days(days))
            for storage_class, days in (
                (s3.StorageClass.INFREQUENT_ACCESS, self.transition_to_ia_days),
                (s3.StorageClass.GLACIER, self.transition_to_glacier_days),
            )
            if days is not None
        ]
        return s3.LifecycleRule(
            id="Retention",
            enabled=True,
            transitions=transitions or None,
            expiration=cdk.Duration.days(self.expiry_days) if self.expiry_days else None,
            noncurrent_version_expiration=cdk.Duration.days(self.noncurrent_version_expiry_days),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(_ABORT_MULTIPART_DAYS),
        )


@dataclass(frozen=True)
class ReplicationTarget:
    """The destination of cross-Region replication, by fixed name (no cross-Region token).

    `kms_key_arn` is the destination Region's key (the multi-Region replica of the
    source key) that S3 re-encrypts replicas with. Same account as the source.
    """

    bucket_name: str
    region: str
    kms_key_arn: str


@dataclass(frozen=True)
class AccessLogBucketProps:
    bucket_name: str
    expiry_days: int
    removal_policy: cdk.RemovalPolicy
    noncurrent_version_expiry_days: int = 30


class AccessLogBucket(Construct):
    """The target of S3 server access logs (and nothing else)."""

    def __init__(self, scope: Construct, construct_id: str, props: AccessLogBucketProps) -> None:
        super().__init__(scope, construct_id)
        check_bucket_name(props.bucket_name)
        lifecycle = BucketLifecycle(
            noncurrent_version_expiry_days=props.noncurrent_version_expiry_days,
            expiry_days=props.expiry_days,
        )
        _raise_on(lifecycle.problems(), props.bucket_name)
        # Before any child exists: set_context refuses once children are added.
        self.node.set_context(_LOGS_USE_BUCKET_POLICY_FLAG, True)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=props.bucket_name,
            # SSE-S3: the only default encryption S3 server access logging delivers to.
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=_MIN_TLS_VERSION,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[lifecycle.rule()],
            removal_policy=stateful(props.removal_policy),
        )
        self._acknowledge()

    def _acknowledge(self) -> None:
        kms_reason = (
            "S3 server access logging delivers only to buckets whose default encryption is "
            "SSE-S3 (SSE-KMS targets are not supported), so this log-target bucket alone is "
            "encrypted with S3-managed AES-256 instead of a customer-managed key; it holds "
            "request metadata, never objects (encryption at rest: PCI DSS 3.4, NIST SC-28)."
        )
        replication_reason = (
            "Server access logs describe requests to buckets in this Region and are kept here "
            "for the audit window; the data they describe is what replicates to the DR Region "
            "(availability: PCI DSS 12.10.1, NIST CP-9/CP-10)."
        )
        for rule, reason in (
            ("PCI.DSS.321-S3DefaultEncryptionKMS", kms_reason),
            ("NIST.800.53.R5-S3DefaultEncryptionKMS", kms_reason),
            ("PCI.DSS.321-S3BucketReplicationEnabled", replication_reason),
            ("NIST.800.53.R5-S3BucketReplicationEnabled", replication_reason),
        ):
            nag.acknowledge(self.bucket, rule, reason)


@dataclass(frozen=True)
class SecureBucketProps:
    """A data bucket. Exactly one of `replication` and `no_replication_reason` is given:
    a bucket either replicates to the DR Region or says why it does not."""

    bucket_name: str
    encryption_key: kms.IKey
    access_log_bucket: s3.IBucket
    removal_policy: cdk.RemovalPolicy
    lifecycle: BucketLifecycle
    replication: ReplicationTarget | None = None
    no_replication_reason: str | None = None
    # Server access logs land under this prefix of the access-log bucket.
    access_log_prefix: str | None = None

    def problems(self) -> list[str]:
        found = [f"lifecycle: {problem}" for problem in self.lifecycle.problems()]
        if (self.replication is None) == (self.no_replication_reason is None):
            found.append(
                "give exactly one of replication (a DR target) and no_replication_reason "
                "(why this bucket has no DR copy)"
            )
        if self.no_replication_reason is not None and len(self.no_replication_reason) < 40:
            found.append("no_replication_reason must explain itself (40 characters or more)")
        if self.replication is not None and self.replication.bucket_name == self.bucket_name:
            found.append("a bucket cannot replicate to itself")
        return found


class SecureBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: SecureBucketProps) -> None:
        super().__init__(scope, construct_id)
        check_bucket_name(props.bucket_name)
        if props.replication is not None:
            check_bucket_name(props.replication.bucket_name)
        _raise_on(props.problems(), props.bucket_name)
        self.props = props
        self.replication_role: iam.Role | None = None
        self.replication_policy: iam.ManagedPolicy | None = None
        replication_rules = None
        if props.replication is not None:
            self.replication_role = self._replication_role(props.replication)
            replication_rules = [self._replication_rule(props.replication)]
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=props.encryption_key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=_MIN_TLS_VERSION,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=props.access_log_bucket,
            server_access_logs_prefix=props.access_log_prefix or f"{props.bucket_name}/",
            lifecycle_rules=[props.lifecycle.rule()],
            replication_role=self.replication_role,
            replication_rules=replication_rules,
            removal_policy=stateful(props.removal_policy),
        )
        if self.replication_policy is not None:
            # Replicating before the role may read and write would fail the first objects.
            self.bucket.node.add_dependency(self.replication_policy)
        if props.no_replication_reason is not None:
            for rule in (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "NIST.800.53.R5-S3BucketReplicationEnabled",
            ):
                nag.acknowledge(self.bucket, rule, props.no_replication_reason)

    @property
    def bucket_arn(self) -> str:
        """The ARN from the fixed name: usable before the bucket exists, no token."""
        return _bucket_arn(self, self.props.bucket_name)

    def _replication_rule(self, target: ReplicationTarget) -> s3.ReplicationRule:
        account = cdk.Stack.of(self).account
        destination = s3.Bucket.from_bucket_attributes(
            self,
            "ReplicaBucket",
            bucket_name=target.bucket_name,
            region=target.region,
            account=account,
        )
        return s3.ReplicationRule(
            id="ToDrRegion",
            destination=destination,
            kms_key=kms.Key.from_key_arn(self, "ReplicaKey", target.kms_key_arn),
            # Objects are SSE-KMS: without this S3 skips them instead of re-encrypting.
            sse_kms_encrypted_objects=True,
            delete_marker_replication=True,
        )

    def _replication_role(self, target: ReplicationTarget) -> iam.Role:
        """Least privilege, written out: CDK's own grant would add a default (inline) policy."""
        stack = cdk.Stack.of(self)
        source_arn = _bucket_arn(self, self.props.bucket_name)
        destination_arn = _bucket_arn(self, target.bucket_name)
        role = iam.Role(
            self,
            "ReplicationRole",
            description=f"S3 replication of {self.props.bucket_name} to {target.region}",
            assumed_by=iam.ServicePrincipal(
                "s3.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            ),
        )
        policy = self.replication_policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            description=f"Replicate {self.props.bucket_name} to {target.bucket_name}",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadSourceConfiguration",
                    actions=list(_REPLICATION_SOURCE_BUCKET_ACTIONS),
                    resources=[source_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadSourceObjectVersions",
                    actions=list(_REPLICATION_SOURCE_OBJECT_ACTIONS),
                    resources=[f"{source_arn}/*"],
                ),
                iam.PolicyStatement(
                    sid="WriteReplicas",
                    actions=list(_REPLICATION_DESTINATION_OBJECT_ACTIONS),
                    resources=[f"{destination_arn}/*"],
                ),
                _key_statement(
                    "DecryptSource",
                    "kms:Decrypt",
                    self.props.encryption_key.key_arn,
                    stack.region,
                    source_arn,
                ),
                _key_statement(
                    "EncryptReplicas",
                    "kms:Encrypt",
                    target.kms_key_arn,
                    target.region,
                    destination_arn,
                ),
            ],
        )
        reason = (
            "S3 replication reads every object version of the source bucket and writes "
            "replicas anywhere in the destination bucket, so the object resources are "
            "<bucket-arn>/*; the buckets, actions and keys are exact (least privilege: "
            "PCI DSS 7.1.2, NIST AC-6)."
        )
        nag.acknowledge(policy, f"AwsSolutions-IAM5[Resource::{source_arn}/*]", reason)
        nag.acknowledge(policy, f"AwsSolutions-IAM5[Resource::{destination_arn}/*]", reason)
        return role


def _key_statement(
    sid: str, action: str, key_arn: str, region: str, bucket_arn: str
) -> iam.PolicyStatement:
    """One KMS action, only through S3 in `region`, only for objects of `bucket_arn`.

    With S3 bucket keys the encryption context is the bucket ARN; without, the
    object ARN: both are allowed.
    """
    return iam.PolicyStatement(
        sid=sid,
        actions=[action],
        resources=[key_arn],
        conditions={
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
        },
    )


def _bucket_arn(scope: Construct, bucket_name: str) -> str:
    return f"arn:{cdk.Stack.of(scope).partition}:s3:::{bucket_name}"


def check_bucket_name(name: str) -> None:
    if cdk.Token.is_unresolved(name):
        raise ValueError("bucket names must be fixed strings (the DR Region names them)")
    if not 3 <= len(name) <= _BUCKET_NAME_MAX:
        raise ValueError(f"bucket name {name!r} must be 3 to {_BUCKET_NAME_MAX} characters")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-.")
    if not set(name) <= allowed or not (name[0].isalnum() and name[-1].isalnum()):
        raise ValueError(
            f"bucket name {name!r} must be lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )


def _raise_on(problems: list[str], bucket_name: str) -> None:
    if problems:
        raise ValueError(f"bucket {bucket_name}: " + "; ".join(problems))
