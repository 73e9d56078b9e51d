"""Builds the engine's stores and clients from settings, once per container.

Each builder is small and cached: a warm container reuses its boto3 clients, its one
PostgreSQL connection and its secrets. Clients with heavy imports (HTTP, PDF) are imported
inside their builder, so a function that never calls them does not pay on a cold start.
`reset()` forgets everything (tests swap environments and moto backends).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from engine import metrics, settings, telemetry
from engine.clients.sms import SmsSender
from engine.dal.ddb.sessions import SessionStore
from engine.dal.pg.db import Database, connect_engine
from engine.dal.pg.loans import LoanStore
from engine.logic.otp import Hasher
from engine.logic.sessions import Limits, Sessions, SessionVerifier
from shared import aws, secrets


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
    arn = settings.require("OTP_HASH_KEY_ARN", settings.get().otp_hash_key_arn)
    return Hasher.from_secret(secrets.get_json_secret(arn))


def sessions() -> SessionStore:
    table = settings.require("SESSIONS_TABLE", settings.get().sessions_table)
    return SessionStore(dynamodb(), table)


def sms() -> SmsSender:
    config = settings.get()
    return SmsSender(
        aws.client("sns"),
        sender_id=config.sms_sender_id,
        entity_id=config.sms_dlt_entity_id,
        template_id=config.sms_otp_template_id,
    )


def session_limits() -> Limits:
    config = settings.get()
    return Limits(
        otp_ttl_seconds=config.otp_ttl_seconds,
        session_ttl_seconds=config.session_ttl_seconds,
        sends_per_pair=config.otp_sends_per_pair,
        pair_window_seconds=config.otp_pair_window_seconds,
        requests_per_ip=config.otp_requests_per_ip,
        ip_window_seconds=config.otp_ip_window_seconds,
        max_wrong_attempts=config.otp_max_wrong_attempts,
        session_requests_per_ip=config.session_requests_per_ip,
        response_floor_seconds=config.otp_response_floor_ms / 1000,
    )


def session_service() -> Sessions:
    """Signing in (validate-loan, sessions)."""
    return Sessions(
        store=sessions(),
        hasher=hasher(),
        limits=session_limits(),
        loans=loans(),
        sms=sms(),
        on_sms_failed=lambda: telemetry.publish(metrics.OTP_SMS_FAILED, 1),
    )


def session_verifier() -> SessionVerifier:
    """What every portal handler checks `X-Session-Token` with (no SMS client, no loans)."""
    return SessionVerifier(sessions(), hasher())


def reset() -> None:
    """Forget cached settings, clients, secrets and the database connection."""
    if database.cache_info().currsize:
        database().close_all()
    for builder in (database, hasher):
        builder.cache_clear()
    settings.reset()
    secrets.clear_cache()
    aws.reset_clients()
