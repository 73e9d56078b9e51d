"""What every engine function shares: the code asset, the dependency layer, the VPC placement.

The engine's functions all run in the private-app subnets behind `lambda_sg` (they reach
PostgreSQL through the proxy and AWS through endpoints), with their dependencies (Powertools,
and psycopg's binary wheel for aarch64 manylinux_2_28, the platform Lambda's arm64 Python
runs on) in one layer built locally without Docker. Their environment variables are
encrypted with a customer-managed key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
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
    # The customer-managed key Lambda encrypts the environment variables with.
    environment_key: kms.IKey
    environment: Mapping[str, str] = field(default_factory=dict)
    # Asynchronously invoked functions (schedules) have a DLQ; the others say why not.
    dead_letter_queue: sqs.IQueue | None = None
    no_dlq_reason: str | None = None


def function_name(cfg: EngineConfig, spec: FunctionSpec) -> str:
    """e.g. engine-prod-portal-health: fixed, so alarms name it (the same in each region)."""
    return cfg.resource_name(kebab(spec.name))


_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def kebab(name: str) -> str:
    """PortalHealth -> portal-health; an acronym stays one word: RazorpayWebhookDLQ ->
    razorpay-webhook-dlq."""
    return _WORD_BREAK.sub("-", name).lower()


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
            environment_encryption=props.environment_key,
            dead_letter_queue=props.dead_letter_queue,
            no_dlq_reason=props.no_dlq_reason,
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=APP),
            security_groups=[network.lambda_sg],
        ),
    )
    if props.dead_letter_queue is None and props.no_dlq_reason:
        nag.acknowledge(
            function.function,
            "NIST.800.53.R5-LambdaDLQ",
            nist("SI-2a, SC-36(1)(a), CA-7", props.no_dlq_reason),
        )
    return function
