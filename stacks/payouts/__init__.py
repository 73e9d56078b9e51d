"""The payouts system's stacks: stateful, service and monitoring, per environment."""

from stacks.payouts.stage import PayoutsStage

__all__ = ["PayoutsStage"]
