"""The customer portal's static site at the edge: CloudFront, its bucket, and its WAF.

Two stacks, because a CloudFront-scope web ACL (and the log group it logs to) can
only exist in us-east-1:

* `EngineEdgeWafStack` (us-east-1, role "edge-waf"): the web ACL, its log group and
  a small KMS key for it (the engine's multi-Region keys replicate to Singapore,
  not to us-east-1).
* `EngineEdgeStack` (Mumbai, role "edge"): the site bucket, the CloudFront logs
  bucket, their access-log bucket, the distribution. It takes the web ACL's ARN
  (which holds a generated id, so it cannot be built from a name) through CDK's
  cross-Region references, hence `cross_region_references=True`.

Deploy order: edge-waf -> edge; where DR is enabled also dr-storage -> edge (the
site bucket replicates into the DR "site" bucket).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_kms as kms
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from cdk_constructs.edge_waf import CLOUDFRONT_WAF_REGION, CloudFrontWebAcl, CloudFrontWebAclProps
from cdk_constructs.keys import ManagedKey, ManagedKeyProps
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.static_site import (
    ContentSecurityPolicy,
    CustomDomain,
    StaticSite,
    StaticSiteProps,
)
from config.engine import EngineConfig
from stacks.engine.storage import (
    SITE,
    access_log_bucket,
    bucket_name,
    lifecycle,
    no_dr_reason,
    replication_target,
)

# The WAF stack holds no subnets; a zone list only satisfies ConfiguredStack (no lookup).
EDGE_WAF_AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b")
SITE_ACCESS_LOGS = "site-access-logs"
CLOUDFRONT_LOGS = "cloudfront-logs"


def portal_api_origins(cfg: EngineConfig) -> tuple[str, ...]:
    """Where the SPA may send requests (CSP connect-src): the portal API in either Region.

    With a domain, its one name (Route 53 fails it over); without, the execute-api
    names of both Regions, whose ids are not known to this stack.
    """
    if cfg.domain is not None:
        return (f"https://{cfg.domain.fqdn(cfg.domain.portal_api_host)}",)
    regions = (cfg.region, cfg.dr_region) if cfg.dr_enabled else (cfg.region,)
    return tuple(f"https://*.execute-api.{region}.amazonaws.com" for region in regions)


class EngineEdgeWafStack(ConfiguredStack):
    """us-east-1: the CloudFront-scope web ACL. `web_acl_arn` is for EngineEdgeStack.

    `logs_key_arn`: an existing us-east-1 key whose policy already lets CloudWatch
    Logs of us-east-1 use it; None (the default) creates a rotated key here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        logs_key_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("edge-waf"),
            description=f"Payments engine {cfg.env_name}: CloudFront web ACL (us-east-1)",
            env=cdk.Environment(account=cfg.account, region=CLOUDFRONT_WAF_REGION),
            availability_zones=EDGE_WAF_AVAILABILITY_ZONES,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.logs_key = self._logs_key(cfg, logs_key_arn)
        self.web_acl = CloudFrontWebAcl(
            self,
            "PortalSiteWebAcl",
            CloudFrontWebAclProps(
                name=cfg.resource_name("portal-site"),
                rate_limit_per_minute_per_ip=cfg.portal_rate_limit_per_minute_per_ip,
                log_encryption_key=self.logs_key,
                # Security events: kept as long as the internal service logs (90 days).
                log_retention=cfg.internal_log_retention,
                log_removal_policy=cfg.removal_policy,
            ),
        )
        self.web_acl_arn: str = self.web_acl.web_acl_arn
        cdk.CfnOutput(self, "WebAclArn", value=self.web_acl_arn)
        # CloudFront only takes certificates from us-east-1: the site's lives here.
        self.site_certificate: acm.Certificate | None = None
        if cfg.domain is not None:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self,
                "Zone",
                hosted_zone_id=cfg.domain.hosted_zone_id,
                zone_name=cfg.domain.zone_name,
            )
            self.site_certificate = acm.Certificate(
                self,
                "SiteCertificate",
                domain_name=cfg.domain.fqdn(cfg.domain.site_host),
                validation=acm.CertificateValidation.from_dns(zone),
            )
            cdk.CfnOutput(self, "SiteCertificateArn", value=self.site_certificate.certificate_arn)

    def _logs_key(self, cfg: EngineConfig, logs_key_arn: str | None) -> kms.IKey:
        if logs_key_arn is not None:
            return kms.Key.from_key_arn(self, "LogsKeyRef", logs_key_arn)
        key = ManagedKey(
            self,
            "LogsKey",
            ManagedKeyProps(
                alias=f"alias/{cfg.resource_name('edge-logs')}",
                description=f"Payments engine {cfg.env_name}: CloudFront WAF logs (us-east-1)",
                removal_policy=cfg.removal_policy,
            ),
        )
        key.allow_cloudwatch_logs()
        return key.key


class EngineEdgeStack(ConfiguredStack):
    """ap-south-1: the portal's static site behind CloudFront.

    `web_acl_arn` comes from EngineEdgeWafStack (a cross-Region token).
    `replica_key_arn` is the Singapore replica of the Data key, required where DR is
    enabled: the site bucket's replicas are encrypted with it. The site bucket itself
    uses a key of this stack (StaticSite's), not the Data key: CloudFront must be
    allowed to decrypt, and the Data key's policy belongs to the keys stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        web_acl_arn: str,
        replica_key_arn: str | None = None,
        site_certificate_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        if (cfg.domain is None) != (site_certificate_arn is None):
            raise ValueError(
                "a custom site domain needs both cfg.domain and the us-east-1 certificate "
                "(EngineEdgeWafStack.site_certificate)"
            )
        if cfg.dr_enabled and replica_key_arn is None:
            raise ValueError("replica_key_arn is required where dr_enabled (site replication)")
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("edge"),
            description=f"Payments engine {cfg.env_name}: customer portal site on CloudFront",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            cross_region_references=True,
            **kwargs,
        )
        access_logs = access_log_bucket(self, cfg, cfg.region, SITE_ACCESS_LOGS).bucket
        self.site = StaticSite(
            self,
            "PortalSite",
            StaticSiteProps(
                site_bucket_name=bucket_name(cfg, SITE, cfg.region),
                log_bucket_name=bucket_name(cfg, CLOUDFRONT_LOGS, cfg.region),
                key_alias=f"alias/{cfg.resource_name('site')}",
                access_log_bucket=access_logs,
                web_acl_arn=web_acl_arn,
                content_security_policy=ContentSecurityPolicy(
                    connect_origins=portal_api_origins(cfg)
                ),
                site_lifecycle=lifecycle(cfg, SITE),
                log_expiry_days=cfg.access_log_expiry_days,
                removal_policy=cfg.removal_policy,
                replication=replication_target(cfg, SITE, replica_key_arn),
                no_replication_reason=None if cfg.dr_enabled else no_dr_reason(cfg),
                comment=f"Payments engine {cfg.env_name} customer portal",
                custom_domain=self._custom_domain(cfg, site_certificate_arn),
            ),
        )
        self.distribution = self.site.distribution
        self._alias_record(cfg)
        self.site_bucket = self.site.site_bucket
        cdk.CfnOutput(self, "DistributionId", value=self.distribution.distribution_id)
        cdk.CfnOutput(self, "DistributionDomainName", value=self.distribution.domain_name)
        cdk.CfnOutput(self, "SiteBucketName", value=self.site_bucket.bucket_name)

    def _custom_domain(self, cfg: EngineConfig, certificate_arn: str | None) -> CustomDomain | None:
        if cfg.domain is None or certificate_arn is None:
            return None
        return CustomDomain(
            domain_names=[cfg.domain.fqdn(cfg.domain.site_host)],
            certificate=acm.Certificate.from_certificate_arn(
                self, "SiteCertificateRef", certificate_arn
            ),
        )

    def _alias_record(self, cfg: EngineConfig) -> None:
        """`portal.<zone>` -> the distribution (CloudFront is global: no failover needed)."""
        if cfg.domain is None:
            return
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=cfg.domain.hosted_zone_id, zone_name=cfg.domain.zone_name
        )
        route53.ARecord(
            self,
            "SiteAlias",
            zone=zone,
            record_name=cfg.domain.fqdn(cfg.domain.site_host),
            target=route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution)),
        )
