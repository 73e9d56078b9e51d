"""Publishing the engine's metrics (declared in engine/metrics.py) as CloudWatch EMF lines.

Each datapoint goes out twice: with the declaration's dimensions, and with none, the
aggregate series the platform's alarms read (dimensions split a metric into series no single
alarm can aggregate). Each is its own EMF document (Powertools' SingleMetric), so an
invocation's other metrics and dimensions never mix in, and without the `service` dimension
Powertools would otherwise add from POWERTOOLS_SERVICE_NAME: with it, the "aggregate" series
would be a different series from the one the alarms read.
"""

from __future__ import annotations

import json
import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

from engine.metrics import NAMESPACE
from shared.metrics import MetricSpec


def publish(spec: MetricSpec, value: float, **dimensions: str) -> None:
    unknown = set(dimensions) - set(spec.dimensions)
    if unknown:
        raise ValueError(f"{spec.name} has no dimension(s) {sorted(unknown)}")
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    for dims in (dimensions, {}) if dimensions else ({},):
        metric = SingleMetric(namespace=namespace, service="")
        metric.add_metric(name=spec.name, unit=MetricUnit(spec.unit), value=value)
        for key, dim_value in dims.items():
            metric.add_dimension(name=key, value=dim_value)
        print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))
