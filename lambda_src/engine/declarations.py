"""The payments engine's functions and API routes, declared once (see shared/declarations.py).

Two APIs: the public customer portal (API keys, WAF rate limit per IP) and the internal engine
for branch staff (Cognito, RBAC by role and branch). Each has its own health function, so a
failover check of one API exercises that API's own path to its dependencies.
"""

from __future__ import annotations

from typing import Any

from engine.dal.ddb.queue import LMS_QUEUE_TYPES
from engine.models import collections, dcr, lms_admin, portal, rbac, users
from engine.models.rbac import Scope
from engine.models.status import PostingStatus
from engine.queues import LMS_POSTER_DLQ, RAZORPAY_WEBHOOK_REPLAY, TRANSACTIONS_SYNC_DLQ
from engine.tables import TRANSACTION_QUEUE, TRANSACTIONS
from shared.declarations import EventSource, FunctionSpec, Route, Schedule

PORTAL_HEALTH = FunctionSpec(
    name="PortalHealth",
    handler="engine.handlers.health.handler",
    description="GET /health of the customer portal API (DynamoDB + PostgreSQL via the proxy)",
    memory_mb=256,
    timeout_seconds=10,
)
INTERNAL_HEALTH = FunctionSpec(
    name="InternalHealth",
    handler="engine.handlers.health.handler",
    description="GET /health of the internal engine API (DynamoDB + PostgreSQL via the proxy)",
    memory_mb=256,
    timeout_seconds=10,
)
SCHEMA_MIGRATOR = FunctionSpec(
    name="SchemaMigrator",
    handler="engine.handlers.migrate.on_cfn_event",
    description="Custom resource: applies the PostgreSQL migrations through RDS Proxy on deploy",
    memory_mb=512,
    timeout_seconds=300,
)

# --- Customer portal (part 1): API key on every route; a customer session where a loan is
# involved (the handler checks the `X-Session-Token` header against the Sessions table).
PORTAL_SESSIONS = FunctionSpec(
    name="PortalSessions",
    handler="engine.handlers.portal.sessions.handler",
    description="Validate a loan (OTP by SMS) and open a customer session",
    memory_mb=512,
    timeout_seconds=10,
)
PORTAL_LOANS = FunctionSpec(
    name="PortalLoans",
    handler="engine.handlers.portal.loans.handler",
    description="A session's loan summary and its payment history",
    memory_mb=512,
    timeout_seconds=10,
)
PORTAL_PAYMENTS = FunctionSpec(
    name="PortalPayments",
    handler="engine.handlers.portal.payments.handler",
    description="Create a repayment (RazorPay order), take the checkout notification, status",
    memory_mb=512,
    timeout_seconds=20,
)
PORTAL_RECEIPTS = FunctionSpec(
    name="PortalReceipts",
    handler="engine.handlers.portal.receipts.handler",
    description="A captured payment's receipt as JSON or PDF (generated once, kept in S3)",
    memory_mb=512,
    timeout_seconds=20,
)
RAZORPAY_WEBHOOK = FunctionSpec(
    name="RazorpayWebhook",
    handler="engine.handlers.webhooks.razorpay.handler",
    description="POST /api/v1/webhooks/razorpay: verify, dedupe, move the payment forward",
    memory_mb=512,
    timeout_seconds=10,
)
RAZORPAY_WEBHOOK_REPLAYER = FunctionSpec(
    name="RazorpayWebhookReplayer",
    handler="engine.handlers.webhooks.razorpay_replay.handler",
    description="Applies RazorPay webhooks re-driven from their DLQ",
    memory_mb=512,
    timeout_seconds=60,
)
PAYMENT_SWEEPER = FunctionSpec(
    name="PaymentSweeper",
    handler="engine.handlers.jobs.payment_sweeper.handler",
    description="Resolves payments left CREATED/AUTHORIZED through RazorPay; expires unpaid",
    memory_mb=512,
    timeout_seconds=120,
    active_region_only=True,
)
TRANSACTIONS_SYNC = FunctionSpec(
    name="TransactionsSync",
    handler="engine.handlers.consumers.transactions_stream.handler",
    description="Transactions stream -> PostgreSQL payments and loan balances, exactly once",
    memory_mb=512,
    timeout_seconds=60,
    active_region_only=True,
)
TRANSACTIONS_REPAIR = FunctionSpec(
    name="TransactionsRepair",
    handler="engine.handlers.jobs.transactions_repair.handler",
    description="Re-syncs transactions whose PostgreSQL row is missing or stale",
    memory_mb=512,
    timeout_seconds=300,
    active_region_only=True,
)

# --- LMS posting (part 2): every receipt reaches the LMS once (engine.logic.lms_posting).
LMS_POSTER = FunctionSpec(
    name="LmsPoster",
    handler="engine.handlers.consumers.lms_poster.handler",
    description="TransactionQueue stream -> posts each new LMS receipt as soon as it is queued",
    memory_mb=512,
    timeout_seconds=120,
    active_region_only=True,
)
LMS_SWEEPER = FunctionSpec(
    name="LmsSweeper",
    handler="engine.handlers.jobs.lms_sweep.handler",
    description="Posts LMS receipts due for a retry or left by a poster; queue depth and age",
    memory_mb=512,
    timeout_seconds=120,
    active_region_only=True,
)
LMS_HEARTBEAT = FunctionSpec(
    name="LmsHeartbeat",
    handler="engine.handlers.jobs.lms_heartbeat.handler",
    description="Every minute: can the LMS be reached (lms_connectivity_status 1 or 0)",
    memory_mb=256,
    timeout_seconds=30,
    active_region_only=True,
)

# Staff intervention on LMS postings (the internal API, Cognito): list items by status, retry
# an EXCEPTION item now, or mark it resolved, each written with its audit record
# (engine.dal.ddb.intervention). No PostgreSQL, no LMS call: the poster does the posting.
INTERNAL_LMS = FunctionSpec(
    name="InternalLms",
    handler="engine.handlers.internal.lms.handler",
    description="Staff: LMS postings by status; retry or resolve an EXCEPTION item (audited)",
    memory_mb=512,
    timeout_seconds=10,
)

# --- The staff engine (part 3): every route below resolves its caller to their users row and
# checks the route's permission (engine.handlers.internal.staff, engine.models.rbac); every
# action is appended to the audit trail's hash chain (engine.dal.ddb.audit).
INTERNAL_COLLECTIONS = FunctionSpec(
    name="InternalCollections",
    handler="engine.handlers.internal.collections.handler",
    description="Staff: cash/cheque/DD collections with receipts; cancel a wrong receipt",
    memory_mb=512,
    timeout_seconds=15,
)
INTERNAL_DCR = FunctionSpec(
    name="InternalDcr",
    handler="engine.handlers.internal.dcr.handler",
    description="Staff: the daily collection reconciliation and its DBS (maker-checker)",
    memory_mb=512,
    timeout_seconds=15,
)
INTERNAL_AUDIT = FunctionSpec(
    name="InternalAudit",
    handler="engine.handlers.internal.audit.handler",
    description="Staff: the audit trail, filtered; recompute a day's hash chains",
    memory_mb=512,
    timeout_seconds=30,
)
INTERNAL_USERS = FunctionSpec(
    name="InternalUsers",
    handler="engine.handlers.internal.users.handler",
    description="Staff: users by branch; an admin grants or changes a role (audited)",
    memory_mb=512,
    timeout_seconds=15,
)
# The staff pool's post-authentication trigger: each sign-in is audited (and last_login_at).
STAFF_SIGN_IN = FunctionSpec(
    name="StaffSignIn",
    handler="engine.handlers.staff_sign_in.handler",
    description="Cognito post-authentication: audit each staff sign-in, stamp last_login_at",
    memory_mb=256,
    timeout_seconds=5,
)
# Nightly HRMS (DarwinBox) sync: leavers deactivated (and disabled in the staff pool),
# transfers moved between branches, joiners created without roles.
HRMS_SYNC = FunctionSpec(
    name="HrmsSync",
    handler="engine.handlers.jobs.hrms_sync.handler",
    description="Nightly: DarwinBox employees -> users (leavers off, transfers, joiners)",
    memory_mb=512,
    timeout_seconds=600,
    active_region_only=True,
)

# --- Loan master sync (seed §6.4.2): nightly, the loans the LMS changed since the last
# watermark into PostgreSQL (engine.logic.loan_sync), resumable from its saved cursor.
LOAN_SYNC = FunctionSpec(
    name="LoanSync",
    handler="engine.handlers.jobs.loan_sync.handler",
    description="Nightly: loans changed at the LMS since the last watermark -> PostgreSQL",
    memory_mb=512,
    timeout_seconds=900,
    active_region_only=True,
)

# Invoked by the DR runbook (never scheduled), in the Region taking over, before traffic moves.
# Its timeout stays under the 300 seconds an SSM aws:invokeLambdaFunction step waits.
RECEIPT_COUNTERS_CARRY_OVER = FunctionSpec(
    name="ReceiptCountersCarryOver",
    handler="engine.handlers.jobs.receipt_counters.handler",
    description="DR runbook: raise this Region's receipt counters above PostgreSQL's receipts",
    memory_mb=512,
    timeout_seconds=240,
)

FUNCTIONS = (
    PORTAL_HEALTH,
    INTERNAL_HEALTH,
    SCHEMA_MIGRATOR,
    PORTAL_SESSIONS,
    PORTAL_LOANS,
    PORTAL_PAYMENTS,
    PORTAL_RECEIPTS,
    RAZORPAY_WEBHOOK,
    RAZORPAY_WEBHOOK_REPLAYER,
    PAYMENT_SWEEPER,
    TRANSACTIONS_SYNC,
    TRANSACTIONS_REPAIR,
    LMS_POSTER,
    LMS_SWEEPER,
    LMS_HEARTBEAT,
    INTERNAL_LMS,
    LOAN_SYNC,
    RECEIPT_COUNTERS_CARRY_OVER,
    INTERNAL_COLLECTIONS,
    INTERNAL_DCR,
    INTERNAL_AUDIT,
    INTERNAL_USERS,
    STAFF_SIGN_IN,
    HRMS_SYNC,
)

SCHEDULES = (
    Schedule(
        name="PaymentSweep",
        function=PAYMENT_SWEEPER.name,
        expression="rate(5 minutes)",
        description="Resolve payments a lost webhook or a closed browser left open",
    ),
    Schedule(
        name="TransactionsRepair",
        function=TRANSACTIONS_REPAIR.name,
        expression="rate(1 hour)",
        description="Re-sync transactions whose PostgreSQL row is missing or stale",
    ),
    Schedule(
        name="LmsSweep",
        function=LMS_SWEEPER.name,
        expression="rate(1 minute)",
        description="Post LMS receipts due for a retry, or whose poster's claim ran out",
    ),
    Schedule(
        name="LmsHeartbeat",
        function=LMS_HEARTBEAT.name,
        expression="rate(1 minute)",
        description="Publish lms_connectivity_status (the LMS reachable or not)",
    ),
    # EventBridge reads cron in UTC: 20:30 UTC is 02:00 IST, outside branch hours.
    Schedule(
        name="LoanSync",
        function=LOAN_SYNC.name,
        expression="cron(30 20 * * ? *)",
        description="Import loans changed at the LMS since the last watermark into PostgreSQL",
    ),
    # 21:00 UTC is 02:30 IST: after the HRMS's own nightly close, before branches open.
    Schedule(
        name="HrmsSync",
        function=HRMS_SYNC.name,
        expression="cron(0 21 * * ? *)",
        description="Deactivate leavers, move transfers, create joiners from DarwinBox",
    ),
)

EVENT_SOURCES = (
    EventSource(
        function=TRANSACTIONS_SYNC.name,
        kind="dynamodb-stream",
        source=TRANSACTIONS.logical_name,
        batch_size=100,
        max_batching_window_seconds=1,
        on_failure=TRANSACTIONS_SYNC_DLQ.name,
    ),
    # The poster never fails a record for the LMS's sake (an item it cannot post now is
    # rescheduled in the table); what reaches the DLQ is a batch the function itself failed on.
    # Only LMS items (receipts, reversals) whose new image is PENDING invoke it (a capture's or
    # a cancellation's new item, a person's "retry now", a reschedule): its own claims and
    # outcomes come back on the stream and are dropped by Lambda, and a TTL removal has no new
    # image. The handler checks the same, and passes over an item not yet due.
    EventSource(
        function=LMS_POSTER.name,
        kind="dynamodb-stream",
        source=TRANSACTION_QUEUE.logical_name,
        batch_size=25,
        max_batching_window_seconds=1,
        on_failure=LMS_POSTER_DLQ.name,
        filter_pattern={
            "dynamodb": {
                "NewImage": {
                    "queue_type": {"S": list(LMS_QUEUE_TYPES)},
                    "status": {"S": [PostingStatus.PENDING.value]},
                }
            }
        },
    ),
    EventSource(
        function=RAZORPAY_WEBHOOK_REPLAYER.name,
        kind="sqs",
        source=RAZORPAY_WEBHOOK_REPLAY.name,
        batch_size=10,
    ),
)

PORTAL_ROUTES = (
    Route(
        "GET",
        "/health",
        PORTAL_HEALTH.name,
        auth="none",
        summary="Customer portal health: 200 when DynamoDB and PostgreSQL answer, else 503",
        responses={200: "Healthy", 503: "A dependency is down"},
    ),
    Route(
        "POST",
        "/api/v1/customer/validate-loan",
        PORTAL_SESSIONS.name,
        auth="none",
        request_model=portal.VALIDATE_LOAN.gateway_model(),
        summary="Send an OTP to the loan's mobile (the same answer whether or not it matches)",
        responses={200: "Challenge issued", 400: "Invalid request", 429: "Too many attempts"},
    ),
    Route(
        "POST",
        "/api/v1/customer/sessions",
        PORTAL_SESSIONS.name,
        auth="none",
        request_model=portal.CREATE_SESSION.gateway_model(),
        summary="Exchange a challenge and its OTP for a 15-minute session bound to the loan",
        responses={
            201: "Session",
            400: "Invalid request",
            401: "Wrong or expired OTP",
            429: "Too many attempts",
        },
    ),
    Route(
        "GET",
        "/api/v1/customer/loans/{loan_account_number}",
        PORTAL_LOANS.name,
        auth="none",
        summary="The session's loan: masked name, outstanding, EMI, next due, overdue, status",
        required_headers=("X-Session-Token",),
        responses={200: "The loan", 401: "No or expired session", 404: "Not found"},
    ),
    Route(
        "GET",
        "/api/v1/customer/loans/{loan_account_number}/payments",
        PORTAL_LOANS.name,
        auth="none",
        summary="The loan's payments, newest first (opaque cursor)",
        required_headers=("X-Session-Token",),
        responses={
            200: "A page of payments",
            400: "Bad cursor or limit",
            401: "No or expired session",
            404: "Not found",
        },
    ),
    Route(
        "POST",
        "/api/v1/customer/payments",
        PORTAL_PAYMENTS.name,
        auth="none",
        request_model=portal.CREATE_PAYMENT.gateway_model(),
        summary="Start a repayment: our payment and a RazorPay order",
        required_headers=("X-Session-Token", "Idempotency-Key"),
        responses={
            201: "Payment created",
            400: "Invalid request",
            401: "No or expired session",
            404: "Not found",
            409: "Idempotency-Key reused with a different body",
            422: "Amount not payable or loan closed",
            503: "RazorPay unavailable",
        },
    ),
    Route(
        "POST",
        "/api/v1/customer/payment-notification",
        PORTAL_PAYMENTS.name,
        auth="none",
        request_model=portal.PAYMENT_NOTIFICATION.gateway_model(),
        summary="RazorPay Checkout's handler result: verify, confirm with RazorPay, receipt",
        required_headers=("X-Session-Token",),
        responses={
            200: "Payment status and receipt",
            400: "Invalid request or signature",
            401: "No or expired session",
            404: "Not found",
            503: "RazorPay unavailable",
        },
    ),
    Route(
        "GET",
        "/api/v1/customer/payments/{payment_id}",
        PORTAL_PAYMENTS.name,
        auth="none",
        summary="A payment's status and receipt number",
        required_headers=("X-Session-Token",),
        responses={200: "The payment", 401: "No or expired session", 404: "Not found"},
    ),
    Route(
        "GET",
        "/api/v1/customer/payments/{payment_id}/receipt",
        PORTAL_RECEIPTS.name,
        auth="none",
        summary="The receipt as JSON, or as a PDF with Accept: application/pdf",
        required_headers=("X-Session-Token",),
        responses={
            200: "The receipt",
            401: "No or expired session",
            404: "Not found or not captured",
        },
    ),
    Route(
        "POST",
        "/api/v1/webhooks/razorpay",
        RAZORPAY_WEBHOOK.name,
        auth="none",
        summary="RazorPay webhooks (X-Razorpay-Signature over the raw body; no API key)",
        responses={200: "Received", 400: "Malformed", 401: "Bad signature"},
    ),
)
_STAFF = {401: "No staff identity", 403: "Inactive, or not permitted for this branch/record"}
_ALL, _BRANCH, _OWN = Scope.ALL_BRANCHES.value, Scope.OWN_BRANCH.value, Scope.OWN_RECORDS.value
_DCR = "/api/v1/dcr/{branch_code}/{collection_date}"
_DCR_STEP = {404: "No such branch", 503: "The day's previous step is still being audited"}


def _staff(  # noqa: PLR0917 - each call is one row of the route table
    method: str,
    path: str,
    function: FunctionSpec,
    permission: str,
    scope: str,
    summary: str,
    responses: dict[int, str],
    **kwargs: Any,
) -> Route:
    """A staff route: Cognito-authorized, with its permission and scope (engine.models.rbac);
    the handler resolves the caller (engine.handlers.internal.staff.authorize)."""
    return Route(
        method,
        path,
        function.name,
        auth="cognito",
        summary=summary,
        responses=_STAFF | responses,
        permission=permission,
        scope=scope,
        **kwargs,
    )


INTERNAL_ROUTES = (
    Route(
        "GET",
        "/health",
        INTERNAL_HEALTH.name,
        auth="none",
        summary="Internal engine health: 200 when DynamoDB and PostgreSQL answer, else 503",
        responses={200: "Healthy", 503: "A dependency is down"},
    ),
    # --- LMS postings (part 2): head office and finance act on the outbox by hand.
    _staff(
        "GET",
        "/api/v1/lms/postings",
        INTERNAL_LMS,
        rbac.LMS_READ,
        _ALL,
        "LMS postings in a status (EXCEPTION by default), oldest first; query: "
        "status, loan_account_number, limit (1-100), cursor",
        {200: "A page of postings", 400: "Bad status, loan account number, limit or cursor"},
    ),
    _staff(
        "POST",
        "/api/v1/lms/postings/{transaction_id}/retry",
        INTERNAL_LMS,
        rbac.LMS_ACT,
        _ALL,
        "Try an EXCEPTION posting again now (PENDING, attempts reset; audited)",
        {
            202: "Queued for posting",
            400: "Invalid request",
            409: "The posting is not in EXCEPTION",
        },
        request_model=lms_admin.RETRY_POSTING.gateway_model(),
    ),
    _staff(
        "POST",
        "/api/v1/lms/postings/{transaction_id}/resolve",
        INTERNAL_LMS,
        rbac.LMS_ACT,
        _ALL,
        "Settle an EXCEPTION posting by hand (RESOLVED; with lms_receipt_id the "
        "transaction is marked posted; audited)",
        {200: "Resolved", 400: "Invalid request", 409: "The posting is not in EXCEPTION"},
        request_model=lms_admin.RESOLVE_POSTING.gateway_model(),
    ),
    # --- Collections: field officers and cashiers take money; a branch manager cancels.
    _staff(
        "POST",
        "/api/v1/collections",
        INTERNAL_COLLECTIONS,
        rbac.COLLECTIONS_CREATE,
        _OWN,
        "Record a cash, cheque or demand-draft collection and issue its receipt (the LMS "
        "posting is queued); cash from one payer is limited per day (s.269ST)",
        {
            201: "Collected: the receipt",
            400: "Invalid request",
            404: "No such loan",
            409: "Idempotency-Key reused with a different body",
            422: "Refused: cash limit, loan closed, amount not payable",
        },
        required_headers=("Idempotency-Key",),
        request_model=collections.COLLECT.gateway_model(),
    ),
    _staff(
        "GET",
        "/api/v1/collections",
        INTERNAL_COLLECTIONS,
        rbac.COLLECTIONS_READ,
        _OWN,
        "Collections, newest first; query: branch_code, business_date, status, limit, cursor "
        "(a field officer sees their own)",
        {200: "A page of collections", 400: "Bad filter or cursor"},
    ),
    _staff(
        "GET",
        "/api/v1/collections/{collection_id}",
        INTERNAL_COLLECTIONS,
        rbac.COLLECTIONS_READ,
        _OWN,
        "One collection and its receipt",
        {200: "The collection", 404: "Not found"},
    ),
    _staff(
        "POST",
        "/api/v1/collections/{collection_id}/cancel",
        INTERNAL_COLLECTIONS,
        rbac.COLLECTIONS_CANCEL,
        _BRANCH,
        "Cancel a wrong receipt: its branch's manager, the same day, with a reason, before "
        "the day's DCR is submitted; the reversal is posted to the LMS",
        {
            200: "Cancelled",
            400: "Invalid request",
            404: "Not found",
            409: "Already cancelled, or the day is closed",
            422: "Not the same day",
        },
        request_model=collections.CANCEL.gateway_model(),
    ),
    # --- DCR/DBS: the cashier prepares and submits the day; another person approves it.
    _staff(
        "GET",
        "/api/v1/dcr",
        INTERNAL_DCR,
        rbac.DCR_READ,
        _BRANCH,
        "DCRs, newest first; query: branch_code, from, to, status",
        {200: "DCRs", 400: "Bad filter"},
    ),
    _staff(
        "GET",
        _DCR,
        INTERNAL_DCR,
        rbac.DCR_READ,
        _BRANCH,
        "A branch's DCR for a date: its totals from that day's collections, its DBS, its state",
        {200: "The DCR", 400: "Bad branch or date", 404: "No such branch"},
    ),
    _staff(
        "POST",
        _DCR + "/submit",
        INTERNAL_DCR,
        rbac.DCR_PREPARE,
        _BRANCH,
        "Submit the day (the maker): the DBS denomination count, a variance reason when the "
        "count differs from the cash collected",
        {
            200: "Submitted",
            400: "Invalid request",
            409: "Not in DRAFT",
            422: "Count differs and no variance reason, or a future date",
        }
        | _DCR_STEP,
        request_model=dcr.SUBMIT_DCR.gateway_model(),
    ),
    _staff(
        "POST",
        _DCR + "/approve",
        INTERNAL_DCR,
        rbac.DCR_APPROVE,
        _BRANCH,
        "Approve a submitted DCR (the checker: not its submitter); the day is then locked",
        {
            200: "Approved",
            403: "Not permitted here, or the DCR's submitter (maker-checker)",
            409: "Not SUBMITTED, or the day's collections changed since",
        }
        | _DCR_STEP,
    ),
    _staff(
        "POST",
        _DCR + "/reject",
        INTERNAL_DCR,
        rbac.DCR_APPROVE,
        _BRANCH,
        "Reject a submitted DCR with a reason (not its submitter)",
        {
            200: "Rejected",
            400: "Invalid request",
            403: "Not permitted here, or the DCR's submitter (maker-checker)",
            409: "Not SUBMITTED",
        }
        | _DCR_STEP,
        request_model=dcr.REJECT_DCR.gateway_model(),
    ),
    _staff(
        "POST",
        _DCR + "/reopen",
        INTERNAL_DCR,
        rbac.DCR_PREPARE,
        _BRANCH,
        "Reopen a REJECTED DCR to DRAFT for correction and resubmission",
        {200: "Reopened", 409: "Not REJECTED"} | _DCR_STEP,
    ),
    # --- Audit trail: head office and finance read and verify it.
    _staff(
        "GET",
        "/api/v1/audit",
        INTERNAL_AUDIT,
        rbac.AUDIT_READ,
        _ALL,
        "Audit records; query: date, entity_id, actor_id, action, branch_code, limit, cursor",
        {200: "A page of audit records", 400: "Bad filter or cursor"},
    ),
    _staff(
        "GET",
        "/api/v1/audit/verify",
        INTERNAL_AUDIT,
        rbac.AUDIT_READ,
        _ALL,
        "Recompute a day's hash chains against their anchors; names the first broken link",
        {200: "The verdict (ok, or the first broken link)", 400: "Bad date"},
    ),
    # --- Users: branch managers see their branch; admins grant roles.
    _staff(
        "GET",
        "/api/v1/users",
        INTERNAL_USERS,
        rbac.USERS_READ,
        _BRANCH,
        "Staff users and their roles, by username (no phone numbers); query: branch_code, "
        "active (true or false), limit (1-100), cursor",
        {200: "A page of users", 400: "Bad filter, limit or cursor"},
    ),
    _staff(
        "PUT",
        "/api/v1/users/{user_id}/role",
        INTERNAL_USERS,
        rbac.USERS_MANAGE,
        _ALL,
        "Grant or change a staff member's role (the staff pool's group too; audited); not "
        "your own, and SuperAdmin only by a SuperAdmin. Sent again after a 503, it completes",
        {
            200: "Role set (changed: false when it was already)",
            400: "Invalid request or unknown role",
            404: "No such user",
            409: "Inactive user, the role changed meanwhile, or no staff pool account yet",
            503: "The staff pool failed after the role was recorded: send the request again",
        },
        request_model=users.SET_ROLE.gateway_model(),
    ),
)

# Seed §3.1 user groups and §7.2 roles (engine.models.rbac): the staff pool's groups.
STAFF_ROLES = tuple((r.name, r.description, r.precedence) for r in rbac.ROLES)
