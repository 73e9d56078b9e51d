"""Multi-Region KMS keys, one per data domain: primaries in Mumbai, replicas in Singapore.

Both stacks are stateful (a deleted key is unreadable data): termination
protection and the removal policy come from config, construct ids never change.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from cdk_constructs.multi_region_key import (
    KeyPolicyProps,
    MultiRegionKey,
    MultiRegionKeyProps,
    ReplicaKey,
    ReplicaKeyProps,
)
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig


def event_bus_name(cfg: EngineConfig) -> str:
    """The engine's bus, the same name in both Regions (the Data key's policy names it)."""
    return cfg.resource_name("events")


def domains(cfg: EngineConfig) -> dict[str, tuple[str, KeyPolicyProps]]:
    """Domain -> (what it encrypts, who besides IAM principals may use it)."""
    return {
        # Tables, queues, topics, the event bus and its archive. SNS delivers to
        # encrypted queues, EventBridge and Scheduler to queues and the bus, CloudWatch
        # alarms publish to the encrypted topics.
        "Data": (
            "tables, queues, topics, events",
            KeyPolicyProps(
                services=(
                    "sns.amazonaws.com",
                    "events.amazonaws.com",
                    "scheduler.amazonaws.com",
                    "cloudwatch.amazonaws.com",
                ),
                event_buses=(event_bus_name(cfg),),
            ),
        ),
        # Field-level encryption of customer identifiers (PAN, Aadhaar-linked, bank).
        "Pii": ("field-level encryption of customer PII", KeyPolicyProps()),
        # CloudWatch log groups and VPC flow logs.
        "Logs": ("log groups and flow logs", KeyPolicyProps(allow_cloudwatch_logs=True)),
        # Database storage, snapshots and backups (RDS, AWS Backup).
        "Backup": ("database storage, snapshots and backups", KeyPolicyProps()),
    }


def _alias(cfg: EngineConfig, domain: str) -> str:
    return f"alias/{cfg.resource_name(domain.lower())}"


class EngineKeysStack(ConfiguredStack):
    """ap-south-1: the multi-Region primaries."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: EngineConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("keys"),
            description=f"Payments engine {cfg.env_name}: multi-Region KMS primary keys",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        self.keys = {
            domain: MultiRegionKey(
                self,
                f"{domain}Key",
                MultiRegionKeyProps(
                    alias=_alias(cfg, domain),
                    description=f"Payments engine {cfg.env_name}: {purpose}",
                    removal_policy=cfg.removal_policy,
                    policy=policy,
                ),
            )
            for domain, (purpose, policy) in domains(cfg).items()
        }


class EngineDrKeysStack(ConfiguredStack):
    """ap-southeast-1: a replica of every primary (only where DR is enabled).

    `cross_region_references=True`: the primaries' ARNs arrive through CDK's
    cross-Region references (SSM parameters in this Region), the one value that
    crosses Regions in this phase.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        primaries: EngineKeysStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-keys"),
            description=f"Payments engine {cfg.env_name}: KMS replica keys in the DR Region",
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            termination_protection=cfg.termination_protection,
            cross_region_references=True,
            **kwargs,
        )
        self.keys = {
            domain: ReplicaKey(
                self,
                f"{domain}Key",
                ReplicaKeyProps(
                    primary_key_arn=primaries.keys[domain].key_arn,
                    alias=_alias(cfg, domain),
                    description=f"Payments engine {cfg.env_name} (DR replica): {purpose}",
                    removal_policy=cfg.removal_policy,
                    policy=policy,
                ),
            )
            for domain, (purpose, policy) in domains(cfg).items()
        }
