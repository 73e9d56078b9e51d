"""One payments-engine environment: a Stage `engine-<env>` holding its stacks.

Deploy order (architecture §4), stated with explicit dependencies:
keys -> dr-keys -> network -> data -> dr-network. The DR stacks exist only where
config enables DR (staging, prod); dev and qa have none.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from config.engine import EngineConfig
from stacks.engine.data import EngineDataStack
from stacks.engine.keys import EngineDrKeysStack, EngineKeysStack
from stacks.engine.network import EngineNetworkStack


class EngineStage(cdk.Stage):
    def __init__(self, scope: Construct, cfg: EngineConfig) -> None:
        super().__init__(scope, f"{cfg.system}-{cfg.env_name}", env=cfg.cdk_environment)
        self.cfg = cfg
        self.keys = EngineKeysStack(self, "Keys", cfg=cfg)
        self.dr_keys: EngineDrKeysStack | None = None
        if cfg.dr_enabled:
            self.dr_keys = EngineDrKeysStack(self, "DrKeys", cfg=cfg, primaries=self.keys)
            self.dr_keys.add_stack_dependency(self.keys)
        self.network = EngineNetworkStack(
            self,
            "Network",
            cfg=cfg,
            network=cfg.network,
            env=cfg.cdk_environment,
            role="network",
            logs_key_arn=self.keys.keys["Logs"].key_arn,
        )
        self.network.add_stack_dependency(self.keys)
        self.data = EngineDataStack(self, "Data", cfg=cfg, keys=self.keys)
        self.data.add_stack_dependency(self.keys)
        self.data.add_stack_dependency(self.network)
        self.dr_network: EngineNetworkStack | None = None
        if self.dr_keys is not None:
            # The tables' Singapore replicas are encrypted with the replica keys.
            self.data.add_stack_dependency(self.dr_keys)
            self.dr_network = EngineNetworkStack(
                self,
                "DrNetwork",
                cfg=cfg,
                network=cfg.dr_network,
                env=cfg.dr_cdk_environment,
                role="dr-network",
                logs_key_arn=self.dr_keys.keys["Logs"].key_arn,
            )
            self.dr_network.add_stack_dependency(self.dr_keys)
            self.dr_network.add_stack_dependency(self.data)
        for key, value in cfg.tags.items():
            cdk.Tags.of(self).add(key, value)

    @property
    def stacks(self) -> tuple[cdk.Stack, ...]:
        found = (self.keys, self.dr_keys, self.network, self.data, self.dr_network)
        return tuple(stack for stack in found if stack is not None)

    @property
    def roles(self) -> dict[str, cdk.Stack]:
        """Stack role (the suffix of its name) -> stack."""
        prefix = f"{self.cfg.system}-{self.cfg.env_name}-"
        return {stack.stack_name.removeprefix(prefix): stack for stack in self.stacks}
