"""Powertools Metrics that publish when an invocation counted something and are quiet otherwise.

Many invocations here have nothing to count, by design: a stream record that changes no
balance, a replay batch with nothing to replay. Powertools then warns "No application metrics
to publish" on every such invocation (in `make local` and in every Lambda log), which reads
like an error and is not one: alarms read the metrics themselves. Only that case changes;
`raise_on_empty_metrics=True` still raises, and Powertools' other warnings stay.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)


class PublishWhenCounted(AmazonCloudWatchEMFProvider):
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        else:
            # As after a publish: this invocation's dimensions and metadata do not leak on.
            self.clear_metrics()


def metrics_for(namespace: str) -> Metrics:
    metrics = Metrics(namespace=namespace)
    # The same shared sets Powertools gives every Metrics instance, behind a quieter flush.
    metrics.provider = PublishWhenCounted(
        namespace=namespace,
        metric_set=metrics.metric_set,
        dimension_set=metrics.dimension_set,
        metadata_set=metrics.metadata_set,
        default_dimensions=metrics.default_dimensions,
    )
    return metrics
