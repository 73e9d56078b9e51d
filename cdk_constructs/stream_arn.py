"""The current stream ARN of a table in this stack's Region, read at deploy time.

A global table's replica has its own stream in its own Region, and that stream's ARN ends in
its creation time, which no template holds: the stack that owns the global table (in the
primary Region) gets only its own replica's stream ARN. A stack in the replica's Region that
maps the stream to a function asks DynamoDB instead: a custom resource whose function calls
DescribeTable once per deploy that changes the table name (handlers/latest_stream_arn.py).

The function is a SecureFunction like any other (its own role, encrypted logs, tracing, the
VPC placement the caller gives, reserved concurrency 1), allowed DescribeTable on that one
table and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction, SecureFunctionProps
from shared.declarations import FunctionSpec

HANDLER_SOURCE = Path(__file__).parent / "handlers" / "latest_stream_arn.py"
NO_DLQ_REASON = (
    "CloudFormation invokes this custom resource's function and waits for the answer the "
    "function sends to the pre-signed response URL; a failure fails (and rolls back) the "
    "deployment itself, so there is no event to park in a DLQ for later."
)


@dataclass(frozen=True)
class LatestStreamArnProps:
    table_name: str
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy
    vpc: ec2.IVpc
    vpc_subnets: ec2.SubnetSelection
    security_groups: Sequence[ec2.ISecurityGroup]
    # Fixed, so the account's reserved concurrency and alarms can name it.
    function_name: str | None = None


class LatestStreamArn(Construct):
    """`stream_arn`: the table's LatestStreamArn when this stack deploys."""

    def __init__(self, scope: Construct, construct_id: str, props: LatestStreamArnProps) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.spec = FunctionSpec(
            name=f"{construct_id}Lookup",
            handler="index.handler",
            description=f"Custom resource: the current stream ARN of {props.table_name}",
            memory_mb=128,
            timeout_seconds=30,
        )
        self.function = SecureFunction(
            self,
            "Function",
            SecureFunctionProps(
                spec=self.spec,
                code=lambda_.Code.from_inline(HANDLER_SOURCE.read_text()),
                log_encryption_key=props.log_encryption_key,
                log_retention=props.log_retention,
                log_removal_policy=props.log_removal_policy,
                function_name=props.function_name,
                reserved_concurrency=1,
                no_dlq_reason=NO_DLQ_REASON,
                vpc=props.vpc,
                vpc_subnets=props.vpc_subnets,
                security_groups=props.security_groups,
            ),
        )
        nag.acknowledge(
            self.function.function,
            "NIST.800.53.R5-LambdaDLQ",
            f"NIST 800-53 R5 SI-2a, SC-36(1)(a), CA-7: {NO_DLQ_REASON}",
        )
        table_arn = stack.format_arn(
            partition="aws", service="dynamodb", resource="table", resource_name=props.table_name
        )
        iam.Grant.add_to_principal(
            grantee=self.function.function,
            actions=["dynamodb:DescribeTable"],
            resource_arns=[table_arn],
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.function.function.function_arn,
            resource_type="Custom::LatestStreamArn",
            properties={"TableName": props.table_name},
        )
        # The grant first: the first call must already be allowed.
        grants = self.function.role.grants_policy
        if grants is not None:
            self.resource.node.add_dependency(grants)
        self.stream_arn: str = self.resource.get_att_string("StreamArn")
