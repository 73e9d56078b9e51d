"""Business metrics, declared once with the functions that publish them.

A declaration names the metric as the code publishes it (name, unit, dimensions), the
statistic a graph reads, and `producers`: the declared functions (FunctionSpec names) whose
code emits it. The monitoring stacks create an alarm on a business metric only in a Region
where one of its producers is deployed and running (cdk_constructs/monitoring.py), so no
alarm pages for a metric nothing emits, e.g. a heartbeat whose job does not exist yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    producers: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    statistic: str = "Sum"

    def emitted_by_any(self, running: Collection[str]) -> bool:
        """Whether one of the functions named in `running` publishes this metric."""
        return any(producer in running for producer in self.producers)
