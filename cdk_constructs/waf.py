"""A regional WAFv2 web ACL with AWS managed rules, a per-IP rate limit and logging.

The rate limit counts requests per IP over a 5-minute window (WAF's default) or a
1-minute one, whichever the caller's requirement is stated in: a limit written
"per minute" is enforced over 60 seconds, not rescaled to 5 minutes, where one
burst could otherwise use five minutes' allowance at once.

The rate rule can leave exact paths alone (a provider's webhook: the provider sends every
customer's events from a few addresses, and a webhook refused for a day is switched off):
those requests are still inspected by the managed rules, and their handler authenticates
each one by its signature. Matching is on the exact path bytes, so a variant (another case,
a suffix) is rate-limited like any other request.

Logs go to a CMK-encrypted log group (WAF requires the `aws-waf-logs-` prefix),
with the Authorization header redacted: it carries Cognito tokens and Monoova's
webhook credential.
"""

from __future__ import annotations

from collections.abc import Sequence
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
# The AWS managed rule groups a caller may add to the base three (each costs WCUs:
# the base three, SQLi and the rate rule come to about 1,130 of a web ACL's 1,500).
_OPTIONAL_MANAGED_RULE_GROUPS = ("AWSManagedRulesSQLiRuleSet",)
_REDACTED_HEADERS = ("authorization",)
_FIVE_MINUTES, _ONE_MINUTE = 300, 60
_MIN_RATE_LIMIT = 10


@dataclass(frozen=True)
class RegionalWebAclProps:
    name: str
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy
    # Exactly one: requests per IP per 5 minutes, or per minute (a 60-second window).
    rate_limit_per_5min_per_ip: int | None = None
    rate_limit_per_minute_per_ip: int | None = None
    # Managed rule groups added after the base three, e.g. AWSManagedRulesSQLiRuleSet.
    extra_managed_rule_groups: Sequence[str] = ()
    # Exact URI paths the per-IP rate rule does not count.
    rate_limit_exempt_paths: Sequence[str] = ()

    def rate_limit(self) -> tuple[int, int]:
        """(limit, evaluation window in seconds), checked."""
        per_5min, per_minute = self.rate_limit_per_5min_per_ip, self.rate_limit_per_minute_per_ip
        if (per_5min is None) == (per_minute is None):
            raise ValueError(
                f"{self.name}: give exactly one of rate_limit_per_5min_per_ip and "
                "rate_limit_per_minute_per_ip"
            )
        limit, window = (
            (per_5min, _FIVE_MINUTES) if per_5min is not None else (per_minute, _ONE_MINUTE)
        )
        assert limit is not None
        if limit < _MIN_RATE_LIMIT:
            unit = "5 minutes" if window == _FIVE_MINUTES else "minute"
            raise ValueError(f"WAF rate-based rules need a limit of at least 10 per {unit}")
        return limit, window

    def managed_rule_groups(self) -> tuple[str, ...]:
        unknown = [
            g for g in self.extra_managed_rule_groups if g not in _OPTIONAL_MANAGED_RULE_GROUPS
        ]
        if unknown:
            raise ValueError(
                f"{self.name}: unknown managed rule groups {unknown}; "
                f"known: {list(_OPTIONAL_MANAGED_RULE_GROUPS)}"
            )
        groups = (*_MANAGED_RULE_GROUPS, *self.extra_managed_rule_groups)
        if len(set(groups)) != len(groups):
            raise ValueError(f"{self.name}: managed rule groups listed twice in {list(groups)}")
        return groups


class RegionalWebAcl(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: RegionalWebAclProps) -> None:
        super().__init__(scope, construct_id)
        limit, window = props.rate_limit()
        groups = props.managed_rule_groups()
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=props.name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(props.name),
            rules=[
                *(_managed_rule(group, priority) for priority, group in enumerate(groups)),
                _rate_rule(limit, window, len(groups), props.rate_limit_exempt_paths),
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
        enable_logging(self, self.web_acl, self.log_group)


def enable_logging(
    scope: Construct, web_acl: wafv2.CfnWebACL, log_group: logs.ILogGroup
) -> wafv2.CfnLoggingConfiguration:
    """Every request to `log_group`, the Authorization header redacted."""
    # WAF wants the log group ARN without the ":*" suffix that GetAtt Arn returns.
    log_group_arn = cdk.Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=log_group.log_group_name,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    return wafv2.CfnLoggingConfiguration(
        scope,
        "Logging",
        resource_arn=web_acl.attr_arn,
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


def _rate_rule(
    limit: int, window_seconds: int, priority: int, exempt_paths: Sequence[str] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name="RateLimitPerIp",
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                aggregate_key_type="IP",
                evaluation_window_sec=window_seconds,
                scope_down_statement=_not_these_paths(exempt_paths),
            )
        ),
        visibility_config=_visibility("RateLimitPerIp"),
    )


def _not_these_paths(paths: Sequence[str]) -> wafv2.CfnWebACL.StatementProperty | None:
    """Only requests to none of `paths` count towards the rate (None: every request)."""
    if not paths:
        return None
    matches = [_path_is(path) for path in dict.fromkeys(paths)]
    any_path = (
        matches[0]
        if len(matches) == 1
        else wafv2.CfnWebACL.StatementProperty(
            or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=matches)
        )
    )
    return wafv2.CfnWebACL.StatementProperty(
        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=any_path)
    )


def _path_is(path: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="EXACTLY",
            search_string=path,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )
