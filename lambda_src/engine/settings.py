"""The engine's runtime settings, read from the function's environment once per container.

The service stack sets these variables (and the local runner and the tests set the same
names). A variable a function needs but does not have fails at first use with its name, not
with a KeyError deep in a handler; defaults are the documented production values.

`Settings` is a NamedTuple rather than a frozen dataclass: read-only all the same, and made
in a tenth of the time on every function's cold start (a 35-field frozen dataclass costs
about 1.5 ms to define on Python 3.12).
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import cache
from typing import NamedTuple


class Settings(NamedTuple):
    transactions_table: str
    sessions_table: str
    idempotency_table: str
    counters_table: str
    transaction_queue_table: str
    audit_table: str
    # The Object Lock bucket the audit chains' heads are anchored in (engine.clients.anchors);
    # unset (unit tests), appends are not anchored.
    audit_anchor_bucket: str
    razorpay_base_url: str
    razorpay_secret_arn: str
    razorpay_webhook_secret_arn: str
    razorpay_auto_capture: bool
    razorpay_webhook_dlq_url: str
    documents_bucket: str
    event_bus_name: str
    sms_sender_id: str
    sms_dlt_entity_id: str
    sms_otp_template_id: str
    max_payment_amount: Decimal
    order_expiry_minutes: int
    otp_ttl_seconds: int
    session_ttl_seconds: int
    otp_hash_key_arn: str
    db_proxy_endpoint: str
    db_port: int
    db_name: str
    db_user: str
    database_url: str
    statement_timeout_ms: int
    service_name: str
    # validate-loan answers no sooner than this, matching loan or not, so the time an SMS
    # send takes does not tell a caller that the pair matched.
    otp_response_floor_ms: int
    # Limits on asking for OTPs (per submitted loan+mobile pair, and per source IP) and on
    # opening sessions (per source IP); each counted in fixed windows of *_window_seconds.
    otp_sends_per_pair: int
    otp_pair_window_seconds: int
    otp_requests_per_ip: int
    otp_ip_window_seconds: int
    otp_max_wrong_attempts: int
    session_requests_per_ip: int
    # After a failover, the receipt counters are raised this far above the last sequence
    # PostgreSQL holds (room for receipts the old Region issued that had not reached it).
    receipt_counter_gap: int
    # Staff collections (engine.logic.collections): cash from one payer on one day at or
    # above this is refused (Income Tax Act s.269ST); collected_at no older than this.
    cash_limit_per_payer_per_day: Decimal
    collection_max_age_days: int
    # The LMS (engine.clients.lms, engine.logic.lms_posting): where, with which credentials
    # (a secret of {"client_id", "client_secret"}), each call's timeout, how long a poster's
    # claim on an item lasts, how often an item is tried before it waits for a person, and
    # the retry backoff (base x 2^n up to the cap). The breaker opens when more than
    # lms_breaker_failure_ratio of at least lms_breaker_min_volume calls in its window failed.
    lms_base_url: str
    lms_secret_arn: str
    lms_timeout_seconds: int
    lms_lease_seconds: int
    lms_max_attempts: int
    lms_backoff_base_seconds: int
    lms_backoff_cap_seconds: int
    lms_breaker_min_volume: int
    lms_breaker_failure_ratio: Decimal
    lms_breaker_window_seconds: int
    lms_breaker_open_seconds: int
    # The staff Cognito pool whose groups are the roles (engine.wiring_users.staff_pool).
    staff_user_pool_id: str
    # The HRMS (DarwinBox, docs/hrms-api.yml) the nightly HRMS sync reads: where, with which
    # credentials (a secret of {"api_user", "api_password", "api_key"}), each call's timeout.
    hrms_base_url: str
    hrms_secret_arn: str
    hrms_timeout_seconds: int


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"environment variable {name} must be an integer") from None


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else raw.strip().lower() == "true"


@cache
def get() -> Settings:
    return Settings(
        transactions_table=_text("TRANSACTIONS_TABLE"),
        sessions_table=_text("SESSIONS_TABLE"),
        idempotency_table=_text("IDEMPOTENCY_TABLE"),
        counters_table=_text("COUNTERS_TABLE"),
        transaction_queue_table=_text("TRANSACTION_QUEUE_TABLE"),
        audit_table=_text("AUDIT_TABLE"),
        audit_anchor_bucket=_text("AUDIT_ANCHOR_BUCKET"),
        razorpay_base_url=_text("RAZORPAY_BASE_URL", "https://api.razorpay.com").rstrip("/"),
        razorpay_secret_arn=_text("RAZORPAY_SECRET_ARN"),
        razorpay_webhook_secret_arn=_text("RAZORPAY_WEBHOOK_SECRET_ARN"),
        razorpay_auto_capture=_flag("RAZORPAY_AUTO_CAPTURE", True),
        razorpay_webhook_dlq_url=_text("RAZORPAY_WEBHOOK_DLQ_URL"),
        documents_bucket=_text("DOCUMENTS_BUCKET"),
        event_bus_name=_text("EVENT_BUS_NAME"),
        sms_sender_id=_text("SMS_SENDER_ID"),
        sms_dlt_entity_id=_text("SMS_DLT_ENTITY_ID"),
        sms_otp_template_id=_text("SMS_OTP_TEMPLATE_ID"),
        max_payment_amount=Decimal(_text("MAX_PAYMENT_AMOUNT", "500000.00")),
        order_expiry_minutes=_int("ORDER_EXPIRY_MINUTES", 30),
        otp_ttl_seconds=_int("OTP_TTL_SECONDS", 300),
        session_ttl_seconds=_int("SESSION_TTL_SECONDS", 900),
        otp_hash_key_arn=_text("OTP_HASH_KEY_ARN"),
        db_proxy_endpoint=_text("DB_PROXY_ENDPOINT"),
        db_port=_int("DB_PORT", 5432),
        db_name=_text("DB_NAME"),
        db_user=_text("DB_USER", "engine_app"),
        database_url=_text("DATABASE_URL"),
        statement_timeout_ms=_int("STATEMENT_TIMEOUT_MS", 0),
        service_name=_text("POWERTOOLS_SERVICE_NAME", "engine"),
        otp_response_floor_ms=_int("OTP_RESPONSE_FLOOR_MS", 800),
        otp_sends_per_pair=_int("OTP_SENDS_PER_PAIR", 3),
        otp_pair_window_seconds=_int("OTP_PAIR_WINDOW_SECONDS", 900),
        otp_requests_per_ip=_int("OTP_REQUESTS_PER_IP", 20),
        otp_ip_window_seconds=_int("OTP_IP_WINDOW_SECONDS", 300),
        otp_max_wrong_attempts=_int("OTP_MAX_WRONG_ATTEMPTS", 5),
        session_requests_per_ip=_int("SESSION_REQUESTS_PER_IP", 30),
        receipt_counter_gap=_int("RECEIPT_COUNTER_GAP", 1000),
        cash_limit_per_payer_per_day=Decimal(_text("CASH_LIMIT_PER_PAYER_PER_DAY", "200000")),
        collection_max_age_days=_int("COLLECTION_MAX_AGE_DAYS", 7),
        lms_base_url=_text("LMS_BASE_URL").rstrip("/"),
        lms_secret_arn=_text("LMS_SECRET_ARN"),
        lms_timeout_seconds=_int("LMS_TIMEOUT_SECONDS", 5),
        lms_lease_seconds=_int("LMS_LEASE_SECONDS", 120),
        lms_max_attempts=_int("LMS_MAX_ATTEMPTS", 24),
        lms_backoff_base_seconds=_int("LMS_BACKOFF_BASE_SECONDS", 30),
        lms_backoff_cap_seconds=_int("LMS_BACKOFF_CAP_SECONDS", 3600),
        lms_breaker_min_volume=_int("LMS_BREAKER_MIN_VOLUME", 5),
        lms_breaker_failure_ratio=Decimal(_text("LMS_BREAKER_FAILURE_RATIO", "0.5")),
        lms_breaker_window_seconds=_int("LMS_BREAKER_WINDOW_SECONDS", 120),
        lms_breaker_open_seconds=_int("LMS_BREAKER_OPEN_SECONDS", 60),
        staff_user_pool_id=_text("STAFF_USER_POOL_ID"),
        hrms_base_url=_text("HRMS_BASE_URL").rstrip("/"),
        hrms_secret_arn=_text("HRMS_SECRET_ARN"),
        hrms_timeout_seconds=_int("HRMS_TIMEOUT_SECONDS", 5),
    )


def require(name: str, value: str) -> str:
    """`value`, or a clear error naming the variable a function was deployed without."""
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def reset() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get.cache_clear()
