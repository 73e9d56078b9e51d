"""Builds the engine's stores and clients from settings, once per container.

Each builder is small and cached: a warm container reuses its boto3 clients, its one
PostgreSQL connection and its secrets. Clients with heavy imports (HTTP, PDF) are imported
inside their builder, so a function that never calls them does not pay on a cold start.
`reset()` forgets everything (tests swap environments and moto backends).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from engine import settings
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.loans import LoanStore
from shared import aws, secrets

if TYPE_CHECKING:
    from engine.clients.sms import SmsSender
    from engine.dal.ddb.sessions import SessionStore
    from engine.logic.otp import Hasher


def dynamodb() -> Any:
    return aws.client("dynamodb")


@cache
def database() -> Database:
    timeout_ms = settings.get().statement_timeout_ms
    return Database(lambda: connect_engine("engine", timeout_ms))


def loans() -> LoanStore:
    return LoanStore(database())


@cache
def hasher() -> Hasher:
    from engine.logic.otp import Hasher  # noqa: PLC0415 - only the session functions hash

    arn = settings.require("OTP_HASH_KEY_ARN", settings.get().otp_hash_key_arn)
    return Hasher.from_secret(secrets.get_json_secret(arn))


def sessions() -> SessionStore:
    from engine.dal.ddb.sessions import SessionStore  # noqa: PLC0415

    table = settings.require("SESSIONS_TABLE", settings.get().sessions_table)
    return SessionStore(dynamodb(), table)


def sms() -> SmsSender:
    from engine.clients.sms import SmsSender  # noqa: PLC0415

    config = settings.get()
    return SmsSender(
        aws.client("sns"),
        sender_id=config.sms_sender_id,
        entity_id=config.sms_dlt_entity_id,
        template_id=config.sms_otp_template_id,
    )


def reset() -> None:
    """Forget cached settings, clients, secrets and the database connection."""
    if database.cache_info().currsize:
        database().close()
    for builder in (database, hasher):
        builder.cache_clear()
    settings.reset()
    secrets.clear_cache()
    aws.reset_clients()
