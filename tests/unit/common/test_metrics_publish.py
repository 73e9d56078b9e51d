"""Handlers' metrics: published when counted, silent when an invocation counted nothing."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.exceptions import SchemaValidationError

from local.events import LambdaContext
from shared.powertools_metrics import PublishWhenCounted, metrics_for

_SHARED = ("_metrics", "_dimensions", "_metadata", "_default_dimensions")


@pytest.fixture
def metrics() -> Any:
    """Powertools keeps metrics state on the class, shared by every instance: put it back."""
    saved = {name: dict(getattr(Metrics, name)) for name in _SHARED}
    for name in _SHARED:
        getattr(Metrics, name).clear()
    found = metrics_for("Test")
    found.set_default_dimensions(environment="test")
    yield found
    for name, value in saved.items():
        getattr(Metrics, name).clear()
        getattr(Metrics, name).update(value)


def test_an_invocation_that_counted_nothing_prints_and_warns_nothing(
    metrics: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> str:
        metrics.add_dimension("route", "/never-published")
        return "done"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert handler({}, LambdaContext(function_name="fn")) == "done"
    assert [str(w.message) for w in caught] == []
    assert capsys.readouterr().out == ""
    # The empty invocation's own dimension was dropped, as a publish would have.
    assert metrics.provider.dimension_set == {"environment": "test"}


def test_what_an_invocation_counted_is_published_as_one_emf_document(
    metrics: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="PayoutCreated", unit=MetricUnit.Count, value=1)

    handler({}, LambdaContext(function_name="fn"))
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    assert document["PayoutCreated"] == [1.0]
    assert document["environment"] == "test"
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Test"


def test_asking_for_metrics_still_raises_and_other_warnings_still_show(metrics: Any) -> None:
    @metrics.log_metrics(raise_on_empty_metrics=True)
    def strict(event: dict[str, Any], context: Any) -> None:
        return None

    with pytest.raises(SchemaValidationError):
        strict({}, LambdaContext(function_name="fn"))
    with pytest.warns(UserWarning, match="timestamp"):
        metrics.set_timestamp(1)  # 1970: CloudWatch would drop it, and Powertools says so


def test_the_payouts_handlers_use_the_quiet_provider() -> None:
    from payouts.handlers.common import metrics

    assert isinstance(metrics.provider, PublishWhenCounted)
