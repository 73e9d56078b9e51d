"""POST /api/v1/webhooks/razorpay: authenticate, apply, answer fast.

* No API key: the `X-Razorpay-Signature` (HMAC-SHA256 of the raw body under the webhook
  secret; the previous secret too during a rotation) is the authentication. Forged: 401.
* Authenticated but not applicable (unreadable, not our payment, not matching it): to the
  DLQ with its raw body and headers, and 200, since RazorPay sending it again changes nothing.
  `make redrive-webhooks SYSTEM=engine ENV=...` moves dead letters to the replay queue.
* Our own store (or, for the receipt lookup, RazorPay) briefly unavailable: 503. RazorPay
  retries a failed delivery with backoff for 24 hours, the same bytes each time, which is
  the retry we want, and the sweeper resolves the payment meanwhile anyway. Only a failure
  lasting most of a day would get the webhook disabled, and that outage pages on its own.
* If the DLQ itself cannot be written, 500: RazorPay keeps the event until we can.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engine import settings, wiring_payments
from engine.clients.razorpay import Unavailable, webhook_signature_ok
from engine.handlers.common import inject_context, logger, router
from engine.logic.dead_letters import DeadLetter, kept_headers
from engine.logic.outcomes import count
from engine.logic.webhooks import InvalidEvent, Unappliable, parse
from shared.api import Reply, Request
from shared.aws import client
from shared.ddb_writes import RETRYABLE_ERRORS
from shared.http import ServiceUnavailable, Unauthorized
from shared.store_errors import Conflict

TRANSIENT = (Conflict, Unavailable, BotoCoreError)

routes = router()


@routes.route("POST", "/api/v1/webhooks/razorpay")
def razorpay_webhook(request: Request) -> Reply:
    body = request.body()
    signature = request.header("X-Razorpay-Signature")
    if not webhook_signature_ok(body, signature, wiring_payments.webhook_secrets()):
        count("webhook_rejected")
        raise Unauthorized("the webhook signature does not verify")
    event_id = request.header("x-razorpay-event-id")
    headers = kept_headers(request.header)
    result = process(body, event_id, headers, getattr(request.context, "aws_request_id", None))
    return Reply(200, {"received": True, "result": result})


def process(body: bytes, event_id: str | None, headers: dict[str, str], request_id: Any) -> str:
    try:
        event = parse(body, event_id)
        result = wiring_payments.webhook_processor().apply(event)
    except (InvalidEvent, Unappliable) as exc:
        dead_letter(DeadLetter(body, headers, f"{type(exc).__name__}: {exc}", request_id))
        return "dead_lettered"
    except TRANSIENT as exc:
        raise _retry_later(event_id, exc) from exc
    except ClientError as exc:
        # A throttle or a 5xx the store's own retries did not outlast: RazorPay's retry is ours.
        if _transient(exc):
            raise _retry_later(event_id, exc) from exc
        raise
    logger.info("webhook handled", extra={"event_id": event_id, "result": result.value})
    return result.value


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _transient(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return _code(exc) in RETRYABLE_ERRORS or status >= 500


def _retry_later(event_id: str | None, exc: Exception) -> ServiceUnavailable:
    logger.warning(
        "webhook not applied yet; RazorPay will retry",
        extra={"event_id": event_id, "error": type(exc).__name__},
    )
    return ServiceUnavailable("briefly unavailable; retry", headers={"Retry-After": "5"})


def dead_letter(letter: DeadLetter) -> None:
    url = settings.require("RAZORPAY_WEBHOOK_DLQ_URL", settings.get().razorpay_webhook_dlq_url)
    client("sqs").send_message(QueueUrl=url, MessageBody=letter.to_message())
    count("webhook_dead_lettered")
    logger.warning(
        "webhook dead-lettered", extra={"event_id": letter.event_id, "error": letter.error}
    )


@inject_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return routes.resolve(event, context)
