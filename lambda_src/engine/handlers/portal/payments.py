"""POST /api/v1/customer/payments, POST /api/v1/customer/payment-notification and
GET /api/v1/customer/payments/{payment_id}: parse, check the session, call the logic."""

from __future__ import annotations

import re

from engine import wiring_payments
from engine.handlers.common import api_handler, logger, router
from engine.handlers.portal.auth import customer_session, customer_session_with
from engine.handlers.portal.payment_errors import busy_as_503
from engine.models import portal
from engine.models.payment import PAYMENT_ID_PATTERN, Payment
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
    try:
        body = portal.PAYMENT_NOTIFICATION.parse(request.body())
    except Exception:
        customer_session(request)  # no live session: 401 before the body's 400, as ever
        raise
    store = wiring_payments.payments()
    with busy_as_503():
        # The session and the payment in one read; the session's checks come first.
        session, (item,) = customer_session_with(request, store.read_op(body.payment_id))
        payment = wiring_payments.payment_service().notify_read(
            body, session.loan_account_number, store.from_read(item)
        )
    logger.info(
        "payment notification",
        extra={"payment_id": payment.transaction_id, "status": payment.status.value},
    )
    return Reply(200, {"status": payment.status.value, "receipt_number": payment.receipt_number})


def session_payment(request: Request) -> Payment:
    """The payment the path names, read with the customer's session in one request: 401
    without a live session (whatever the id), else 404 for a malformed id, a payment that
    does not exist and another loan's payment alike."""
    try:
        wanted = payment_id(request)
    except NotFound:
        customer_session(request)
        raise
    store = wiring_payments.payments()
    with busy_as_503():
        session, (item,) = customer_session_with(request, store.read_op(wanted))
    payment = store.from_read(item)
    if payment is None or payment.loan_account_number != session.loan_account_number:
        raise NotFound("no such payment")  # another loan's payment: answered as none
    return payment


@routes.route("GET", "/api/v1/customer/payments/{payment_id}")
def get_payment(request: Request) -> Reply:
    return Reply(200, session_payment(request).status_view())


handler = api_handler(routes)
