"""Builds the service objects from settings, once per container.

The Monoova client (urllib3), the field crypto (cryptography) and the submitter are imported
where they are built, so functions that never call Monoova or decrypt a destination (queries,
the stream consumer) do not pay for those imports on a cold start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from payouts import settings
from payouts.dal.customers import CustomerStore
from payouts.dal.idempotency import IdempotencyStore
from payouts.dal.ledger import PayoutLedger
from payouts.dal.transactions import TransactionStore
from payouts.logic import metrics as m
from payouts.tables import CIRCUIT_BREAKER
from shared import aws, secrets
from shared.aws import client
from shared.breaker_store import BreakerStore

if TYPE_CHECKING:
    from payouts.clients.monoova import MonoovaClient
    from payouts.dal.destinations import PayoutDestinations
    from payouts.logic.submission import Submitter
    from shared.fieldcrypto import FieldCrypto


def dynamodb() -> object:
    return client("dynamodb")


@cache
def field_crypto() -> FieldCrypto:
    from shared.fieldcrypto import FieldCrypto  # noqa: PLC0415 - see module docstring

    return FieldCrypto(client("kms"), settings.pii_key_arn())


def transactions() -> TransactionStore:
    return TransactionStore(dynamodb(), settings.tables().transactions, settings.schedule())


def payout_destinations() -> PayoutDestinations:
    from payouts.dal.destinations import PayoutDestinations  # noqa: PLC0415 - see docstring

    return PayoutDestinations(field_crypto())


def customers(with_crypto: bool = True) -> CustomerStore:
    return CustomerStore(
        dynamodb(), settings.tables().customers, field_crypto() if with_crypto else None
    )


def idempotency() -> IdempotencyStore:
    return IdempotencyStore(dynamodb(), settings.tables().idempotency)


def ledger(with_crypto: bool = False) -> PayoutLedger:
    return PayoutLedger(
        dynamodb(),
        transactions(),
        customers(with_crypto),
        idempotency(),
        settings.tables().breaker,
    )


def breaker() -> BreakerStore:
    """Monoova's circuit: items `monoova#state` and `monoova#bucket#<minute>` by `pk`."""
    return BreakerStore.for_table(
        dynamodb(), CIRCUIT_BREAKER, settings.tables().breaker, settings.breaker(), name="monoova"
    )


def monoova_api_key() -> str:
    return str(secrets.get_json_secret(settings.monoova().api_secret_arn)["api_key"])


# POST /payouts makes one attempt and one short retry within its budget; the reconciler,
# with minutes to spare, keeps the full backoff (1, 2, 4 s).
CREATE_BACKOFF = (0.5,)


def monoova(
    remaining_seconds: Callable[[], float] | None = None, *, for_create: bool = False
) -> MonoovaClient:
    """`for_create`: bounded (one short retry within the create budget), so the API answers
    well inside its 29 s limit."""
    from payouts.clients.monoova import MonoovaClient  # noqa: PLC0415 - see module docstring

    config = settings.monoova()
    bounds: dict[str, Any] = (
        {"backoff": CREATE_BACKOFF, "budget_seconds": config.create_budget_seconds}
        if for_create
        else {}
    )
    return MonoovaClient(
        config.base_url,
        monoova_api_key,
        config.timeout_seconds,
        remaining_seconds=remaining_seconds,
        **bounds,
    )


def submitter(metrics: m.MetricSink, monoova_client: MonoovaClient) -> Submitter:
    from payouts.logic.submission import Submitter  # noqa: PLC0415 - see module docstring

    return Submitter(transactions(), breaker(), monoova_client, settings.monoova(), metrics)


def reset() -> None:
    """Forget everything cached (tests swap environments and moto backends)."""
    field_crypto.cache_clear()
    settings.reset()
    secrets.clear_cache()
    aws.reset_clients()
    webhook_auth = sys.modules.get("payouts.logic.webhook_auth")
    if webhook_auth is not None:
        webhook_auth.public_keys.cache_clear()
