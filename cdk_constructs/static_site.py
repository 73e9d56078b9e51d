"""A single-page app served from a private S3 bucket through CloudFront.

* The bucket is a `SecureBucket` under a key of this construct (`site_key`): CloudFront
  reads it through origin access control (SigV4, no OAI), and the key policy lets
  `cloudfront.amazonaws.com` decrypt only for this distribution (aws:SourceArn).
* The origin names the bucket by its fixed regional domain name rather than by a
  reference. The key policy and the bucket policy must name the distribution, and
  the bucket is encrypted with the key; a reference from the distribution back to
  the bucket would close that loop into a dependency cycle (which is why CDK's
  default falls back to `distribution/*` in the key policy). Here both policies
  name the one distribution.
* Viewers are redirected to HTTPS; every response carries HSTS (2 years, subdomains,
  preload), nosniff, DENY framing, a strict referrer policy and a CSP; 403/404 from
  S3 become /index.html with 200 so client-side routes resolve.
* A web ACL (CloudFront scope, created in us-east-1) is required.
* Standard (legacy) logs need ACLs on the target bucket, which every other bucket
  here disables; they get their own bucket (`CloudFrontLogBucket`) with
  BUCKET_OWNER_PREFERRED, SSE-KMS under a second key of this construct (CloudFront's
  log delivery may generate data keys for that bucket only; one key for both
  buckets would make key -> distribution -> log bucket -> key a cycle) and server
  access logs of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.bucket import (
    BucketLifecycle,
    ReplicationTarget,
    SecureBucket,
    SecureBucketProps,
    check_bucket_name,
)
from cdk_constructs.keys import ManagedKey, ManagedKeyProps
from cdk_constructs.removal import stateful

_HSTS_MAX_AGE = cdk.Duration.days(2 * 365)
_INDEX = "index.html"
# S3 answers 403 for a missing key when the reader may not list the bucket.
_SPA_FALLBACK_STATUSES = (403, 404)
_SPA_FALLBACK_TTL = cdk.Duration.seconds(10)
# Only what the SPA needs; payment (Razorpay checkout) or analytics origins are added
# through ContentSecurityPolicy's fields, never by loosening the defaults.
_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), usb=()"
_REMOVED_HEADERS = ("Server",)


@dataclass(frozen=True)
class ContentSecurityPolicy:
    """Same-origin everything, plus the origins given; no inline script, no framing."""

    connect_origins: Sequence[str] = ()
    script_origins: Sequence[str] = ()
    frame_origins: Sequence[str] = ()
    img_origins: Sequence[str] = ()

    def render(self) -> str:
        for origin in (
            *self.connect_origins,
            *self.script_origins,
            *self.frame_origins,
            *self.img_origins,
        ):
            if not origin.startswith("https://") or any(c in origin for c in " ;,'\""):
                raise ValueError(f"CSP origin {origin!r} must be one https:// origin")
        directives = [
            ("default-src", ["'none'"]),
            ("script-src", ["'self'", *self.script_origins]),
            ("style-src", ["'self'"]),
            ("img-src", ["'self'", "data:", *self.img_origins]),
            ("font-src", ["'self'"]),
            ("connect-src", ["'self'", *self.connect_origins]),
            ("manifest-src", ["'self'"]),
            ("frame-src", list(self.frame_origins) or ["'none'"]),
            ("frame-ancestors", ["'none'"]),
            ("base-uri", ["'self'"]),
            ("form-action", ["'self'"]),
            ("object-src", ["'none'"]),
        ]
        rendered = [f"{name} {' '.join(dict.fromkeys(values))}" for name, values in directives]
        return "; ".join([*rendered, "upgrade-insecure-requests"])


@dataclass(frozen=True)
class CustomDomain:
    """An alternate domain name and its ACM certificate (which must be in us-east-1)."""

    domain_names: Sequence[str]
    certificate: acm.ICertificate


@dataclass(frozen=True)
class StaticSiteProps:
    site_bucket_name: str
    log_bucket_name: str
    key_alias: str
    access_log_bucket: s3.IBucket
    web_acl_arn: str
    content_security_policy: ContentSecurityPolicy
    site_lifecycle: BucketLifecycle
    log_expiry_days: int
    removal_policy: cdk.RemovalPolicy
    replication: ReplicationTarget | None = None
    no_replication_reason: str | None = None
    # None: CloudFront's default *.cloudfront.net certificate (no minimum TLS policy).
    custom_domain: CustomDomain | None = None
    comment: str = "static site"


class StaticSite(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: StaticSiteProps) -> None:
        super().__init__(scope, construct_id)
        if not props.web_acl_arn:
            raise ValueError("a static site needs a CloudFront-scope web ACL ARN")
        check_bucket_name(props.site_bucket_name)
        check_bucket_name(props.log_bucket_name)
        csp = props.content_security_policy.render()
        stack = cdk.Stack.of(self)
        self.site_key = ManagedKey(
            self,
            "Key",
            ManagedKeyProps(
                alias=props.key_alias,
                description=f"{props.comment}: site objects (CloudFront decrypts them)",
                removal_policy=props.removal_policy,
            ),
        ).key
        # A second key: the site key's policy names the distribution, and the
        # distribution names the log bucket, so one key for both would be a cycle.
        self.logs_key = ManagedKey(
            self,
            "LogsKey",
            ManagedKeyProps(
                alias=f"{props.key_alias}-cloudfront-logs",
                description=f"{props.comment}: CloudFront standard logs",
                removal_policy=props.removal_policy,
            ),
        ).key
        self.site_bucket = SecureBucket(
            self,
            "Site",
            SecureBucketProps(
                bucket_name=props.site_bucket_name,
                encryption_key=self.site_key,
                access_log_bucket=props.access_log_bucket,
                removal_policy=props.removal_policy,
                lifecycle=props.site_lifecycle,
                access_log_prefix="site/",
                replication=props.replication,
                no_replication_reason=props.no_replication_reason,
            ),
        ).bucket
        self.log_bucket = CloudFrontLogBucket(
            self,
            "CloudFrontLogs",
            CloudFrontLogBucketProps(
                bucket_name=props.log_bucket_name,
                encryption_key=self.logs_key,
                access_log_bucket=props.access_log_bucket,
                expiry_days=props.log_expiry_days,
                noncurrent_version_expiry_days=(
                    props.site_lifecycle.noncurrent_version_expiry_days
                ),
                removal_policy=props.removal_policy,
            ),
        ).bucket
        self.headers_policy = self._headers_policy(csp, props.comment)
        self.distribution = self._distribution(props, stack)
        self.distribution_arn = stack.format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        self._let_cloudfront_read()
        self._let_log_delivery_encrypt(props.log_bucket_name)

    def _headers_policy(self, csp: str, comment: str) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"{comment}: security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=_HSTS_MAX_AGE,
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=csp, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy", value=_PERMISSIONS_POLICY, override=True
                    )
                ]
            ),
            remove_headers=list(_REMOVED_HEADERS),
        )

    def _distribution(self, props: StaticSiteProps, stack: cdk.Stack) -> cloudfront.Distribution:
        # By name, not by reference: see the module docstring (no dependency cycle).
        origin_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "SiteOriginRef",
            bucket_name=props.site_bucket_name,
            region=stack.region,
            account=stack.account,
        )
        access_control = cloudfront.S3OriginAccessControl(
            self,
            "OriginAccessControl",
            description=f"{props.comment}: SigV4-signed reads of {props.site_bucket_name}",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(
            origin_bucket,
            origin_access_control=access_control,
            origin_access_levels=[cloudfront.AccessLevel.READ],
        )
        # The origin cannot write to an imported bucket's policy (and warns so);
        # `_let_cloudfront_read` writes the same statement on the real bucket.
        cdk.Annotations.of(self).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "the site bucket's policy is written by StaticSite._let_cloudfront_read",
        )
        domain = props.custom_domain
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=props.comment,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                compress=True,
            ),
            default_root_object=_INDEX,
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status,
                    response_http_status=200,
                    response_page_path=f"/{_INDEX}",
                    ttl=_SPA_FALLBACK_TTL,
                )
                for status in _SPA_FALLBACK_STATUSES
            ],
            # PriceClass_200 includes the edge locations in India (PriceClass_100 does not).
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            web_acl_id=props.web_acl_arn,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            # Cookies can carry session tokens: never in logs.
            log_includes_cookies=False,
            domain_names=list(domain.domain_names) if domain else None,
            certificate=domain.certificate if domain else None,
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if domain else None
            ),
        )
        if domain is None:
            nag.acknowledge(
                distribution,
                "AwsSolutions-CFR4",
                "No custom domain is configured, so the distribution uses CloudFront's default "
                "*.cloudfront.net certificate, for which CloudFront does not let the minimum "
                "viewer TLS version be set; with a custom domain the construct sets "
                "TLSv1.2_2021 (PCI DSS 4.1, NIST SC-8).",
            )
        nag.acknowledge(
            distribution,
            "AwsSolutions-CFR1",
            "No geo restriction on purpose: customers pay their loans from anywhere, including "
            "non-resident Indians travelling or living abroad; abuse is limited by the WAF's "
            "managed rules, IP reputation list and per-IP rate limit instead.",
        )
        return distribution

    def _let_cloudfront_read(self) -> None:
        """This distribution, and only it, may read objects and decrypt them."""
        only_this_distribution = {"StringEquals": {"aws:SourceArn": self.distribution_arn}}
        cloudfront_principal = iam.ServicePrincipal("cloudfront.amazonaws.com")
        self.site_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudFrontOriginAccessControlRead",
                principals=[cloudfront_principal],
                actions=["s3:GetObject"],
                resources=[self.site_bucket.arn_for_objects("*")],
                conditions=only_this_distribution,
            )
        )
        self.site_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudFrontOriginAccessControlDecrypt",
                principals=[cloudfront_principal],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions=only_this_distribution,
            )
        )

    def _let_log_delivery_encrypt(self, log_bucket_name: str) -> None:
        """CloudFront's standard-log delivery writes SSE-KMS objects to the log bucket only."""
        stack = cdk.Stack.of(self)
        log_bucket_arn = f"arn:{stack.partition}:s3:::{log_bucket_name}"
        self.logs_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudFrontStandardLogDelivery",
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [log_bucket_arn, f"{log_bucket_arn}/*"]
                    },
                },
            )
        )


@dataclass(frozen=True)
class CloudFrontLogBucketProps:
    bucket_name: str
    encryption_key: kms.IKey
    access_log_bucket: s3.IBucket
    expiry_days: int
    removal_policy: cdk.RemovalPolicy
    noncurrent_version_expiry_days: int = 30


class CloudFrontLogBucket(Construct):
    """The target of CloudFront standard logs: the one bucket with ACLs enabled.

    CloudFront's legacy log delivery grants itself access through the bucket ACL,
    so ObjectOwnership is BUCKET_OWNER_PREFERRED (the account still owns every
    object written with bucket-owner-full-control). Everything else is as strict
    as a SecureBucket: SSE-KMS, versioned, public access blocked, TLS 1.2+ only.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: CloudFrontLogBucketProps
    ) -> None:
        super().__init__(scope, construct_id)
        check_bucket_name(props.bucket_name)
        lifecycle = BucketLifecycle(
            expiry_days=props.expiry_days,
            noncurrent_version_expiry_days=props.noncurrent_version_expiry_days,
        )
        problems = lifecycle.problems()
        if problems:
            raise ValueError(f"bucket {props.bucket_name}: " + "; ".join(problems))
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
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            server_access_logs_bucket=props.access_log_bucket,
            server_access_logs_prefix="cloudfront-logs/",
            lifecycle_rules=[lifecycle.rule()],
            removal_policy=stateful(props.removal_policy),
        )
        reason = (
            "CloudFront request logs are kept in the Region they are delivered to for the "
            "audit window; the site content they describe replicates to the DR Region "
            "(availability: PCI DSS 12.10.1, NIST CP-9/CP-10)."
        )
        for rule in (
            "PCI.DSS.321-S3BucketReplicationEnabled",
            "NIST.800.53.R5-S3BucketReplicationEnabled",
        ):
            nag.acknowledge(self.bucket, rule, reason)
