"""Fixtures for the engine's integration tests: the RazorPay simulator and its webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import razorpay
import requests

from simulators.razorpay import RazorpaySimulator
from tests.engine_pg import engine_db, engine_pg_template  # noqa: F401 - fixtures
from tests.integration.engine.portal_support import engine_portal  # noqa: F401 - fixture
from tests.integration.engine.razorpay_support import KEY_ID, KEY_SECRET, WEBHOOK_SECRET
from tests.sim_http import Receiver


@pytest.fixture
def rzp_hooks() -> Iterator[Receiver]:
    server = Receiver(path="/api/v1/webhooks/razorpay")
    yield server
    server.close()


@pytest.fixture
def rzp_sim(rzp_hooks: Receiver) -> Iterator[RazorpaySimulator]:
    simulator = RazorpaySimulator(
        KEY_ID,
        KEY_SECRET,
        WEBHOOK_SECRET,
        webhook_url=rzp_hooks.url,
        webhook_delay=0.05,
        webhook_retry_delays=(0.1, 0.2, 0.4),
        late_capture_delay=0.3,
        hold_seconds=0.5,
    )
    with simulator:
        yield simulator


@pytest.fixture
def rzp_sdk(rzp_sim: RazorpaySimulator) -> razorpay.Client:
    """RazorPay's own Python client, pointed at the simulator."""
    session = requests.Session()
    session.trust_env = False  # never through a proxy from the environment
    return razorpay.Client(session=session, auth=(KEY_ID, KEY_SECRET), base_url=rzp_sim.base_url)
