"""A CloudFront-scope WAFv2 web ACL: AWS managed rules, a per-IP per-minute limit, logs.

CloudFront-scope web ACLs (and their logging destinations) exist only in
us-east-1, so this construct refuses any other Region; a stack in us-east-1 owns
it and hands the ARN to the distribution's stack. The rules match the regional
ACL's (`cdk_constructs.waf`), whose helpers are reused; only the rate rule differs:
it counts per minute (EvaluationWindowSec 60), the unit the portal's limit is
stated in (seed §4.3.2: "100 requests/minute per IP").

Logs go to a CMK-encrypted log group in us-east-1 named `aws-waf-logs-...` (WAF
requires the prefix), with the Authorization header redacted.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps
from cdk_constructs.waf import (
    _MANAGED_RULE_GROUPS,
    _managed_rule,
    _visibility,
    enable_logging,
)

CLOUDFRONT_WAF_REGION = "us-east-1"
# WAF rate-based rules: the smallest limit, and the windows it can count over.
_MIN_RATE_LIMIT = 10
_PER_MINUTE_WINDOW_SECONDS = 60
_RATE_RULE_NAME = "RateLimitPerIpPerMinute"


@dataclass(frozen=True)
class CloudFrontWebAclProps:
    name: str
    rate_limit_per_minute_per_ip: int
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy


class CloudFrontWebAcl(Construct):
    """`web_acl_arn` goes into a CloudFront distribution's `web_acl_id`."""

    def __init__(self, scope: Construct, construct_id: str, props: CloudFrontWebAclProps) -> None:
        super().__init__(scope, construct_id)
        region = cdk.Stack.of(self).region
        if cdk.Token.is_unresolved(region) or region != CLOUDFRONT_WAF_REGION:
            raise ValueError(
                f"a CloudFront web ACL must be created in {CLOUDFRONT_WAF_REGION}, "
                f"not in {region!r}"
            )
        if props.rate_limit_per_minute_per_ip < _MIN_RATE_LIMIT:
            raise ValueError(
                f"WAF rate-based rules need a limit of at least {_MIN_RATE_LIMIT} per window, "
                f"got {props.rate_limit_per_minute_per_ip}"
            )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=props.name,
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(props.name),
            rules=[
                *(
                    _managed_rule(group, priority)
                    for priority, group in enumerate(_MANAGED_RULE_GROUPS)
                ),
                _per_minute_rate_rule(
                    props.rate_limit_per_minute_per_ip, len(_MANAGED_RULE_GROUPS)
                ),
            ],
        )
        self.web_acl_arn: str = self.web_acl.attr_arn
        self.log_group = EncryptedLogGroup(
            self,
            "Logs",
            EncryptedLogGroupProps(
                log_group_name=f"aws-waf-logs-{props.name}",
                encryption_key=props.log_encryption_key,
                retention=props.log_retention,
                removal_policy=props.log_removal_policy,
            ),
        ).log_group
        self._enable_logging()

    def _enable_logging(self) -> None:
        enable_logging(self, self.web_acl, self.log_group)


def _per_minute_rate_rule(limit: int, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=_RATE_RULE_NAME,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                aggregate_key_type="IP",
                evaluation_window_sec=_PER_MINUTE_WINDOW_SECONDS,
            )
        ),
        visibility_config=_visibility(_RATE_RULE_NAME),
    )
