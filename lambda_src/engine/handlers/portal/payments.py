"""POST /api/v1/customer/payments, POST /api/v1/customer/payment-notification and
GET /api/v1/customer/payments/{payment_id}: parse, check the session, call the logic."""

from __future__ import annotations

import re

from engine import wiring_payments
from engine.handlers.common import api_handler, logger, router
from engine.handlers.portal.auth import customer_session
from engine.handlers.portal.payment_errors import busy_as_503
from engine.models import portal
from engine.models.payment import PAYMENT_ID_PATTERN
from shared.api import Reply, Request
from shared.http import NotFound, ValidationError

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")

routes = router()


def idempotency_key(request: Request) -> str:
    key = request.header(IDEMPOTENCY_HEADER)
    if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError(
            "Idempotency-Key is required: 8 to 128 letters, digits, _ or -",
            details=[{"field": IDEMPOTENCY_HEADER, "issue": "8-128 of [A-Za-z0-9_-]"}],
        )
    return key


def payment_id(request: Request) -> str:
    value = request.path_params.get("payment_id", "")
    if not re.fullmatch(PAYMENT_ID_PATTERN, value):
        raise NotFound("no such payment")  # a malformed id names no payment
    return value


@routes.route("POST", "/api/v1/customer/payments")
def create_payment(request: Request) -> Reply:
    session = customer_session(request)
    body = portal.CREATE_PAYMENT.parse(request.body())
    key = idempotency_key(request)
    with busy_as_503():
        created = wiring_payments.payment_service().create(body, key, session.loan_account_number)
    logger.info(
        "payment created",
        extra={"payment_id": created.payment.transaction_id, "replayed": created.replayed},
    )
    return Reply(201, created.to_api())


@routes.route("POST", "/api/v1/customer/payment-notification")
def payment_notification(request: Request) -> Reply:
    session = customer_session(request)
    body = portal.PAYMENT_NOTIFICATION.parse(request.body())
    with busy_as_503():
        payment = wiring_payments.payment_service().notify(body, session.loan_account_number)
    logger.info(
        "payment notification",
        extra={"payment_id": payment.transaction_id, "status": payment.status.value},
    )
    return Reply(200, {"status": payment.status.value, "receipt_number": payment.receipt_number})


@routes.route("GET", "/api/v1/customer/payments/{payment_id}")
def get_payment(request: Request) -> Reply:
    session = customer_session(request)
    wanted = payment_id(request)
    with busy_as_503():
        payment = wiring_payments.payments().get(wanted)
    if payment is None or payment.loan_account_number != session.loan_account_number:
        raise NotFound("no such payment")  # another loan's payment: answered as none
    return Reply(200, payment.status_view())


handler = api_handler(routes)
