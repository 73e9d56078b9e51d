"""A Lambda function with the platform's non-negotiable defaults.

Every function gets: the one runtime and arm64, active X-Ray tracing, JSON logs to
its own CMK-encrypted log group with a retention, and its own role with no AWS
managed policy. Its permissions live in customer-managed policies attached to that
role alone (PCI DSS 3.2.1 IAMNoInlinePolicy), and the log permissions name only its
own log group. A missing VPC or DLQ must be justified by the caller, in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps
from cdk_constructs.runtime import ARCHITECTURE, RUNTIME
from shared.declarations import FunctionSpec

_XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
_VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


def package_code(source_root: Path, packages: Sequence[str]) -> lambda_.Code:
    """The runtime packages under `source_root` (e.g. `payouts`, `shared`), nothing else.

    CDK's glob excludes match base names anywhere (minimatch `matchBase`) and the
    last matching pattern wins: exclude everything, re-include the packages, then
    drop caches, tests and requirements inside them.
    """
    if not packages:
        raise ValueError("name at least one package")
    missing = [p for p in packages if not (source_root / p).is_dir()]
    if missing:
        raise FileNotFoundError(f"packages {missing} not found under {source_root}")
    exclude = ["*"]
    for package in packages:
        exclude += [f"!{package}", f"!{package}/**"]
    exclude += ["__pycache__", "*.pyc", "tests", "requirements*.txt", ".*"]
    return lambda_.Code.from_asset(str(source_root), exclude=exclude)


@dataclass(frozen=True)
class SecureFunctionProps:
    spec: FunctionSpec
    code: lambda_.Code
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: Sequence[lambda_.ILayerVersion] = ()
    # Fixed, where alarms and dashboards name the function (None: CloudFormation picks).
    function_name: str | None = None
    application_log_level: str = "INFO"
    reserved_concurrency: int | None = None
    # A customer-managed key for the environment variables (None: Lambda's AWS managed key).
    environment_encryption: kms.IKey | None = None
    # Asynchronous-invocation DLQ; without one, say why none is needed.
    dead_letter_queue: sqs.IQueue | None = None
    no_dlq_reason: str | None = None
    # Without a VPC, say why the function does not need one.
    vpc: ec2.IVpc | None = None
    no_vpc_reason: str | None = None
    # In a VPC: where and behind which groups (CDK would otherwise make an open-egress one).
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] = ()


class SecureFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: SecureFunctionProps) -> None:
        super().__init__(scope, construct_id)
        _check_justifications(props)
        self.spec = props.spec
        self.log_group = EncryptedLogGroup(
            self,
            "Logs",
            EncryptedLogGroupProps(
                encryption_key=props.log_encryption_key,
                retention=props.log_retention,
                removal_policy=props.log_removal_policy,
            ),
        ).log_group
        self.role = PolicyRoutingRole(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {props.spec.name} only",
        )
        self.function = self._function(props)
        self.vpc_access_policy = self._vpc_access_policy() if props.vpc is not None else None
        self._attach_log_and_tracing_policies()
        self.role.depend_on_grants(self.function)
        self._acknowledge(props)

    def _function(self, props: SecureFunctionProps) -> lambda_.Function:
        spec = props.spec
        function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            function_name=props.function_name,
            code=props.code,
            description=spec.description,
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            role=self.role,
            environment=dict(props.environment),
            environment_encryption=props.environment_encryption,
            layers=list(props.layers),
            reserved_concurrent_executions=props.reserved_concurrency,
            dead_letter_queue=props.dead_letter_queue,
            vpc=props.vpc,
            vpc_subnets=props.vpc_subnets,
            security_groups=list(props.security_groups) or None,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[props.application_log_level],
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            log_group=self.log_group,
        )
        # Set on the L1 rather than with `tracing=`: the L2 would add the X-Ray
        # statement ("*" resource) to the role's main policy; it lives in its own
        # policy below, where its one acknowledgment cannot hide anything else.
        cfn = cast(lambda_.CfnFunction, function.node.default_child)
        cfn.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        return function

    def _vpc_access_policy(self) -> iam.ManagedPolicy:
        """What AWSLambdaVPCAccessExecutionRole grants, as a customer-managed policy."""
        policy = iam.ManagedPolicy(
            self,
            "VpcAccessPolicy",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=_VPC_ACTIONS, resources=["*"])],
        )
        nag.acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Lambda manages the function's network interfaces with these EC2 actions; the "
            "Describe actions support no resource-level permissions and the interfaces do not "
            "exist before Lambda creates them. The policy holds nothing else.",
        )
        return policy

    def _attach_log_and_tracing_policies(self) -> None:
        self.logs_policy = iam.ManagedPolicy(
            self,
            "LogsPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=_LOG_ACTIONS, resources=[self.log_group.log_group_arn])
            ],
        )
        self.tracing_policy = iam.ManagedPolicy(
            self,
            "TracingPolicy",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=_XRAY_ACTIONS, resources=["*"])],
        )
        policies = [self.logs_policy, self.tracing_policy]
        if self.vpc_access_policy is not None:
            policies.append(self.vpc_access_policy)
        for policy in policies:
            self.function.node.add_dependency(policy)

    def _acknowledge(self, props: SecureFunctionProps) -> None:
        nag.acknowledge(
            self.tracing_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level "
            "permissions; '*' is the only valid resource. This policy holds nothing else.",
        )
        if props.vpc is None and props.no_vpc_reason:
            nag.acknowledge(self.function, "PCI.DSS.321-LambdaInsideVPC", props.no_vpc_reason)
        if props.dead_letter_queue is None and props.no_dlq_reason:
            nag.acknowledge(self.function, "Serverless-LambdaDLQ", props.no_dlq_reason)


def _check_justifications(props: SecureFunctionProps) -> None:
    name = props.spec.name
    if props.vpc is None and not props.no_vpc_reason:
        raise ValueError(f"{name}: without a VPC, no_vpc_reason must say why")
    if props.dead_letter_queue is None and not props.no_dlq_reason:
        raise ValueError(f"{name}: without a dead_letter_queue, no_dlq_reason must say why")
    if props.reserved_concurrency is not None and props.reserved_concurrency < 1:
        raise ValueError(f"{name}: reserved concurrency must be at least 1")


class PolicyRoutingRole(iam.Role):
    """A Role whose grants land in one customer-managed policy attached to it alone.

    CDK adds every grant to an inline `DefaultPolicy`, which PCI DSS 3.2.1
    (IAMNoInlinePolicy) flags. Overriding `add_to_principal_policy` (jsii honours
    Python overrides) redirects those same statements, so every grant helper, event
    source and destination keeps working unchanged. The policy is created with its
    first statement, because CloudFormation rejects an empty one.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.grants_policy: iam.ManagedPolicy | None = None
        self._dependents: list[Construct] = []

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        policy = self._ensure_policy()
        policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=policy)

    def depend_on_grants(self, dependent: Construct) -> None:
        """Make `dependent` wait for the grants policy, whenever it comes to exist."""
        self._dependents.append(dependent)
        if self.grants_policy is not None:
            dependent.node.add_dependency(self.grants_policy)

    def _ensure_policy(self) -> iam.ManagedPolicy:
        if self.grants_policy is None:
            self.grants_policy = iam.ManagedPolicy(self, "GrantsPolicy", roles=[self])
            for dependent in self._dependents:
                dependent.node.add_dependency(self.grants_policy)
        return self.grants_policy
