"""Builds the LMS functions' client, stores, breaker and poster from settings.

The LMS client is cached per container (its token cache and connection pool are worth
keeping warm); stores are cheap and built per use. `engine.wiring.reset()` style: `reset()`
forgets the client (tests swap the simulator between cases).
"""

from __future__ import annotations

from functools import cache

from engine import settings
from engine.clients.lms import LmsClient, LmsCredentials
from engine.dal.ddb.intervention import InterventionStore
from engine.dal.ddb.posting import PostingStore
from engine.logic.lms_posting import Poster, PostingPolicy
from engine.tables import COUNTERS
from engine.wiring_audit import audit_log
from shared import aws, secrets
from shared.breaker import BreakerSettings
from shared.breaker_store import BreakerStore

# The breaker's items in the Counters table: `lms#state`, `lms#bucket#<minute>`.
BREAKER_NAME = "lms"
# Each GET (resolving an unknown outcome, the heartbeat) retries within this; the post
# itself is one attempt of LMS_TIMEOUT_SECONDS.
CALL_BUDGET_SECONDS = 10.0


def credentials() -> LmsCredentials:
    arn = settings.require("LMS_SECRET_ARN", settings.get().lms_secret_arn)
    secret = secrets.get_json_secret(arn)
    return LmsCredentials(str(secret["client_id"]), str(secret["client_secret"]))


@cache
def lms() -> LmsClient:
    config = settings.get()
    return LmsClient(
        settings.require("LMS_BASE_URL", config.lms_base_url),
        credentials,
        timeout_seconds=float(config.lms_timeout_seconds),
        budget_seconds=CALL_BUDGET_SECONDS,
    )


def posting_store() -> PostingStore:
    config = settings.get()
    return PostingStore(
        aws.client("dynamodb"),
        settings.require("TRANSACTION_QUEUE_TABLE", config.transaction_queue_table),
        settings.require("TRANSACTIONS_TABLE", config.transactions_table),
    )


def breaker() -> BreakerStore:
    config = settings.get()
    return BreakerStore.for_table(
        aws.client("dynamodb"),
        COUNTERS,
        settings.require("COUNTERS_TABLE", config.counters_table),
        BreakerSettings(
            min_volume=config.lms_breaker_min_volume,
            failure_ratio=config.lms_breaker_failure_ratio,
            window_seconds=config.lms_breaker_window_seconds,
            open_seconds=config.lms_breaker_open_seconds,
        ),
        name=BREAKER_NAME,
    )


def policy() -> PostingPolicy:
    config = settings.get()
    return PostingPolicy(
        lease_seconds=config.lms_lease_seconds,
        max_attempts=config.lms_max_attempts,
        backoff_base_seconds=config.lms_backoff_base_seconds,
        backoff_cap_seconds=config.lms_backoff_cap_seconds,
    )


def interventions() -> InterventionStore:
    config = settings.get()
    return InterventionStore(
        aws.client("dynamodb"),
        settings.require("TRANSACTION_QUEUE_TABLE", config.transaction_queue_table),
        settings.require("TRANSACTIONS_TABLE", config.transactions_table),
        audit_log(),
    )


def poster() -> Poster:
    return Poster(posting_store(), lms(), breaker(), policy())


def reset() -> None:
    lms.cache_clear()
