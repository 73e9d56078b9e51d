"""The DR failover runbook: an SSM Automation document that promotes the DR Region's
cross-Region read replica and moves DNS to the DR Region (seed §12.4).

Started by an operator on purpose (seed: "cross-region replica promotion
(manual)"), never by an alarm: promotion is one-way and splits the database from
the primary for good. So no `aws:approve` step; instead the `Confirm` parameter
must equal the environment name. Its `allowedPattern` makes SSM refuse any other
value before the execution starts, and the first step checks it again, so an
edited document cannot lose the guard silently.

The document runs as a role created here that can promote that one replica,
invert the named health checks and publish to the named topic, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

# RDS keeps answering "available" for a moment after PromoteReadReplica; waiting
# this long first stops the wait step from seeing the pre-promotion status.
PROMOTION_START_DELAY = "PT2M"
# Promotion of a large instance can take a while; the RTO for the database is 4 h.
PROMOTION_TIMEOUT_SECONDS = 3600

_DB_IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
_DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{3,128}$")


@dataclass(frozen=True)
class FailoverRunbookProps:
    document_name: str
    # The value operators type to confirm (the environment name, e.g. "prod").
    confirm_value: str
    # The cross-Region read replica in this stack's Region.
    replica_identifier: str
    # The promoted instance's automated-backup retention.
    backup_retention_days: int
    # Route 53 health checks of the primary Region, inverted to force failover.
    primary_health_check_ids: Sequence[str] = field(default_factory=tuple)
    notification_topic_arn: str | None = None
    # The CMK of an encrypted topic (publishing needs GenerateDataKey and Decrypt).
    notification_key_arn: str | None = None


class FailoverRunbook(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: FailoverRunbookProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        stack = cdk.Stack.of(self)
        self.replica_arn = (
            f"arn:aws:rds:{stack.region}:{stack.account}:db:{props.replica_identifier}"
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "ssm.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:aws:ssm:*:{stack.account}:automation-execution/*"
                    },
                },
            ),
            description=f"Runs the DR failover runbook {props.document_name}",
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy", roles=[self.role], statements=self._statements(props)
        )
        self.document = ssm.CfnDocument(
            self,
            "Document",
            name=props.document_name,
            document_type="Automation",
            document_format="JSON",
            # A new version under the same name: operators' commands keep working.
            update_method="NewVersion",
            content=runbook_content(props, self.role.role_arn),
        )
        self.document.node.add_dependency(self.policy)
        self.document_name = props.document_name

    def _statements(self, props: FailoverRunbookProps) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="PromoteTheReplica",
                actions=["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
                resources=[self.replica_arn],
            )
        ]
        if props.primary_health_check_ids:
            statements.append(
                iam.PolicyStatement(
                    sid="InvertPrimaryHealthChecks",
                    actions=["route53:UpdateHealthCheck"],
                    resources=[
                        f"arn:aws:route53:::healthcheck/{health_check_id}"
                        for health_check_id in props.primary_health_check_ids
                    ],
                )
            )
        if props.notification_topic_arn is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="Notify",
                    actions=["sns:Publish"],
                    resources=[props.notification_topic_arn],
                )
            )
        if props.notification_key_arn is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="EncryptForTheTopic",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[props.notification_key_arn],
                )
            )
        return statements


def runbook_content(props: FailoverRunbookProps, role_arn: str) -> dict[str, Any]:
    """The Automation document (schema 0.3) as a dict; CloudFormation stores it as JSON."""
    steps = [
        _check_confirmation(props),
        _assert_replica_available(props),
        _promote(props),
        {
            "name": "LetPromotionStart",
            "action": "aws:sleep",
            "inputs": {"Duration": PROMOTION_START_DELAY},
        },
        _wait_until_available(props),
        *(
            _invert_health_check(index, health_check_id)
            for index, health_check_id in enumerate(props.primary_health_check_ids, start=1)
        ),
    ]
    if props.notification_topic_arn is not None:
        steps.append(_notify(props))
    steps[-1]["isEnd"] = True
    steps.append(_refuse(props))
    actions = [f"promote the read replica {props.replica_identifier} to a standalone primary"]
    if props.primary_health_check_ids:
        actions.append("invert the primary Region's health checks")
    if props.notification_topic_arn is not None:
        actions.append("notify operations")
    return {
        "schemaVersion": "0.3",
        "description": (
            f"DR failover for {props.confirm_value}: {', '.join(actions)}. One-way: fail "
            "back by rebuilding a replica in the primary Region."
        ),
        "assumeRole": role_arn,
        "parameters": {
            "Confirm": {
                "type": "String",
                "description": f"Type {props.confirm_value} to confirm the failover",
                "allowedPattern": f"^{re.escape(props.confirm_value)}$",
            }
        },
        "mainSteps": steps,
    }


def _describe(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "Service": "rds",
        "Api": "DescribeDBInstances",
        "DBInstanceIdentifier": props.replica_identifier,
        "PropertySelector": "$.DBInstances[0].DBInstanceStatus",
        "DesiredValues": ["available"],
    }


def _check_confirmation(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "name": "CheckConfirmation",
        "action": "aws:branch",
        "inputs": {
            "Choices": [
                {
                    "NextStep": "AssertReplicaAvailable",
                    "Variable": "{{ Confirm }}",
                    "StringEquals": props.confirm_value,
                }
            ],
            "Default": "RefuseWithoutConfirmation",
        },
    }


def _assert_replica_available(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "name": "AssertReplicaAvailable",
        "action": "aws:assertAwsResourceProperty",
        "timeoutSeconds": 60,
        "inputs": _describe(props),
    }


def _promote(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "name": "PromoteReplica",
        "action": "aws:executeAwsApi",
        "inputs": {
            "Service": "rds",
            "Api": "PromoteReadReplica",
            "DBInstanceIdentifier": props.replica_identifier,
            "BackupRetentionPeriod": props.backup_retention_days,
        },
    }


def _wait_until_available(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "name": "WaitForPromotedInstance",
        "action": "aws:waitForAwsResourceProperty",
        "timeoutSeconds": PROMOTION_TIMEOUT_SECONDS,
        "inputs": _describe(props),
    }


def _invert_health_check(index: int, health_check_id: str) -> dict[str, Any]:
    return {
        "name": f"InvertPrimaryHealthCheck{index}",
        "action": "aws:executeAwsApi",
        "inputs": {
            "Service": "route53",
            "Api": "UpdateHealthCheck",
            "HealthCheckId": health_check_id,
            "Inverted": True,
        },
    }


def _notify(props: FailoverRunbookProps) -> dict[str, Any]:
    return {
        "name": "NotifyOperations",
        "action": "aws:executeAwsApi",
        "inputs": {
            "Service": "sns",
            "Api": "Publish",
            "TopicArn": props.notification_topic_arn,
            "Subject": f"DR failover of {props.confirm_value} complete",
            "Message": (
                f"Automation {{{{ automation:EXECUTION_ID }}}} promoted "
                f"{props.replica_identifier} to primary"
                + (
                    " and inverted the primary Region's health checks: DNS now answers "
                    "with the DR Region."
                    if props.primary_health_check_ids
                    else ". Move traffic to the DR Region by hand."
                )
            ),
        },
    }


def _refuse(props: FailoverRunbookProps) -> dict[str, Any]:
    """Reached only if `Confirm` got past `allowedPattern`: fail, change nothing."""
    return {
        "name": "RefuseWithoutConfirmation",
        "action": "aws:executeScript",
        "isEnd": True,
        "inputs": {
            "Runtime": "python3.11",
            "Handler": "refuse",
            "Script": (
                "def refuse(events, context):\n"
                f"    raise ValueError('Confirm must be {props.confirm_value}; "
                "nothing was changed')\n"
            ),
        },
    }


def _check(props: FailoverRunbookProps) -> None:
    if not _DB_IDENTIFIER.match(props.replica_identifier):
        raise ValueError(
            f"replica_identifier {props.replica_identifier!r} is not an RDS instance identifier"
        )
    if not _DOCUMENT_NAME.match(props.document_name) or props.document_name.lower().startswith(
        ("aws", "amazon")
    ):
        raise ValueError(f"document_name {props.document_name!r} is not a valid SSM document name")
    if not re.fullmatch(r"[a-z0-9-]+", props.confirm_value):
        raise ValueError("confirm_value must be lower-case letters, digits or '-'")
    if not 1 <= props.backup_retention_days <= 35:
        raise ValueError("backup_retention_days must be 1 to 35 (the RDS limits)")
    if len(set(props.primary_health_check_ids)) != len(props.primary_health_check_ids):
        raise ValueError("primary_health_check_ids must be distinct")
    if (props.notification_key_arn is not None) and props.notification_topic_arn is None:
        raise ValueError("notification_key_arn without notification_topic_arn")
