"""The engine's VPC in one Region: the primary in Mumbai, the DR VPC in Singapore.

Stateful in the sense that matters (the database and its subnets live in it):
termination protection from config, stable construct ids.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.network import ThreeTierVpc, ThreeTierVpcProps
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig, NetworkConfig


class EngineNetworkStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        network: NetworkConfig,
        env: cdk.Environment,
        role: str,
        logs_key_arn: str,
        functions_reach_database_directly: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name(role),
            description=f"Payments engine {cfg.env_name}: VPC {network.vpc_cidr} in {env.region}",
            env=env,
            availability_zones=network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        # Imported by ARN: an L2 that adds key-policy statements would otherwise
        # write back into the keys stack (a dependency cycle).
        logs_key = kms.Key.from_key_arn(self, "LogsKeyRef", logs_key_arn)
        self.network = ThreeTierVpc(
            self,
            "Network",
            ThreeTierVpcProps(
                vpc_cidr=network.vpc_cidr,
                availability_zones=network.availability_zones,
                public_subnet_cidrs=network.public_subnet_cidrs,
                app_subnet_cidrs=network.app_subnet_cidrs,
                db_subnet_cidrs=network.db_subnet_cidrs,
                nat_gateways=network.nat_gateways,
                flow_log_key=logs_key,
                flow_log_retention=cfg.flow_log_retention,
                removal_policy=cfg.removal_policy,
                functions_reach_database_directly=functions_reach_database_directly,
            ),
        )
        self.vpc = self.network.vpc
