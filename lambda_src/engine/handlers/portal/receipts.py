"""GET /api/v1/customer/payments/{payment_id}/receipt: JSON, or the PDF for
`Accept: application/pdf` (made on the first download, kept in the documents bucket, and the
same bytes ever after)."""

from __future__ import annotations

from engine import wiring_payments
from engine.handlers.common import api_handler, router
from engine.handlers.portal.payments import session_payment
from engine.logic import receipts
from shared.api import Reply, Request
from shared.http import NotFound

PDF = "application/pdf"

routes = router()


def wants_pdf(request: Request) -> bool:
    accept = (request.header("Accept") or "").lower()
    return any(part.split(";")[0].strip() == PDF for part in accept.split(","))


@routes.route("GET", "/api/v1/customer/payments/{payment_id}/receipt")
def get_receipt(request: Request) -> Reply:
    payment = session_payment(request)  # the session and the payment, in one read
    if not receipts.issued(payment):
        raise NotFound("this payment has no receipt: it has not been captured")
    if not wants_pdf(request):
        return Reply(200, receipts.view(payment))
    document = receipts.ReceiptPdfs(wiring_payments.documents()).get(payment)
    filename = f"receipt-{payment.transaction_id}.pdf"
    headers = {
        "Content-Type": PDF,
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=3600",
    }
    return Reply(200, document, headers)


handler = api_handler(routes)
