"""What every engine function shares: the code asset, the dependency layer, the VPC placement.

The engine's functions all run in the private-app subnets behind `lambda_sg` (they reach
PostgreSQL through the proxy and AWS through endpoints), with their dependencies (Powertools,
psycopg for aarch64 manylinux_2_28, pitfalls P12) in one layer built locally without Docker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction, SecureFunctionProps, package_code
from cdk_constructs.network import APP, ThreeTierVpc
from cdk_constructs.python_layer import PythonDependenciesLayer, PythonLayerProps
from config.engine import EngineConfig
from engine import metrics as engine_metrics
from shared.declarations import FunctionSpec

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
RUNTIME_PACKAGES = ("engine", "shared")
REQUIREMENTS = LAMBDA_SRC / "engine" / "requirements.txt"


def nist(controls: str, reason: str) -> str:
    """A sibling pack's acknowledgment restated for NIST 800-53 R5 with its controls named."""
    return f"NIST 800-53 R5 {controls}: {reason}"


class EngineRuntime(Construct):
    """The engine's code asset and dependency layer, once per stack that has functions."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = PythonDependenciesLayer(
            self,
            "Dependencies",
            PythonLayerProps(
                requirements_file=REQUIREMENTS,
                description="Payments engine runtime dependencies (Powertools, psycopg)",
            ),
        ).layer
        self.code = package_code(LAMBDA_SRC, RUNTIME_PACKAGES)


@dataclass(frozen=True)
class EngineFunctionProps:
    cfg: EngineConfig
    spec: FunctionSpec
    runtime: EngineRuntime
    network: ThreeTierVpc
    log_encryption_key: kms.IKey
    log_retention: logs.RetentionDays
    reserved_concurrency: int
    # Every engine function so far is invoked synchronously (API Gateway, CloudFormation).
    no_dlq_reason: str
    environment: Mapping[str, str] = field(default_factory=dict)


def function_name(cfg: EngineConfig, spec: FunctionSpec) -> str:
    """e.g. engine-prod-portal-health: fixed, so alarms name it (the same in each region)."""
    return cfg.resource_name(kebab(spec.name))


def kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def engine_function(scope: Construct, props: EngineFunctionProps) -> SecureFunction:
    """A SecureFunction in the App subnets behind lambda_sg, with the engine's layer."""
    network = props.network
    function = SecureFunction(
        scope,
        props.spec.name,
        SecureFunctionProps(
            spec=props.spec,
            code=props.runtime.code,
            layers=[props.runtime.layer],
            environment={
                "POWERTOOLS_SERVICE_NAME": "engine",
                # Where Powertools Metrics publishes: the namespace the alarms read.
                "POWERTOOLS_METRICS_NAMESPACE": engine_metrics.NAMESPACE,
                **props.environment,
            },
            log_encryption_key=props.log_encryption_key,
            log_retention=props.log_retention,
            log_removal_policy=props.cfg.removal_policy,
            function_name=function_name(props.cfg, props.spec),
            reserved_concurrency=props.reserved_concurrency,
            no_dlq_reason=props.no_dlq_reason,
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=APP),
            security_groups=[network.lambda_sg],
        ),
    )
    nag.acknowledge(
        function.function,
        "NIST.800.53.R5-LambdaDLQ",
        nist("SI-2a, SC-36(1)(a), CA-7", props.no_dlq_reason),
    )
    return function
