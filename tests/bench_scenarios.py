"""Business operations for `make bench` to count AWS calls on (moto + the Monoova simulator)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
from moto import mock_aws

from local import moto_serial
from local.payouts_resources import provision
from simulators.monoova.server import MonoovaSimulator
from tests.integration.payouts.conftest import API_KEY, BASE_ENV, WEBHOOK_TOKEN
from tests.support import REGION, Payouts


class CreateLatencyScenario:
    """POST /payouts timed end to end while Monoova never answers, with the dev config's
    Monoova timeout and create budget (the deployed values, not the tests' short ones)."""

    def __init__(self, harness: Payouts) -> None:
        self.harness = harness
        self._count = 0

    def timed_create(self, mode: str) -> float:
        self._count += 1
        customer = f"latency-{self._count}"
        self.harness.seed_customer(customer)
        self.harness.simulator.set_mode(mode)
        started = time.perf_counter()
        response = self.harness.post_payout(
            {"customer_id": customer, "amount": 10, "payout_method": "PayId"},
            key=f"latency-key-{uuid.uuid4().hex}",
        )
        elapsed = time.perf_counter() - started
        assert response.status == 202, response.body
        return elapsed


class PayoutsScenario:
    """Each operation runs twice: first on a cold container, then warm."""

    def __init__(self, harness: Payouts) -> None:
        self.harness = harness
        self._ready: list[str] = []
        self._references: list[str] = []
        self._webhook_url = ""

    def operations(self) -> list[tuple[str, Callable[[], None]]]:
        return [("create_payout", self._counted_create), ("webhook", self._counted_webhook)]

    def _counted_create(self) -> None:
        response = self.harness.post_payout(
            {"customer_id": self._ready.pop(), "amount": 10, "payout_method": "PayId"},
            key=f"bench-key-{uuid.uuid4().hex}",
        )
        assert response.status == 202, response.body

    def _counted_webhook(self) -> None:
        reference = self._references.pop()
        self.harness.simulator.set_webhook_url(self._webhook_url)
        try:
            delivery = self.harness.simulator.send_webhook(reference)
        finally:
            self.harness.simulator.set_webhook_url(None)
        assert delivery["status_code"] == 200, delivery

    def prepare(self, webhook_url: str) -> None:
        """Customers to pay and payouts to complete, made before counting starts."""
        self._ready = []
        for i in range(2):
            customer = f"bench-{i}"
            self.harness.seed_customer(customer)
            self._ready.append(customer)
        self.harness.simulator.set_webhook_url(None)
        self._references = []
        for i in range(2):
            self.harness.seed_customer(f"bench-hook-{i}")
            response = self.harness.post_payout(
                {"customer_id": f"bench-hook-{i}", "amount": 10, "payout_method": "PayId"},
                key=f"bench-hook-key-{i}-{uuid.uuid4().hex}",
            )
            self._references.append(response.body["transaction_id"])
        # Automatic webhooks would land inside another operation's count: send them by hand.
        self._webhook_url = webhook_url


@contextmanager
def _payouts_in_moto(
    prefix: str, env: dict[str, str], **simulator: float
) -> Iterator[tuple[Payouts, MonoovaSimulator]]:
    """The handlers' environment against moto and a Monoova simulator, undone afterwards."""
    from payouts import wiring

    saved = dict(os.environ)
    os.environ.update(BASE_ENV | env)
    sim = MonoovaSimulator(api_key=API_KEY, webhook_token=WEBHOOK_TOKEN, **simulator)  # type: ignore[arg-type]
    sim.start()
    moto_serial.install()
    try:
        with mock_aws():
            resources = provision(
                lambda name: boto3.client(name, region_name=REGION),
                prefix=prefix,
                api_key=API_KEY,
                webhook_token=WEBHOOK_TOKEN,
            )
            os.environ.update(resources.env())
            os.environ["MONOOVA_BASE_URL"] = sim.base_url or ""
            os.environ["MONOOVA_WEBHOOK_PUBLIC_KEYS"] = sim.public_key_hex
            wiring.reset()
            yield Payouts(resources, sim), sim
    finally:
        moto_serial.uninstall()
        sim.stop()
        wiring.reset()
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def payouts_scenario() -> Iterator[PayoutsScenario]:
    from payouts import wiring
    from tests.support import WebhookReceiver

    # Automatic outcomes never fire here: each counted webhook is sent by hand, and a stray
    # automatic one landing inside another operation's count made the figures drift.
    with _payouts_in_moto("bench", {}, webhook_delay=3600) as (harness, _):
        receiver = WebhookReceiver()
        scenario = PayoutsScenario(harness)
        scenario.prepare(receiver.url)
        wiring.reset()  # forget the cached secret and data key: the first count is cold
        try:
            yield scenario
        finally:
            receiver.stop()


@contextmanager
def create_latency_scenario() -> Iterator[CreateLatencyScenario]:
    from config import load
    from stacks.payouts import access

    dev = access.config_values(load("dev"))
    deployed = {k: dev[k] for k in ("MONOOVA_TIMEOUT_SECONDS", "MONOOVA_CREATE_BUDGET_SECONDS")}
    # Monoova holds every answer far longer than the client waits.
    with _payouts_in_moto("latency", deployed, webhook_delay=3600, hold_seconds=60) as (
        harness,
        _,
    ):
        yield CreateLatencyScenario(harness)
