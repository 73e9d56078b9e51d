"""A regional WAFv2 web ACL with AWS managed rules, a per-IP rate limit and logging.

Logs go to a CMK-encrypted log group (WAF requires the `aws-waf-logs-` prefix),
with the Authorization header redacted: it carries Cognito tokens and Monoova's
webhook credential.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps

_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
_REDACTED_HEADERS = ("authorization",)


@dataclass(frozen=True)
class RegionalWebAclProps:
    name: str
    rate_limit_per_5min_per_ip: int
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy


class RegionalWebAcl(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: RegionalWebAclProps) -> None:
        super().__init__(scope, construct_id)
        if props.rate_limit_per_5min_per_ip < 10:
            raise ValueError("WAF rate-based rules need a limit of at least 10 per 5 minutes")
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=props.name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(props.name),
            rules=[
                *(
                    _managed_rule(group, priority)
                    for priority, group in enumerate(_MANAGED_RULE_GROUPS)
                ),
                _rate_rule(props.rate_limit_per_5min_per_ip, len(_MANAGED_RULE_GROUPS)),
            ],
        )
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

    def associate(self, construct_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        return wafv2.CfnWebACLAssociation(
            self, construct_id, resource_arn=resource_arn, web_acl_arn=self.web_acl.attr_arn
        )

    def _enable_logging(self) -> None:
        # WAF wants the log group ARN without the ":*" suffix that GetAtt Arn returns.
        log_group_arn = cdk.Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                for name in _REDACTED_HEADERS
            ],
        )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )


def _managed_rule(group: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=group,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group
            )
        ),
        visibility_config=_visibility(group),
    )


def _rate_rule(limit: int, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name="RateLimitPerIp",
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit, aggregate_key_type="IP", evaluation_window_sec=300
            )
        ),
        visibility_config=_visibility("RateLimitPerIp"),
    )
