"""Builds the engine's stores and clients from settings, once per container.

Each builder is small and cached: a warm container reuses its boto3 clients, its one
PostgreSQL connection and its secrets. Each builder imports what it builds, so a function
(or a route) pays on a cold start only for what it uses: the stream consumer never loads the
session modules, and the portal routes that never read PostgreSQL (most of them) never load
psycopg, whose import alone costs about half an `import boto3` (`make bench`). What every
invocation of a function needs is imported by the handler itself (the portal's session check
by engine.handlers.portal.auth, the stream's SQL by its dal module), so the bench's import
figure is still the cost of the function's lightest invocation, not less.
`reset()` forgets everything (tests swap environments and moto backends).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from engine import settings
from shared import aws

if TYPE_CHECKING:
    from engine.clients.sms import SmsSender
    from engine.dal.ddb.sessions import SessionStore
    from engine.dal.pg.db import Database
    from engine.dal.pg.loans import LoanStore
    from engine.dal.pg.staff import StaffStore
    from engine.logic.otp import Hasher
    from engine.logic.sessions import Limits, Sessions, SessionVerifier
    from engine.models.loan import Loan

# The builders' imports are deliberate (see the module docstring).
# ruff: noqa: PLC0415


def dynamodb() -> Any:
    return aws.client("dynamodb")


@cache
def database() -> Database:
    from engine.dal.pg.db import Database, connect_engine

    timeout_ms = settings.get().statement_timeout_ms
    return Database(lambda: connect_engine("engine", timeout_ms))


def loans() -> LoanStore:
    from engine.dal.pg.loans import LoanStore

    return LoanStore(database())


def staff() -> StaffStore:
    from engine.dal.pg.staff import StaffStore

    return StaffStore(database())


@cache
def hasher() -> Hasher:
    from engine.logic.otp import Hasher
    from shared import secrets

    arn = settings.require("OTP_HASH_KEY_ARN", settings.get().otp_hash_key_arn)
    return Hasher.from_secret(secrets.get_json_secret(arn))


def sessions() -> SessionStore:
    from engine.dal.ddb.sessions import SessionStore

    table = settings.require("SESSIONS_TABLE", settings.get().sessions_table)
    return SessionStore(dynamodb(), table)


def sms() -> SmsSender:
    from engine.clients.sms import SmsSender

    config = settings.get()
    return SmsSender(
        aws.client("sns"),
        sender_id=config.sms_sender_id,
        entity_id=config.sms_dlt_entity_id,
        template_id=config.sms_otp_template_id,
    )


def session_limits() -> Limits:
    from engine.logic.sessions import Limits

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


class _Loans:
    """The loan store, built on the first lookup: opening a session (no loan read) never
    imports psycopg; validate-loan does, on its first call."""

    def loan_by_number(self, loan_account_number: str) -> Loan | None:
        return loans().loan_by_number(loan_account_number)


def session_service() -> Sessions:
    """Signing in (validate-loan, sessions)."""
    from engine import metrics, telemetry
    from engine.logic.sessions import Sessions

    return Sessions(
        store=sessions(),
        hasher=hasher(),
        limits=session_limits(),
        loans=_Loans(),
        sms=sms(),
        on_sms_failed=lambda: telemetry.publish(metrics.OTP_SMS_FAILED, 1),
    )


def session_verifier() -> SessionVerifier:
    """What every portal handler checks `X-Session-Token` with (no SMS client, no loans)."""
    from engine.logic.sessions import SessionVerifier

    return SessionVerifier(sessions(), hasher())


def reset() -> None:
    """Forget cached settings, clients, secrets and the database connection."""
    from shared import secrets

    if database.cache_info().currsize:
        database().close_all()
    for builder in (database, hasher):
        builder.cache_clear()
    settings.reset()
    secrets.clear_cache()
    aws.reset_clients()
