"""The DR failover runbook: an SSM Automation document that promotes the DR Region's
cross-Region read replica, carries the regional receipt counters over, switches on the jobs
and consumers that run only in the active Region, moves DNS to the DR Region and makes the
promoted instance Multi-AZ.

Started by an operator on purpose (the platform's rule: cross-Region replica promotion
is manual), never by an alarm: promotion is one-way and splits the database from
the primary for good. So no `aws:approve` step; instead the `Confirm` parameter
must equal the environment name. Its `allowedPattern` makes SSM refuse any other
value before the execution starts, and the first step checks it again, so an
edited document cannot lose the guard silently.

DNS moves by throwing the failover switch (cdk_constructs/failover_dns.py): the runbook
publishes one datapoint to the switch's metric, in its own Region, and Route 53 stops
answering with the primary whatever the primary's own health checks say. No Route 53 call
and nothing in the primary Region is needed.

Regional state does not replicate. Before anything can capture a payment here, the runbook
invokes the function that raises this Region's receipt counters above every receipt the
promoted database holds (`aws:invokeLambdaFunction`, synchronous); a check step then requires
the function's answer to say it carried them over, so an error, a timeout or any other answer
stops the runbook there: no job is enabled and no traffic moves.

The standby's jobs and consumers are deployed switched off (their schedules disabled, their
stream mappings disabled); once the promoted database takes writes, the runbook enables each
named rule (EnableRule) and each named function's event source mapping (found with
ListEventSourceMappings, enabled with UpdateEventSourceMapping).

The document runs as a role created here that can promote and modify that one replica,
invoke that one function, enable those rules and those functions' mappings, publish to the
switch's namespace and to the named topic, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
# An aws:invokeLambdaFunction step waits at most 300 seconds; the function is idempotent, so
# a failed invocation (a throttle, a cold VPC start timing out) is tried again.
CARRY_OVER_TIMEOUT_SECONDS = 300
CARRY_OVER_ATTEMPTS = 3
# What the carry-over function answers when it has raised every counter it had to.
CARRY_OVER_OUTCOME = "carried-over"

_DB_IDENTIFIER = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
_DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_.\-]{3,128}$")
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


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
    # EventBridge rules (by name, in this Region) the failover switches on.
    rules_to_enable: Sequence[str] = ()
    # Functions (by name) whose one event source mapping the failover switches on.
    mappings_to_enable: Sequence[str] = ()
    # The function (by name, in this Region) that carries the receipt counters over, invoked
    # once the promoted instance is available and before any job or traffic moves.
    receipt_counters_function: str | None = None


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
        self._acknowledge(props, stack)

    def _acknowledge(self, props: FailoverRunbookProps, stack: cdk.Stack) -> None:
        star = []
        if props.traffic_switch is not None:
            star.append(
                "cloudwatch:PutMetricData supports no resource-level permissions; the "
                "statement is limited by the cloudwatch:namespace condition to the failover "
                "switch's own namespace."
            )
        if props.mappings_to_enable:
            star.append(
                "lambda:ListEventSourceMappings supports no resource-level permissions; it "
                "only lists mappings (their ids), and enabling one is allowed for the named "
                "functions only."
            )
            nag.acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{_mapping_arns(stack)}]",
                "An event source mapping's ARN ends in an id Lambda assigns when it creates "
                "the mapping; the statement is limited by the lambda:FunctionArn condition to "
                "the mappings of the named functions.",
            )
        if star:
            nag.acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", " ".join(star))

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
        if props.receipt_counters_function is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="CarryTheReceiptCountersOver",
                    actions=["lambda:InvokeFunction"],
                    resources=[_function_arn(cdk.Stack.of(self), props.receipt_counters_function)],
                )
            )
        statements += self._job_statements(props)
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

    def _job_statements(self, props: FailoverRunbookProps) -> list[iam.PolicyStatement]:
        stack = cdk.Stack.of(self)
        statements = []
        if props.rules_to_enable:
            statements.append(
                iam.PolicyStatement(
                    sid="EnableTheStandbysSchedules",
                    actions=["events:EnableRule"],
                    resources=[
                        f"arn:aws:events:{stack.region}:{stack.account}:rule/{name}"
                        for name in props.rules_to_enable
                    ],
                )
            )
        if props.mappings_to_enable:
            functions = [_function_arn(stack, name) for name in props.mappings_to_enable]
            statements += [
                iam.PolicyStatement(
                    sid="FindTheStandbysMappings",
                    actions=["lambda:ListEventSourceMappings"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="EnableTheStandbysMappings",
                    actions=["lambda:UpdateEventSourceMapping"],
                    resources=[_mapping_arns(stack)],
                    conditions={"StringEquals": {"lambda:FunctionArn": functions}},
                ),
            ]
        return statements


def _mapping_arns(stack: cdk.Stack) -> str:
    return f"arn:aws:lambda:{stack.region}:{stack.account}:event-source-mapping:*"


def _function_arn(stack: cdk.Stack, name: str) -> str:
    return f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}"


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
        *(_carry_over(props.receipt_counters_function) if props.receipt_counters_function else ()),
        *(_enable_rule(name) for name in props.rules_to_enable),
        *(step for name in props.mappings_to_enable for step in _enable_mapping(name)),
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
    if props.receipt_counters_function:
        actions.append("carry the receipt counters over (stop if that fails)")
    if props.rules_to_enable or props.mappings_to_enable:
        actions.append("switch on the jobs and consumers that run only in the active Region")
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


def _step_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _carry_over(function: str) -> list[dict[str, Any]]:
    """Invoke the carry-over synchronously, then require its answer: whether or not SSM
    fails the invoke step on a function error, the check step fails on any answer that does
    not say the counters were carried over (an error's payload included)."""
    return [
        {
            "name": "CarryOverReceiptCounters",
            "action": "aws:invokeLambdaFunction",
            "timeoutSeconds": CARRY_OVER_TIMEOUT_SECONDS,
            "maxAttempts": CARRY_OVER_ATTEMPTS,
            "onFailure": "Abort",
            "inputs": {
                "FunctionName": function,
                "InvocationType": "RequestResponse",
                "Payload": "{}",
            },
        },
        {
            "name": "CheckReceiptCountersCarriedOver",
            "action": "aws:executeScript",
            "onFailure": "Abort",
            "inputs": {
                "Runtime": "python3.11",
                "Handler": "check",
                "InputPayload": {"Answer": "{{ CarryOverReceiptCounters.Payload }}"},
                "Script": (
                    "import json\n"
                    "\n"
                    "def check(events, context):\n"
                    "    try:\n"
                    "        answer = json.loads(events['Answer'])\n"
                    "    except (TypeError, ValueError):\n"
                    "        answer = None\n"
                    "    if not isinstance(answer, dict) or answer.get('outcome') != "
                    f"'{CARRY_OVER_OUTCOME}':\n"
                    "        raise ValueError('the receipt counters were not carried over: ' "
                    "+ str(events['Answer'])[:500])\n"
                    "    return answer\n"
                ),
            },
        },
    ]


def _enable_rule(name: str) -> dict[str, Any]:
    return {
        "name": f"Enable{_step_id(name)}",
        "action": "aws:executeAwsApi",
        "inputs": {"Service": "events", "Api": "EnableRule", "Name": name},
    }


def _enable_mapping(function: str) -> list[dict[str, Any]]:
    """The function's one mapping, found by function name (its id is Lambda's)."""
    find = f"Find{_step_id(function)}Mapping"
    return [
        {
            "name": find,
            "action": "aws:executeAwsApi",
            "inputs": {
                "Service": "lambda",
                "Api": "ListEventSourceMappings",
                "FunctionName": function,
            },
            "outputs": [
                {"Name": "Uuid", "Selector": "$.EventSourceMappings[0].UUID", "Type": "String"}
            ],
        },
        {
            "name": f"Enable{_step_id(function)}Mapping",
            "action": "aws:executeAwsApi",
            "inputs": {
                "Service": "lambda",
                "Api": "UpdateEventSourceMapping",
                "UUID": f"{{{{ {find}.Uuid }}}}",
                "Enabled": True,
            },
        },
    ]


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
                + (", carried the receipt counters over" if props.receipt_counters_function else "")
                + (
                    " and threw the failover switch: DNS now answers with the DR Region."
                    if props.traffic_switch is not None
                    else ". Move traffic to the DR Region by hand."
                )
                + (
                    " The jobs and consumers that run only in the active Region are switched "
                    "on here."
                    if props.rules_to_enable or props.mappings_to_enable
                    else ""
                )
                + " Next: set active_region to this Region in config and run make deploy-dr "
                "(deploys then keep those jobs on here)."
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
    if props.receipt_counters_function is not None and not _FUNCTION_NAME.match(
        props.receipt_counters_function
    ):
        raise ValueError(
            f"receipt_counters_function {props.receipt_counters_function!r} is not a "
            "Lambda function name"
        )
