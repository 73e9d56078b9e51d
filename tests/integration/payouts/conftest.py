"""Fixtures for the payouts integration tests: moto, the simulator, the webhook receiver."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local import moto_serial
from local.payouts_resources import provision
from simulators.monoova.server import MonoovaSimulator
from tests.support import REGION, Payouts, WebhookReceiver

API_KEY = "sandbox-api-key-0001"
WEBHOOK_TOKEN = "Basic bW9ub292YTp3ZWJob29rLXRva2Vu"

BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "payouts",
    "POWERTOOLS_METRICS_NAMESPACE": "Payouts",
    "ENVIRONMENT": "test",
    "MONOOVA_MACCOUNT_TOKEN": "6279059726039800",
    "MONOOVA_SOURCE_BSB": "802-985",
    "MONOOVA_SOURCE_ACCOUNT_NUMBER": "654378888",
    "MONOOVA_REMITTER_NAME": "Acme Payouts",
    "MONOOVA_TIMEOUT_SECONDS": "0.5",
    "BREAKER_MIN_VOLUME": "1000",
    "BREAKER_FAILURE_RATIO": "0.5",
    "BREAKER_WINDOW_SECONDS": "300",
    "BREAKER_OPEN_SECONDS": "600",
    "TRANSACTION_RETENTION_DAYS": "2557",
    "IDEMPOTENCY_TTL_HOURS": "24",
    "RECONCILE_THRESHOLD_SECONDS": "0",
    "STUCK_UNKNOWN_SECONDS": "3600",
}


@pytest.fixture(scope="session")
def simulator() -> Iterator[MonoovaSimulator]:
    sim = MonoovaSimulator(
        api_key=API_KEY,
        webhook_token=WEBHOOK_TOKEN,
        webhook_delay=0.05,
        webhook_retry_delay=0.3,
        hold_seconds=2.0,
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def payouts(simulator: MonoovaSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Payouts]:
    from payouts import wiring
    from payouts.clients import monoova

    simulator.reset()
    simulator.set_mode("ok")
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(moto_serial.DynamoHandler, "call_action", moto_serial._serialised)
    with mock_aws():
        resources = provision(
            lambda name: boto3.client(name, region_name=REGION),
            prefix=f"t{uuid.uuid4().hex[:8]}",
            api_key=API_KEY,
            webhook_token=WEBHOOK_TOKEN,
        )
        for key, value in resources.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("MONOOVA_BASE_URL", simulator.base_url or "")
        monkeypatch.setenv("MONOOVA_WEBHOOK_PUBLIC_KEYS", simulator.public_key_hex)
        harness = Payouts(resources, simulator)
        monkeypatch.setattr(monoova, "_sleep", harness.sleeps.append)
        wiring.reset()
        receiver = WebhookReceiver()
        harness.webhook_url = receiver.url
        simulator.set_webhook_url(receiver.url)
        try:
            yield harness
        finally:
            simulator.set_webhook_url(None)
            receiver.stop()
            wiring.reset()
    assert "AWS_ENDPOINT_URL" not in os.environ
