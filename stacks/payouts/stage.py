"""One payouts environment: a Stage named after it, holding its three stacks."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.tags import tag_every_resource
from config.payouts import PayoutsConfig
from stacks.payouts.monitoring import PayoutsMonitoringStack
from stacks.payouts.service import PayoutsServiceStack
from stacks.payouts.stateful import PayoutsStatefulStack


class PayoutsStage(cdk.Stage):
    def __init__(self, scope: Construct, cfg: PayoutsConfig) -> None:
        super().__init__(scope, cfg.env_name, env=cfg.cdk_environment)
        self.cfg = cfg
        self.stateful = PayoutsStatefulStack(self, "Stateful", cfg=cfg)
        self.service = PayoutsServiceStack(self, "Service", cfg=cfg, stateful=self.stateful)
        self.monitoring = PayoutsMonitoringStack(
            self, "Monitoring", cfg=cfg, stateful=self.stateful, service=self.service
        )
        # Deploy order, stated rather than left to inferred references.
        self.service.add_stack_dependency(self.stateful)
        self.monitoring.add_stack_dependency(self.service)
        self.monitoring.add_stack_dependency(self.stateful)
        tag_every_resource(self, cfg.tags)

    @property
    def stacks(self) -> tuple[cdk.Stack, ...]:
        return (self.stateful, self.service, self.monitoring)
