"""What every payouts handler shares: Powertools logger and metrics, and the decorator that
puts each invocation's Lambda context on its own log lines (shared/log_context.py)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

from shared import log_context
from shared.powertools_metrics import metrics_for

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "payouts"))
metrics = metrics_for(os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Payouts"))
metrics.set_default_dimensions(environment=os.environ.get("ENVIRONMENT", "local"))
inject_context = log_context.injector(logger)
