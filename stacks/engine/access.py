"""What each engine business function may touch, and the environment it is given: declared once.

One entry per business function (every engine.declarations FunctionSpec but the health
functions and the schema migrator, which their own stacks grant). The service stacks build
them, but for the few bound to the staff user pool (`beside_the_pool`), which the API
stacks build beside it. Either turns an entry into IAM statements and environment variables
in both Regions;
tests/integration/engine/test_function_access.py runs each handler on moto, records every AWS
call it makes and fails when a call is not covered here; the infra tests read the result off
the synthesized templates.

DynamoDB actions are IAM's, not the API's: a TransactWriteItems needs PutItem, UpdateItem or
ConditionCheckItem on each item's table, a TransactGetItems GetItem. No function may delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from config.engine import EngineConfig
from engine import declarations as fn
from engine.queues import LMS_POSTER_DLQ, RAZORPAY_WEBHOOK_DLQ, TRANSACTIONS_SYNC_DLQ
from engine.tables import (
    AUDIT,
    COUNTERS,
    IDEMPOTENCY,
    SESSIONS,
    TRANSACTION_QUEUE,
    TRANSACTIONS,
)
from shared.declarations import FunctionSpec, QueueSpec
from shared.tables import TableSpec
from stacks.engine.secrets import (
    HRMS_CLIENT,
    LMS_CLIENT,
    OTP_HASH_KEY,
    RAZORPAY_KEY,
    RAZORPAY_WEBHOOK,
    SecretSpec,
)
from stacks.table_access import BATCH_GET, CONDITION_CHECK, GET, PUT, QUERY, UPDATE, TableGrant

SEND = "sqs:SendMessage"
RECEIVE = "sqs:ReceiveMessage"
DELETE_MESSAGE = "sqs:DeleteMessage"
# The receipts' prefix in the documents bucket (engine.logic.receipts).
RECEIPTS_PREFIX = "receipts/"
# The audit chains' heads in the anchor bucket (engine.clients.anchors): one object per
# chain, `audit-anchors/<date>/<branch or HO>.json`, every overwrite a locked version.
ANCHORS_PREFIX = "audit-anchors/"
LIST_VERSIONS = "s3:ListBucketVersions"
# The database login role of the business logic (migration 0007: reads and writes, never
# deletes); IAM authentication through RDS Proxy in the primary Region.
DATABASE_USER = "engine_app"

# "runbook": invoked synchronously by the DR runbook's aws:invokeLambdaFunction step (and
# by hand), never on a schedule. "cognito": a trigger of the staff user pool.
Invoker = Literal["api", "schedule", "stream", "queue", "runbook", "cognito"]
LogKind = Literal["portal", "internal", "scheduler"]


@dataclass(frozen=True)
class QueueGrant:
    queue: QueueSpec
    actions: tuple[str, ...]


@dataclass(frozen=True)
class FunctionAccess:
    invoked_by: Invoker
    # Which log-retention rule its log group follows (stacks/engine/monitoring.py).
    log_kind: LogKind
    tables: tuple[TableGrant, ...] = ()
    # Tables whose names the function is given but never calls on any path (a store it
    # builds whole uses them only for writes this function does not make): no permission.
    named_tables: tuple[TableSpec, ...] = ()
    # Reads the table's stream itself (GetShardIterator, GetRecords), beside any mapping.
    reads_stream: TableSpec | None = None
    queues: tuple[QueueGrant, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    # s3 actions on the documents bucket's receipts/ prefix.
    documents: tuple[str, ...] = ()
    # s3 actions on the audit anchor bucket's audit-anchors/ prefix (ListBucketVersions on
    # the bucket, for that prefix only).
    anchors: tuple[str, ...] = ()
    # cognito-idp actions on this Region's staff user pool (its id in STAFF_USER_POOL_ID).
    staff_pool: tuple[str, ...] = ()
    publishes_events: bool = False
    # Sends SMS straight to phone numbers (SNS Publish with PhoneNumber, no topic).
    sends_sms: bool = False
    database: bool = False
    # Settings from config (see config_values), by variable name.
    settings: tuple[str, ...] = ()
    # Called from the customer's browser: answers name the portal origin (CORS_ALLOW_ORIGIN)
    # where config has one.
    browser: bool = False
    no_dlq_reason: str | None = None


_SYNC = (
    "Invoked only synchronously, by API Gateway's Lambda proxy integration: an error is the "
    "caller's answer, and a DLQ receives only failed asynchronous invocations."
)
_RAZORPAY = ("RAZORPAY_BASE_URL", "RAZORPAY_TIMEOUT_SECONDS")
# Settling a payment (capture, failure, refund) reads it, then moves it in one transaction
# with the loan's captured counter (ADD) and the LMS outbox item; the receipt number is an
# ADD on its counter before that transaction.
_SETTLES = (
    TableGrant(TRANSACTIONS, (GET, UPDATE)),
    TableGrant(COUNTERS, (UPDATE,)),
    TableGrant(TRANSACTION_QUEUE, (PUT,)),
)
# The LMS: the client's settings (heartbeat, poster, sweep, loan sync), and the posting's
# (its claims, retries and the breaker).
_LMS_CLIENT = ("LMS_BASE_URL", "LMS_TIMEOUT_SECONDS")
_LMS_POSTING = (
    *_LMS_CLIENT,
    "LMS_LEASE_SECONDS",
    "LMS_MAX_ATTEMPTS",
    "LMS_BACKOFF_BASE_SECONDS",
    "LMS_BACKOFF_CAP_SECONDS",
    "LMS_BREAKER_MIN_VOLUME",
    "LMS_BREAKER_FAILURE_RATIO",
    "LMS_BREAKER_WINDOW_SECONDS",
    "LMS_BREAKER_OPEN_SECONDS",
)
# Posting a receipt (engine.dal.ddb.posting): an item is claimed and settled by conditional
# UpdateItems; posted, the item and its transaction are marked in one TransactWriteItems
# (an Update on each). The breaker's items live in Counters (shared.breaker_store): read by
# BatchGetItem, counted by UpdateItem ADD, opened by a conditional PutItem, its probe claimed
# and the circuit closed by UpdateItem. Nothing is read by GetItem, nothing deleted.
_LMS_POSTS = (
    TableGrant(TRANSACTIONS, (UPDATE,)),
    TableGrant(COUNTERS, (BATCH_GET, PUT, UPDATE)),
)
_STREAM_NO_DLQ = (
    "Invoked by the {table} stream's event source mapping, not asynchronously: a batch "
    "that still fails after bisecting goes to the mapping's on-failure destination {dlq}."
)
# The audit trail (engine.dal.ddb.audit): an append reads its chain's head (GetItem,
# ConsistentRead), then writes the head's conditional Update and the record's Put in one
# TransactWriteItems, beside the caller's own items; the new head is then anchored in S3
# (a PutObject under audit-anchors/, a new locked version each time).
_AUDIT_APPEND = TableGrant(AUDIT, (GET, PUT, UPDATE))
_ANCHOR_PUT = ("s3:PutObject",)
_CASH_LIMITS = ("CASH_LIMIT_PER_PAYER_PER_DAY", "COLLECTION_MAX_AGE_DAYS")
_HRMS_CLIENT = ("HRMS_BASE_URL", "HRMS_TIMEOUT_SECONDS")
# engine.clients.staff_pool.StaffPool, as IAM names its calls.
_ROLE_GROUPS = (
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
)
_STAFF_LIFECYCLE = ("cognito-idp:AdminDisableUser", "cognito-idp:AdminCreateUser")
# A webhook event id is deduplicated by a conditional put, never read back.
_WEBHOOK_DEDUPE = TableGrant(IDEMPOTENCY, (PUT,))
_SESSION_READ = TableGrant(SESSIONS, (GET,))

ACCESS: dict[str, FunctionAccess] = {
    fn.PORTAL_SESSIONS.name: FunctionAccess(
        invoked_by="api",
        log_kind="portal",
        browser=True,
        # Challenges, sessions and the attempt counters (UpdateItem ADD), one table; it
        # never reads a session back (the other portal functions verify them).
        tables=(TableGrant(SESSIONS, (PUT, UPDATE)),),
        secrets=(OTP_HASH_KEY,),
        sends_sms=True,
        database=True,
        settings=(
            "OTP_TTL_SECONDS",
            "SESSION_TTL_SECONDS",
            "SMS_SENDER_ID",
            "SMS_DLT_ENTITY_ID",
            "SMS_OTP_TEMPLATE_ID",
        ),
        no_dlq_reason=_SYNC,
    ),
    fn.PORTAL_LOANS.name: FunctionAccess(
        invoked_by="api",
        log_kind="portal",
        browser=True,
        tables=(
            _SESSION_READ,
            TableGrant(TRANSACTIONS, (QUERY,), query_indexes=("LoanAccountIndex",)),
        ),
        named_tables=(IDEMPOTENCY, COUNTERS, TRANSACTION_QUEUE),
        secrets=(OTP_HASH_KEY,),
        database=True,
        no_dlq_reason=_SYNC,
    ),
    fn.PORTAL_PAYMENTS.name: FunctionAccess(
        invoked_by="api",
        log_kind="portal",
        browser=True,
        # The create is one transaction: the idempotency claim, the CREATED payment and the
        # loan's payable check (a ConditionCheck on its counter); a replay reads the claim.
        tables=(
            _SESSION_READ,
            TableGrant(IDEMPOTENCY, (GET, PUT)),
            TableGrant(TRANSACTIONS, (GET, PUT, UPDATE)),
            TableGrant(COUNTERS, (UPDATE, CONDITION_CHECK)),
            TableGrant(TRANSACTION_QUEUE, (PUT,)),
        ),
        secrets=(OTP_HASH_KEY, RAZORPAY_KEY),
        publishes_events=True,
        database=True,
        settings=(*_RAZORPAY, "RAZORPAY_AUTO_CAPTURE", "MAX_PAYMENT_AMOUNT"),
        no_dlq_reason=_SYNC,
    ),
    fn.PORTAL_RECEIPTS.name: FunctionAccess(
        invoked_by="api",
        log_kind="portal",
        browser=True,
        tables=(_SESSION_READ, TableGrant(TRANSACTIONS, (GET,))),
        named_tables=(IDEMPOTENCY, COUNTERS, TRANSACTION_QUEUE),
        secrets=(OTP_HASH_KEY,),
        # ListBucket only makes a missing receipt a 404 rather than a 403 (S3's rule): the
        # first download must learn that the PDF is not there yet.
        documents=("s3:GetObject", "s3:PutObject", "s3:ListBucket"),
        no_dlq_reason=_SYNC,
    ),
    fn.RAZORPAY_WEBHOOK.name: FunctionAccess(
        invoked_by="api",
        log_kind="portal",
        tables=(_WEBHOOK_DEDUPE, *_SETTLES),
        queues=(QueueGrant(RAZORPAY_WEBHOOK_DLQ, (SEND,)),),
        secrets=(RAZORPAY_WEBHOOK, RAZORPAY_KEY),
        publishes_events=True,
        settings=_RAZORPAY,
        no_dlq_reason=_SYNC
        + " The handler itself writes a webhook it cannot apply to RazorpayWebhookDLQ.",
    ),
    fn.RAZORPAY_WEBHOOK_REPLAYER.name: FunctionAccess(
        invoked_by="queue",
        log_kind="internal",
        tables=(_WEBHOOK_DEDUPE, *_SETTLES),
        secrets=(RAZORPAY_WEBHOOK, RAZORPAY_KEY),
        publishes_events=True,
        settings=_RAZORPAY,
        no_dlq_reason=(
            "Invoked by an SQS event source mapping, not asynchronously: a message that "
            "fails returns to RazorpayWebhookReplay, whose redrive policy moves it back to "
            "RazorpayWebhookDLQ."
        ),
    ),
    fn.PAYMENT_SWEEPER.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # Open payments by status (StatusIndex), each settled as a webhook would be.
        tables=(
            TableGrant(TRANSACTIONS, (GET, UPDATE), query_indexes=("StatusIndex",)),
            *_SETTLES[1:],
        ),
        named_tables=(IDEMPOTENCY,),
        secrets=(RAZORPAY_KEY,),
        publishes_events=True,
        settings=(*_RAZORPAY, "ORDER_EXPIRY_MINUTES", "PAYMENT_SWEEP_AFTER_SECONDS"),
    ),
    fn.TRANSACTIONS_SYNC.name: FunctionAccess(
        invoked_by="stream",
        log_kind="internal",
        database=True,
        no_dlq_reason=(
            "Invoked by the Transactions stream's event source mapping, not asynchronously: "
            "a batch that still fails after bisecting goes to the mapping's on-failure "
            "destination TransactionsSyncDLQ."
        ),
    ),
    fn.LMS_POSTER.name: FunctionAccess(
        invoked_by="stream",
        log_kind="internal",
        # Claims and settles the items the stream hands it (no query: the record names it).
        tables=(TableGrant(TRANSACTION_QUEUE, (UPDATE,)), *_LMS_POSTS),
        secrets=(LMS_CLIENT,),
        settings=_LMS_POSTING,
        no_dlq_reason=_STREAM_NO_DLQ.format(table="TransactionQueue", dlq=LMS_POSTER_DLQ.name),
    ),
    fn.LMS_SWEEPER.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # The due items and the live summary (queue depth, oldest age) off the sparse
        # RetryIndex only; each due item claimed and settled as the poster does.
        tables=(
            TableGrant(TRANSACTION_QUEUE, (UPDATE,), query_indexes=("RetryIndex",)),
            *_LMS_POSTS,
        ),
        secrets=(LMS_CLIENT,),
        settings=_LMS_POSTING,
    ),
    fn.LMS_HEARTBEAT.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # A token and one authenticated read of the LMS: the credentials, nothing else.
        secrets=(LMS_CLIENT,),
        settings=_LMS_CLIENT,
    ),
    fn.INTERNAL_LMS.name: FunctionAccess(
        invoked_by="api",
        log_kind="internal",
        # engine.dal.ddb.intervention: the list is a Query on StatusIndex (nothing else of the
        # table is queried or read); retry and resolve are one TransactWriteItems each: the
        # item's conditional Update and, resolving with the LMS's receipt id, the
        # transaction's Update, joined to the audit chain's append. The caller is resolved
        # in PostgreSQL (engine.handlers.internal.staff).
        tables=(
            TableGrant(TRANSACTION_QUEUE, (UPDATE,), query_indexes=("StatusIndex",)),
            _AUDIT_APPEND,
            TableGrant(TRANSACTIONS, (UPDATE,)),
        ),
        anchors=_ANCHOR_PUT,
        database=True,
        no_dlq_reason=_SYNC,
    ),
    # --- The staff engine: every route resolves its caller in PostgreSQL (as engine_app) and
    # every action is appended to the audit chain.
    fn.INTERNAL_COLLECTIONS.name: FunctionAccess(
        invoked_by="api",
        log_kind="internal",
        # The EMI's payable check reads the loan's captured counter (GetItem, consistent);
        # the receipt number is a Counters ADD; then PostgreSQL (the ledger, the business
        # day, the cash limit, the idempotency key); then the DynamoDB side
        # (engine.dal.ddb.collections), one TransactWriteItems joined to the audit append:
        # the Transactions item (Put, create-only; a cancellation's Update), the LMS outbox
        # item (the receipt's Put, or its reversal's), the loan's captured counter (Update
        # ADD) for an EMI.
        tables=(
            TableGrant(TRANSACTIONS, (PUT, UPDATE)),
            TableGrant(TRANSACTION_QUEUE, (PUT,)),
            TableGrant(COUNTERS, (GET, UPDATE)),
            _AUDIT_APPEND,
        ),
        anchors=_ANCHOR_PUT,
        database=True,
        settings=_CASH_LIMITS,
        no_dlq_reason=_SYNC,
    ),
    fn.INTERNAL_DCR.name: FunctionAccess(
        invoked_by="api",
        log_kind="internal",
        # The DCR and its DBS live in PostgreSQL; each step is audited.
        tables=(_AUDIT_APPEND,),
        anchors=_ANCHOR_PUT,
        database=True,
        no_dlq_reason=_SYNC,
    ),
    fn.INTERNAL_AUDIT.name: FunctionAccess(
        invoked_by="api",
        log_kind="internal",
        # Reads only, by Query: records by entity (the table), by actor (ActorIndex), by day
        # (ChainIndex, which verify reads whole); verify reads every version of the day's
        # anchors (ListObjectVersions, then GetObject with a VersionId: IAM's
        # GetObjectVersion, never the current version alone). No GetItem: nothing reads a
        # chain's head item.
        tables=(TableGrant(AUDIT, (QUERY,), query_indexes=("ActorIndex", "ChainIndex")),),
        anchors=(LIST_VERSIONS, "s3:GetObjectVersion"),
        database=True,
        no_dlq_reason=_SYNC,
    ),
    fn.INTERNAL_USERS.name: FunctionAccess(
        invoked_by="api",
        log_kind="internal",
        # Users and roles in PostgreSQL first, then the user's group in the staff pool.
        tables=(_AUDIT_APPEND,),
        anchors=_ANCHOR_PUT,
        database=True,
        staff_pool=_ROLE_GROUPS,
        no_dlq_reason=_SYNC,
    ),
    fn.STAFF_SIGN_IN.name: FunctionAccess(
        invoked_by="cognito",
        log_kind="internal",
        # The users row (refused when unknown or inactive, last_login_at stamped) and the
        # LOGIN audit record; the event names the pool, so no pool id is needed.
        tables=(_AUDIT_APPEND,),
        anchors=_ANCHOR_PUT,
        database=True,
        no_dlq_reason=(
            "Invoked only synchronously, by the staff user pool after each sign-in "
            "(Cognito's Lambda triggers are RequestResponse): an error fails that sign-in, "
            "and a DLQ receives only failed asynchronous invocations."
        ),
    ),
    fn.HRMS_SYNC.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # Pages of employees from the HRMS over the NAT gateway (its credentials and client
        # settings), applied to PostgreSQL as engine_app; a leaver disabled and a joiner
        # created in the staff pool; each change audited.
        tables=(_AUDIT_APPEND,),
        anchors=_ANCHOR_PUT,
        secrets=(HRMS_CLIENT,),
        database=True,
        staff_pool=_STAFF_LIFECYCLE,
        settings=_HRMS_CLIENT,
    ),
    fn.LOAN_SYNC.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # Pages of changed loans from the LMS (its credentials and client settings: the
        # client engine.wiring_lms builds), applied to PostgreSQL as engine_app; no DynamoDB.
        secrets=(LMS_CLIENT,),
        database=True,
        settings=_LMS_CLIENT,
    ),
    fn.TRANSACTIONS_REPAIR.name: FunctionAccess(
        invoked_by="schedule",
        log_kind="scheduler",
        # Re-syncs payments by StatusIndex and BatchGetItem; completes the collections and
        # cancellations whose DynamoDB side was never written (engine.logic.collections:
        # their transaction, as the collections function writes it) and appends the audit
        # records DCR steps still owe (engine.logic.dcr).
        tables=(
            TableGrant(TRANSACTIONS, (BATCH_GET, PUT, UPDATE), query_indexes=("StatusIndex",)),
            TableGrant(TRANSACTION_QUEUE, (PUT,)),
            TableGrant(COUNTERS, (UPDATE,)),
            _AUDIT_APPEND,
        ),
        anchors=_ANCHOR_PUT,
        # Drains the stream's lost batches: each names positions read back from the stream.
        reads_stream=TRANSACTIONS,
        queues=(QueueGrant(TRANSACTIONS_SYNC_DLQ, (RECEIVE, DELETE_MESSAGE)),),
        database=True,
    ),
    fn.RECEIPT_COUNTERS_CARRY_OVER.name: FunctionAccess(
        invoked_by="runbook",
        log_kind="internal",
        # Reads receipt numbers from PostgreSQL; raises each counter by a conditional SET.
        tables=(TableGrant(COUNTERS, (UPDATE,)),),
        database=True,
        settings=("RECEIPT_COUNTER_GAP",),
        no_dlq_reason=(
            "Invoked only synchronously (RequestResponse), by the DR runbook's "
            "aws:invokeLambdaFunction step or an operator: an error is the caller's answer "
            "and stops the runbook; a DLQ receives only failed asynchronous invocations."
        ),
    ),
}

CORS_ENV = "CORS_ALLOW_ORIGIN"
DATABASE_ENV = ("DB_PROXY_ENDPOINT", "DB_PORT", "DB_NAME", "DB_USER", "STATEMENT_TIMEOUT_MS")
DOCUMENTS_ENV = "DOCUMENTS_BUCKET"
ANCHORS_ENV = "AUDIT_ANCHOR_BUCKET"
STAFF_POOL_ENV = "STAFF_USER_POOL_ID"
EVENT_BUS_ENV = "EVENT_BUS_NAME"


def config_values(cfg: EngineConfig) -> dict[str, str]:
    """Settings that come straight from config (no resource behind them)."""
    return {
        "RAZORPAY_BASE_URL": cfg.razorpay_base_url,
        "RAZORPAY_AUTO_CAPTURE": "true" if cfg.razorpay_auto_capture else "false",
        "RAZORPAY_TIMEOUT_SECONDS": str(cfg.razorpay_timeout_seconds),
        "MAX_PAYMENT_AMOUNT": f"{cfg.max_payment_amount:.2f}",
        "ORDER_EXPIRY_MINUTES": str(cfg.order_expiry_minutes),
        "PAYMENT_SWEEP_AFTER_SECONDS": str(cfg.payment_sweep_after_seconds),
        "OTP_TTL_SECONDS": str(cfg.otp_ttl_seconds),
        "SESSION_TTL_SECONDS": str(cfg.session_ttl_seconds),
        "STATEMENT_TIMEOUT_MS": str(cfg.statement_timeout_ms),
        "RECEIPT_COUNTER_GAP": str(cfg.receipt_counter_gap),
        "SMS_SENDER_ID": cfg.sms_sender_id,
        "SMS_DLT_ENTITY_ID": cfg.sms_dlt_entity_id,
        "SMS_OTP_TEMPLATE_ID": cfg.sms_otp_template_id,
        "LMS_BASE_URL": cfg.lms_base_url,
        "LMS_TIMEOUT_SECONDS": str(cfg.lms_timeout_seconds),
        "LMS_LEASE_SECONDS": str(cfg.lms_lease_seconds),
        "LMS_MAX_ATTEMPTS": str(cfg.lms_max_attempts),
        "LMS_BACKOFF_BASE_SECONDS": str(cfg.lms_backoff_base_seconds),
        "LMS_BACKOFF_CAP_SECONDS": str(cfg.lms_backoff_cap_seconds),
        "LMS_BREAKER_MIN_VOLUME": str(cfg.lms_breaker_min_volume),
        "LMS_BREAKER_FAILURE_RATIO": str(cfg.lms_breaker_failure_ratio),
        "LMS_BREAKER_WINDOW_SECONDS": str(cfg.lms_breaker_window_seconds),
        "LMS_BREAKER_OPEN_SECONDS": str(cfg.lms_breaker_open_seconds),
        "CASH_LIMIT_PER_PAYER_PER_DAY": f"{cfg.cash_limit_per_payer_per_day:.2f}",
        "COLLECTION_MAX_AGE_DAYS": str(cfg.collection_max_age_days),
        "HRMS_BASE_URL": cfg.hrms_base_url,
        "HRMS_TIMEOUT_SECONDS": str(cfg.hrms_timeout_seconds),
    }


def env_names(access: FunctionAccess) -> tuple[str, ...]:
    """The function's own variables (beyond the Powertools ones), in a stable order."""
    names = [g.table.env_var for g in access.tables]
    names += [t.env_var for t in access.named_tables]
    names += [g.queue.env_var for g in access.queues]
    names += [s.env_var for s in access.secrets]
    if access.documents:
        names.append(DOCUMENTS_ENV)
    if access.anchors:
        names.append(ANCHORS_ENV)
    if access.staff_pool:
        names.append(STAFF_POOL_ENV)
    if access.publishes_events:
        names.append(EVENT_BUS_ENV)
    if access.database:
        names += DATABASE_ENV
    names += access.settings
    return tuple(dict.fromkeys(names))


def environment(access: FunctionAccess, values: dict[str, str]) -> dict[str, str]:
    """The function's variables from `values` (config values and resources, by name)."""
    missing = [name for name in env_names(access) if name not in values]
    if missing:
        raise KeyError(f"no value for {missing}")
    return {name: values[name] for name in env_names(access)}


def beside_the_pool(name: str) -> bool:
    """Built in the API stack, beside the staff user pool: a function that names the pool
    (its id is random, known only there, and the API stack deploys after the service stack)
    or is its trigger (added where the pool is defined, which permits the pool alone)."""
    declared = ACCESS[name]
    return bool(declared.staff_pool) or declared.invoked_by == "cognito"


def service_functions() -> tuple[FunctionSpec, ...]:
    """The declared business functions, each with its ACCESS entry (the service stacks
    deploy them, but those `beside_the_pool`)."""
    elsewhere = {fn.PORTAL_HEALTH.name, fn.INTERNAL_HEALTH.name, fn.SCHEMA_MIGRATOR.name}
    specs = tuple(spec for spec in fn.FUNCTIONS if spec.name not in elsewhere)
    undeclared = sorted({s.name for s in specs} - set(ACCESS))
    stale = sorted(set(ACCESS) - {s.name for s in specs})
    if undeclared or stale:
        raise ValueError(
            f"stacks/engine/access.py: declare access for {undeclared}; remove {stale}"
        )
    return specs
