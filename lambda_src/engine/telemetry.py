"""Publishing the engine's metrics (declared in engine/metrics.py) as CloudWatch EMF lines.

Each datapoint goes out twice: with the declaration's dimensions, and with none, the
aggregate series the platform's alarms read (dimensions split a metric into series no single
alarm can aggregate). Powertools' `single_metric` writes each as its own EMF document, so an
invocation's other metrics and dimensions never mix in.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from engine.metrics import NAMESPACE
from shared.metrics import MetricSpec


def publish(spec: MetricSpec, value: float, **dimensions: str) -> None:
    unknown = set(dimensions) - set(spec.dimensions)
    if unknown:
        raise ValueError(f"{spec.name} has no dimension(s) {sorted(unknown)}")
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    for dims in (dimensions, {}):
        with single_metric(
            name=spec.name, unit=MetricUnit(spec.unit), value=value, namespace=namespace
        ) as metric:
            for key, dim_value in dims.items():
                metric.add_dimension(key, dim_value)
