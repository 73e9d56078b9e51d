"""The DR failover runbook: an SSM Automation document that promotes the DR Region's
cross-Region read replica, moves DNS to the DR Region and makes the promoted instance
Multi-AZ (seed §12.4).

Started by an operator on purpose (seed: "cross-region replica promotion
(manual)"), never by an alarm: promotion is one-way and splits the database from
the primary for good. So no `aws:approve` step; instead the `Confirm` parameter
must equal the environment name. Its `allowedPattern` makes SSM refuse any other
value before the execution starts, and the first step checks it again, so an
edited document cannot lose the guard silently.

DNS moves by throwing the failover switch (cdk_constructs/failover_dns.py): the runbook
publishes one datapoint to the switch's metric, in its own Region, and Route 53 stops
answering with the primary whatever the primary's own health checks say. No Route 53 call
and nothing in the primary Region is needed.

The document runs as a role created here that can promote and modify that one replica,
publish to the switch's namespace and to the named topic, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.failover_dns import SWITCH_THROWN, SwitchMetric

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
    # The failover switch the DNS records read (None: no failover DNS to move).
    traffic_switch: SwitchMetric | None = None
    # Turn Multi-AZ on for the promoted instance (the standby replica runs in one zone).
    multi_az: bool = True
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
        if props.traffic_switch is not None:
            nag.acknowledge(
                self.policy,
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:PutMetricData supports no resource-level permissions; the "
                "statement is limited by the cloudwatch:namespace condition to the failover "
                "switch's own namespace.",
            )

    def _statements(self, props: FailoverRunbookProps) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                sid="PromoteTheReplica",
                actions=["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
                resources=[self.replica_arn],
            )
        ]
        if props.multi_az:
            statements.append(
                iam.PolicyStatement(
                    sid="MakeThePromotedInstanceMultiAz",
                    actions=["rds:ModifyDBInstance"],
                    resources=[self.replica_arn],
                )
            )
        if props.traffic_switch is not None:
            # PutMetricData has no resource-level permissions; the namespace condition
            # limits the role to the switch's own namespace.
            statements.append(
                iam.PolicyStatement(
                    sid="ThrowTheTrafficSwitch",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"cloudwatch:namespace": props.traffic_switch.namespace}
                    },
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
    ]
    if props.traffic_switch is not None:
        steps.append(_throw_switch(props.traffic_switch))
    if props.multi_az:
        steps.append(_make_multi_az(props))
    if props.notification_topic_arn is not None:
        steps.append(_notify(props))
    steps[-1]["isEnd"] = True
    steps.append(_refuse(props))
    actions = [f"promote the read replica {props.replica_identifier} to a standalone primary"]
    if props.traffic_switch is not None:
        actions.append("move DNS to this Region (throw the failover switch)")
    if props.multi_az:
        actions.append("turn Multi-AZ on for it")
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


def _throw_switch(switch: SwitchMetric) -> dict[str, Any]:
    """One datapoint: the switch's alarm goes to ALARM and stays there (missing data keeps
    its state), so Route 53 answers every failover name with this Region."""
    return {
        "name": "MoveTrafficToThisRegion",
        "action": "aws:executeAwsApi",
        "inputs": {
            "Service": "cloudwatch",
            "Api": "PutMetricData",
            "Namespace": switch.namespace,
            "MetricData": [
                {"MetricName": switch.metric_name, "Value": SWITCH_THROWN, "Unit": "Count"}
            ],
        },
    }


def _make_multi_az(props: FailoverRunbookProps) -> dict[str, Any]:
    """The standby ran in one zone; the new primary must survive a zone (it keeps serving
    while RDS adds the standby, so this comes after traffic has moved)."""
    return {
        "name": "MakeMultiAz",
        "action": "aws:executeAwsApi",
        "inputs": {
            "Service": "rds",
            "Api": "ModifyDBInstance",
            "DBInstanceIdentifier": props.replica_identifier,
            "MultiAZ": True,
            "ApplyImmediately": True,
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
                + (" (Multi-AZ conversion under way)" if props.multi_az else "")
                + (
                    " and threw the failover switch: DNS now answers with the DR Region."
                    if props.traffic_switch is not None
                    else ". Move traffic to the DR Region by hand."
                )
                + " Next: set active_region to this Region in config and run make deploy-dr."
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
    if (props.notification_key_arn is not None) and props.notification_topic_arn is None:
        raise ValueError("notification_key_arn without notification_topic_arn")
