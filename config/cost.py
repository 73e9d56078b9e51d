"""What each system does per business operation, for the cost model (`make cost`).

A footprint lists the steps one business operation (a payout, a loan repayment) takes:
API requests, function invocations (the function is found in the synthesized templates,
which give its memory and architecture), DynamoDB request units per table (the template
gives the table's replicas, PITR and region), and the smaller services. Volumes and the
monthly budget are per environment (`CostConfig` on each environment's config).

Where `make bench` measures a step (its AWS calls on a warm container), the step names the
bench operation and lists the calls it measured; a test reruns the bench scenario and fails
when they drift, so the footprint cannot silently outlive the code. Everything else is an
estimate, and the comment beside it says what it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class CostConfig:
    """One environment's volume and budget."""

    operations_per_day: int
    monthly_budget_usd: Decimal
    # Cognito bills monthly active users; staff and admins sign in every month.
    active_staff_users: int
    # Another volume to report beside the configured one and its 10x (year one's).
    year_one_operations_per_day: int | None = None
    # Stored data (tables, logs, backups, documents) is priced as it stands after this many
    # months of operations, or the data's own retention when that is shorter.
    storage_horizon_months: int = 12

    def problems(self) -> list[str]:
        found = []
        if self.operations_per_day < 0:
            found.append("cost.operations_per_day must not be negative")
        if self.monthly_budget_usd <= 0:
            found.append("cost.monthly_budget_usd must be positive")
        if self.storage_horizon_months < 1:
            found.append("cost.storage_horizon_months must be at least 1")
        return found


@dataclass(frozen=True, kw_only=True)
class Invocation:
    # Payouts functions are matched by construct id prefix ("CreatePayout" matches
    # CreatePayoutFunction...), engine functions by their name's suffix ("portal-health").
    function: str
    duration_ms: int
    count: Decimal = Decimal(1)
    # A function the design needs but no stack deploys yet is priced at this memory on arm64;
    # a test fails once it exists, so the template's own memory takes over.
    planned_memory_mb: int | None = None


@dataclass(frozen=True, kw_only=True)
class TableUse:
    table: str  # the table's declared name, e.g. "transactions"
    read_units: Decimal = ZERO
    write_units: Decimal = ZERO
    stored_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class Usage:
    """One step's use of each service; `count` on the step multiplies all of it."""

    api_requests: Decimal = ZERO
    invocations: tuple[Invocation, ...] = ()
    tables: tuple[TableUse, ...] = ()
    kms_requests: Decimal = ZERO
    secrets_calls: Decimal = ZERO
    sqs_requests: Decimal = ZERO
    sns_publishes: Decimal = ZERO
    custom_events: Decimal = ZERO
    xray_traces: Decimal = ZERO
    log_bytes: int = 0
    nat_bytes: int = 0
    # Bytes the functions exchange with AWS APIs through interface endpoints (KMS, Secrets
    # Manager, SQS, EventBridge...; DynamoDB and S3 go through free gateway endpoints).
    endpoint_bytes: int = 0
    # Bytes written to PostgreSQL (WAL), shipped to a cross-region replica where there is one.
    database_bytes: int = 0
    internet_out_bytes: int = 0
    s3_puts: Decimal = ZERO
    s3_gets: Decimal = ZERO
    s3_stored_bytes: int = 0
    cdn_requests: Decimal = ZERO
    cdn_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    usage: Usage
    count: Decimal = Decimal(1)
    # `make bench` operation this step is, and the warm-path AWS calls it measured.
    measured_as: str | None = None
    measured_calls: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Footprint:
    system: str
    unit: str  # what one operation is, for the report
    steps: tuple[Step, ...]
    # Scheduled work, keyed by the EventBridge rule's name suffix; the rule's schedule
    # in the template says how often it runs.
    per_scheduled_run: dict[str, Usage] = field(default_factory=dict)
    # One Route 53 health-check request against GET /health (only priced where the
    # templates hold health checks).
    per_health_check: Usage | None = None
    # Custom metric names the functions emit (Powertools EMF), one dimension set each.
    emitted_metrics: tuple[str, ...] = ()


# Log bytes per invocation: the handler's structured line and its EMF metrics line as the
# bench run prints them (~900 bytes) plus Lambda's JSON platform records (~900, estimated).
_INVOCATION_LOG_BYTES = 1_800
# One API Gateway access-log line in the format the stacks configure.
_ACCESS_LOG_BYTES = 700
# A WAF log record for one request (all requests are logged, no filter).
_WAF_LOG_BYTES = 1_500
_PER_REQUEST_LOG_BYTES = _ACCESS_LOG_BYTES + _WAF_LOG_BYTES

# DynamoDB: a TransactWriteItems item costs 2 WRU per KB; an eventually consistent
# read of an item under 4 KB costs 0.5 RRU.
_PAYOUT_ITEM_BYTES = 1_500

PAYOUTS = Footprint(
    system="payouts",
    unit="payout",
    steps=(
        Step(
            name="create payout (POST /payouts)",
            measured_as="create_payout",
            measured_calls={
                "dynamodb:BatchGetItem": 1,
                "dynamodb:TransactWriteItems": 1,
                "dynamodb:UpdateItem": 2,
            },
            usage=Usage(
                api_requests=Decimal(1),
                # Billed time is mostly Monoova's answer (its timeout is 4 s); 800 ms is
                # a typical NPP submission round trip, not a measurement.
                invocations=(Invocation(function="CreatePayout", duration_ms=800),),
                # BatchGetItem: customer, idempotency record, breaker state (3 x 0.5 RRU).
                # One transaction: claim (payout + idempotency + balance hold, 3 items x 2
                # WRU); then the Monoova result on the payout (2 WRU for ~1.5 KB) and the
                # breaker's minute counter (1 WRU), written apart so the shared counter
                # can never hold up an outcome.
                tables=(
                    TableUse(
                        table="transactions",
                        read_units=Decimal("1.5"),
                        write_units=Decimal(9),
                        stored_bytes=_PAYOUT_ITEM_BYTES * 2,
                    ),
                ),
                # A container serves ~2 payouts before it is reclaimed at 200 a day, so
                # half the calls are cold: they read the secret once, decrypt the customer's
                # data key once and generate the data key that seals the payout's
                # destination snapshot once (cached for the container after that).
                secrets_calls=Decimal("0.5"),
                kms_requests=Decimal("0.5") * 2 + Decimal(2),  # + DynamoDB's CMK per table
                xray_traces=Decimal(1),
                log_bytes=_INVOCATION_LOG_BYTES + _PER_REQUEST_LOG_BYTES,
                internet_out_bytes=4_000,  # Monoova request/response and the 202 answer
            ),
        ),
        Step(
            name="NppPaymentStatus webhook (POST /webhooks/monoova)",
            measured_as="webhook",
            measured_calls={"dynamodb:TransactWriteItems": 1},
            # Monoova sends one status per payout, and retries once on failure.
            count=Decimal("1.1"),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="MonoovaWebhook", duration_ms=120),),
                # One transaction: the dedupe record and the transition (2 items x 2 WRU).
                tables=(
                    TableUse(table="transactions", write_units=Decimal(4), stored_bytes=1_000),
                ),
                kms_requests=Decimal(2),
                xray_traces=Decimal(1),
                log_bytes=_INVOCATION_LOG_BYTES + _PER_REQUEST_LOG_BYTES,
            ),
        ),
        Step(
            name="balance restorer (stream records of failed and returned payouts)",
            # About 2% of NPP payouts fail or return; the stream filter drops the rest.
            count=Decimal("0.02"),
            usage=Usage(
                invocations=(Invocation(function="BalanceRestorer", duration_ms=80),),
                tables=(TableUse(table="transactions", write_units=Decimal(4)),),
                log_bytes=_INVOCATION_LOG_BYTES,
            ),
        ),
        Step(
            name="admin reads (GET /payouts)",
            count=Decimal("0.5"),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="QueryPayouts", duration_ms=60),),
                tables=(TableUse(table="transactions", read_units=Decimal(2)),),
                kms_requests=Decimal(1),
                xray_traces=Decimal(1),
                log_bytes=_INVOCATION_LOG_BYTES + _PER_REQUEST_LOG_BYTES,
                internet_out_bytes=6_000,
            ),
        ),
    ),
    per_scheduled_run={
        # One Query on the due-work index per run; most runs find nothing to resolve.
        "reconcile": Usage(
            invocations=(Invocation(function="Reconciler", duration_ms=150),),
            tables=(TableUse(table="transactions", read_units=Decimal(1)),),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES,
        ),
        # Hourly, at prod's volume (an upper bound for the others): 200 payouts a day in a
        # 7-day window is ~1,400 completed payouts, read a batch of 200 at a time (37.5 RRU
        # for 200 items of 1.5 KB); each costs a status call (~150 ms) and two writes, the
        # payout's next check (2 WRU) and the breaker's minute counter (1 WRU).
        "return-check": Usage(
            invocations=(Invocation(function="Reconciler", duration_ms=30_000),),
            tables=(
                TableUse(
                    table="transactions", read_units=Decimal("37.5"), write_units=Decimal(600)
                ),
            ),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES,
            internet_out_bytes=200 * 1_000,
        ),
        # Every 5 minutes; the stream credits within seconds, so it almost always finds none.
        "refund-sweep": Usage(
            invocations=(Invocation(function="RefundSweeper", duration_ms=100),),
            tables=(TableUse(table="transactions", read_units=Decimal(1)),),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES,
        ),
    },
    # payouts.logic.metrics, one dimension set (environment, service); a test keeps them equal.
    emitted_metrics=(
        "BalanceRestored",
        "BreakerUpdateFailed",
        "CircuitOpened",
        "CircuitRejectedRequest",
        "MonoovaAuthFailed",
        "MonoovaCallFailed",
        "MonoovaLatency",
        "PayoutAmountCents",
        "PayoutCompleted",
        "PayoutCreated",
        "PayoutNeedsReview",
        "PayoutRejected",
        "PayoutReturned",
        "PayoutUnknown",
        "ReconcileErrors",
        "RefundsSwept",
        "ReturnsFound",
        "StuckUnknownPayouts",
        "SubmissionIncomplete",
        "TimeToFinalState",
        "WebhookDeadLettered",
    ),
)


# Engine: one portal repayment, step by step as the functions make it (the AWS calls of the
# create, the notification and the webhook capture are `make bench`'s, on a warm container;
# the others are read from the handlers). The customer signs in (validate-loan with its OTP,
# then the session), reads the loan, creates the payment (a RazorPay order), pays in
# RazorPay Checkout, comes back with the notification and downloads the receipt; RazorPay
# sends three webhooks (authorized, captured, order.paid). Whichever of the notification and
# the capture webhook arrives first captures; the other finds it captured (assumed 80% the
# notification). The Transactions stream carries each change to PostgreSQL. SMS delivery
# (one OTP a repayment) is billed per message by AWS End User Messaging at India's rate,
# which the price tables do not hold (no stored source); the account's SMS spend limit caps it.
_ENGINE_MEMORY_MB = 512
_REPAYMENT_RECORD_BYTES = 2_000
_NOTIFICATION_FIRST = Decimal("0.8")
_WEBHOOK_FIRST = 1 - _NOTIFICATION_FIRST
_PORTAL_CALL = _INVOCATION_LOG_BYTES + _PER_REQUEST_LOG_BYTES


def _engine_call(function: str, duration_ms: int) -> Invocation:
    return Invocation(
        function=function, duration_ms=duration_ms, planned_memory_mb=_ENGINE_MEMORY_MB
    )


def _api(function: str, duration_ms: int, **usage: object) -> Usage:
    """One portal API call: the request, its function, its trace and its log lines."""
    return Usage(
        api_requests=Decimal(1),
        invocations=(Invocation(function=function, duration_ms=duration_ms),),
        xray_traces=Decimal(1),
        log_bytes=_PORTAL_CALL,
        **usage,  # type: ignore[arg-type]
    )


_SESSION_READ = TableUse(table="sessions", read_units=Decimal(1))  # consistent read
# The session read with the payment in one TransactGetItems: one request instead of two, at
# 2 RRU per item under 4 KB (a transactional read costs twice a consistent one).
_SESSION_READ_WITH_PAYMENT = TableUse(table="sessions", read_units=Decimal(2))
# One audit append (engine.dal.ddb.audit): its chain's head read consistently (1 RRU), then
# one transaction of the head's Update and the ~800-byte record's Put (2 items x 2 WRU). Each
# append also PUTs its chain's anchor (~200 bytes of JSON) as a new S3 version that Object
# Lock keeps for the whole retention (8 years in prod): versions accumulate and none expire
# within the cost model's storage horizon, so each append adds its bytes for good.
_AUDIT_APPEND_TABLE = TableUse(
    table="audit", read_units=Decimal(1), write_units=Decimal(4), stored_bytes=800
)
_ANCHOR_VERSION_BYTES = 200


def _half(use: TableUse) -> TableUse:
    return TableUse(
        table=use.table,
        read_units=use.read_units / 2,
        write_units=use.write_units / 2,
        stored_bytes=use.stored_bytes // 2,
    )


ENGINE = Footprint(
    system="engine",
    unit="repayment",
    steps=(
        Step(
            name="portal: page and assets (CloudFront)",
            # ~25 objects a visit; cached assets, one visit per repayment.
            usage=Usage(cdn_requests=Decimal(25), cdn_bytes=1_500_000),
        ),
        Step(
            name="sign in: validate-loan (OTP by SMS) and the session",
            count=Decimal(2),
            # validate-loan answers no sooner than its 800 ms floor (the same time whether or
            # not the pair matches); the session is fast. Per call: the attempt counters
            # (UpdateItem ADD, 1 WRU each) and the challenge or session (a 2-item
            # transaction, 2 WRU each); the OTP hash key once per cold container.
            usage=_api(
                "portal-sessions",
                450,
                tables=(TableUse(table="sessions", write_units=Decimal(4), stored_bytes=500),),
                kms_requests=Decimal(2),
                secrets_calls=Decimal("0.5"),
                database_bytes=200,  # the loan's lookup
                endpoint_bytes=3_000,
            ),
        ),
        Step(
            name="loan summary (GET /loans/{loan})",
            usage=_api(
                "portal-loans",
                60,
                tables=(_SESSION_READ,),
                kms_requests=Decimal(1),
                internet_out_bytes=2_000,
            ),
        ),
        Step(
            name="create payment (POST /payments): RazorPay order",
            measured_as="create_payment",
            measured_calls={
                "dynamodb.GetItem": 1,
                "dynamodb.TransactWriteItems": 1,
                "dynamodb.UpdateItem": 1,
            },
            # Session read; one transaction (idempotency claim, CREATED payment, the loan's
            # payable ConditionCheck: 3 items x 2 WRU per KB, the payment 2 KB); RazorPay's
            # order id recorded on the payment (2 WRU). Billed time is mostly RazorPay's.
            usage=_api(
                "portal-payments",
                400,
                tables=(
                    _SESSION_READ,
                    TableUse(
                        table="transactions",
                        write_units=Decimal(6),
                        stored_bytes=_REPAYMENT_RECORD_BYTES,
                    ),
                    TableUse(table="idempotency", write_units=Decimal(2), stored_bytes=1_000),
                    TableUse(table="counters", write_units=Decimal(2)),
                ),
                kms_requests=Decimal(3),
                secrets_calls=Decimal("0.5"),
                nat_bytes=4_000,  # RazorPay's API over the NAT gateway
                database_bytes=300,  # the payable position
                endpoint_bytes=3_000,
                internet_out_bytes=1_000,
            ),
        ),
        Step(
            name="checkout notification that captures (POST /payment-notification)",
            measured_as="notification",
            measured_calls={
                "dynamodb.TransactGetItems": 1,
                "dynamodb.TransactWriteItems": 1,
                "dynamodb.UpdateItem": 1,
                "eventbridge.PutEvents": 1,
            },
            count=_NOTIFICATION_FIRST,
            # The session and the payment in one transactional read (2 RRU each); the receipt
            # number's ADD (1 WRU); one transaction (CAPTURED payment, the loan's counter, the
            # LMS outbox item: 8 WRU); the event.
            usage=_api(
                "portal-payments",
                350,
                tables=(
                    _SESSION_READ_WITH_PAYMENT,
                    TableUse(table="transactions", read_units=Decimal(2), write_units=Decimal(4)),
                    TableUse(table="counters", write_units=Decimal(3)),
                    TableUse(table="transaction-queue", write_units=Decimal(2), stored_bytes=1_500),
                ),
                kms_requests=Decimal(3),
                custom_events=Decimal(1),  # payment.captured
                nat_bytes=4_000,  # the payment fetched from RazorPay
                endpoint_bytes=4_000,
            ),
        ),
        Step(
            name="webhook that captures (the notification came second or never)",
            measured_as="webhook",
            measured_calls={
                "dynamodb.GetItem": 1,
                "dynamodb.TransactWriteItems": 1,
                "dynamodb.UpdateItem": 1,
                "eventbridge.PutEvents": 1,
            },
            count=_WEBHOOK_FIRST,
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="razorpay-webhook", duration_ms=120),),
                tables=(
                    TableUse(table="transactions", read_units=Decimal(1), write_units=Decimal(4)),
                    TableUse(table="idempotency", write_units=Decimal(1), stored_bytes=300),
                    TableUse(table="counters", write_units=Decimal(3)),
                    TableUse(table="transaction-queue", write_units=Decimal(2), stored_bytes=1_500),
                ),
                kms_requests=Decimal(3),
                custom_events=Decimal(1),
                xray_traces=Decimal(1),
                log_bytes=_PORTAL_CALL,
                endpoint_bytes=4_000,
            ),
        ),
        Step(
            name="webhooks and notifications that find the payment settled",
            # Three webhooks and one notification a repayment, less the one that captured:
            # each reads the payment (the webhook also records its event id, 1 WRU).
            count=Decimal(3),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="razorpay-webhook", duration_ms=40),),
                tables=(
                    TableUse(table="transactions", read_units=Decimal(1), stored_bytes=0),
                    TableUse(table="idempotency", write_units=Decimal(1), stored_bytes=300),
                ),
                kms_requests=Decimal(1),
                xray_traces=Decimal(1),
                log_bytes=_PORTAL_CALL,
            ),
        ),
        Step(
            name="status poll and receipt (JSON, then the PDF made and kept once)",
            count=Decimal(2),
            # Each reads the session and the payment in one transactional read (2 RRU each).
            usage=_api(
                "portal-receipts",
                250,
                tables=(
                    _SESSION_READ_WITH_PAYMENT,
                    TableUse(table="transactions", read_units=Decimal(2)),
                ),
                kms_requests=Decimal(2),
                s3_gets=Decimal("0.5"),
                s3_puts=Decimal("0.5"),
                s3_stored_bytes=30_000,  # a 60 KB PDF, once per repayment
                internet_out_bytes=30_000,
            ),
        ),
        Step(
            name="Transactions stream -> PostgreSQL (create, order, capture, LMS receipt id)",
            # Four changes a repayment (the LMS poster's mark the fourth); at these volumes
            # each is its own batch.
            count=Decimal(4),
            usage=Usage(
                invocations=(Invocation(function="transactions-sync", duration_ms=40),),
                log_bytes=_INVOCATION_LOG_BYTES,
                database_bytes=1_500,  # the payment row and the loan's balance, WAL included
            ),
        ),
        Step(
            name="LMS receipt posting (TransactionQueue stream -> LmsPoster)",
            # The capture's new outbox item is one stream batch and one invocation; the
            # poster's own writes (the claim, the POSTED mark) come back on the stream and are
            # dropped by the mapping's filter, uninvoked; Lambda's stream reads are free.
            # Breaker: one consistent BatchGetItem of its state and two minute buckets (3 x 1
            # RRU) and the minute's count (UpdateItem ADD, 1 WRU). The claim (UpdateItem on a
            # ~1.5 KB item, 2 WRU), then one transaction marking the item and its payment
            # (2 items x 2 WRU per KB, transactional). Billed time is mostly the LMS's answer;
            # the token and the credentials are cached in the container (a secret read at most
            # every 5 minutes, ~0.1 per receipt at prod's volume).
            usage=Usage(
                invocations=(Invocation(function="lms-poster", duration_ms=600),),
                tables=(
                    TableUse(table="transaction-queue", write_units=Decimal(6)),
                    TableUse(table="transactions", write_units=Decimal(4)),
                    TableUse(table="counters", read_units=Decimal(3), write_units=Decimal(1)),
                ),
                kms_requests=Decimal(3),
                secrets_calls=Decimal("0.1"),
                log_bytes=_INVOCATION_LOG_BYTES,
                nat_bytes=8_000,  # the LMS (the lender's MuleSoft) over the NAT gateway
                endpoint_bytes=2_000,
            ),
        ),
        Step(
            name="staff on LMS postings (internal API -> InternalLms: list, retry, resolve)",
            # A handful of staff calls a day at prod's volume (~10 a day of 10,000 repayments),
            # scaling with the receipts that end in EXCEPTION. The list is a Query on the
            # TransactionQueue's StatusIndex (a page of ~1.5 KB items, ~2 RRU); an action one
            # transaction (the item's Update and its audit record's Put, the transaction's
            # Update when resolved with a receipt id: ~3 items x 2 WRU per KB); half of the
            # calls each. Cognito's authorizer is in the user pool's monthly price.
            count=Decimal("0.001"),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="internal-lms", duration_ms=80),),
                tables=(
                    TableUse(
                        table="transaction-queue", read_units=Decimal(1), write_units=Decimal(1)
                    ),
                    TableUse(table="audit", write_units=Decimal(1), stored_bytes=250),
                    TableUse(table="transactions", write_units=Decimal("0.5")),
                ),
                kms_requests=Decimal(2),
                xray_traces=Decimal(1),
                log_bytes=_PORTAL_CALL,
                internet_out_bytes=10_000,
            ),
        ),
        Step(
            name="staff collection (internal API -> InternalCollections): receipt, LMS, audit",
            # Field officers and cashiers take cash, cheques and DDs: assumed a tenth of
            # repayments (1,000 a day at prod's 10,000, ~5,000 at year one's 50,000; ~1% of
            # them cancelled, within this step's rounding). One API call: the receipt number
            # (Counters ADD, 1 WRU); the PostgreSQL unit of work (the collection, the day's
            # DCR row locked, the payer's cash that day, the idempotency key); one transaction
            # (the ~2 KB Transactions item 4 WRU, the ~1.5 KB outbox item 4 WRU, the loan's
            # captured counter 2 WRU, transactional); the audit append (_AUDIT_APPEND). Then
            # what any receipt costs downstream: the LMS poster's post (as for a repayment,
            # below) and two stream syncs to PostgreSQL (the capture, the LMS receipt id).
            count=Decimal("0.1"),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(
                    Invocation(function="internal-collections", duration_ms=250),
                    Invocation(function="lms-poster", duration_ms=600),
                    Invocation(function="transactions-sync", duration_ms=40, count=Decimal(2)),
                ),
                tables=(
                    TableUse(
                        table="transactions",
                        write_units=Decimal(8),
                        stored_bytes=_REPAYMENT_RECORD_BYTES,
                    ),
                    TableUse(table="transaction-queue", write_units=Decimal(10)),
                    TableUse(table="counters", read_units=Decimal(3), write_units=Decimal(4)),
                    _AUDIT_APPEND_TABLE,
                ),
                kms_requests=Decimal(8),
                secrets_calls=Decimal("0.1"),
                xray_traces=Decimal(1),
                log_bytes=_PORTAL_CALL + 2 * _INVOCATION_LOG_BYTES,
                s3_puts=Decimal(1),
                s3_stored_bytes=_ANCHOR_VERSION_BYTES,
                nat_bytes=8_000,  # the LMS post
                endpoint_bytes=5_000,
                database_bytes=5_000,  # the collection, its DCR row, the synced payment
                internet_out_bytes=2_000,
            ),
        ),
        Step(
            name="DCR and DBS (internal API -> InternalDcr: read, submit, approve)",
            # ~200 branches x ~4 calls a day (the day's DCR read, submitted with its DBS,
            # approved or rejected): 800 a day, 0.08 a repayment at prod's volume. Totals are
            # summed in PostgreSQL from the day's collections; half the calls are steps, each
            # audited (_AUDIT_APPEND, half of it here).
            count=Decimal("0.08"),
            usage=Usage(
                api_requests=Decimal(1),
                invocations=(Invocation(function="internal-dcr", duration_ms=150),),
                tables=(_half(_AUDIT_APPEND_TABLE),),
                kms_requests=Decimal(2),
                xray_traces=Decimal(1),
                log_bytes=_PORTAL_CALL,
                s3_puts=Decimal("0.5"),
                s3_stored_bytes=_ANCHOR_VERSION_BYTES // 2,
                database_bytes=1_000,
                internet_out_bytes=3_000,
            ),
        ),
        Step(
            name="staff sign-in (the staff pool's post-authentication trigger -> StaffSignIn)",
            # ~1,000 sign-ins a day (~400 staff, some twice or more), 0.1 a repayment at prod's
            # volume: the users row read and last_login_at stamped, the LOGIN audited. Cognito
            # invokes it synchronously (no API request); its price is in the pool's MAUs.
            count=Decimal("0.1"),
            usage=Usage(
                invocations=(Invocation(function="staff-sign-in", duration_ms=100),),
                tables=(_AUDIT_APPEND_TABLE,),
                kms_requests=Decimal(2),
                log_bytes=_INVOCATION_LOG_BYTES,
                s3_puts=Decimal(1),
                s3_stored_bytes=_ANCHOR_VERSION_BYTES,
                database_bytes=300,
            ),
        ),
        Step(
            name="audit trail reads and verifies, users and roles (InternalAudit, InternalUsers)",
            # A handful a day (~10 at prod's volume). Half are a page of records (a Query, ~10
            # RRU); half verify a day: at prod's ~2,500 appends a day, the day's records off
            # ChainIndex (~2 MB, eventually consistent: ~250 RRU) and every anchor version
            # (one LIST a thousand, one GET each), ~3 s of 16 parallel reads. Users: a list or
            # a role change (PostgreSQL, the staff pool's group, an audit append) now and then.
            count=Decimal("0.001"),
            usage=Usage(
                api_requests=Decimal(2),
                invocations=(
                    Invocation(function="internal-audit", duration_ms=1_600),
                    Invocation(function="internal-users", duration_ms=150),
                ),
                tables=(TableUse(table="audit", read_units=Decimal(131), write_units=Decimal(4)),),
                kms_requests=Decimal(3),
                xray_traces=Decimal(2),
                log_bytes=2 * _PORTAL_CALL,
                s3_gets=Decimal(1_253),
                s3_puts=Decimal(1),
                internet_out_bytes=20_000,
            ),
        ),
        Step(
            name="receipt notice (notifications, planned)",
            usage=Usage(
                invocations=(_engine_call("notification-sender", 300),),
                tables=(TableUse(table="notifications", write_units=Decimal(1), stored_bytes=500),),
                kms_requests=Decimal(1),
                sns_publishes=Decimal(1),  # SMS/e-mail receipt notice
                log_bytes=_INVOCATION_LOG_BYTES,
                nat_bytes=4_000,
                endpoint_bytes=4_000,
            ),
        ),
    ),
    per_scheduled_run={
        # Every 5 minutes: the open payments by status (StatusIndex, CREATED and AUTHORIZED),
        # almost always none older than the sweep's threshold; RazorPay is asked only then.
        "payment-sweep": Usage(
            invocations=(Invocation(function="payment-sweeper", duration_ms=150),),
            tables=(TableUse(table="transactions", read_units=Decimal(1)),),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES,
        ),
        # Hourly, at prod's volume (an upper bound for the others): the last 72 h of payments
        # (~30,000 of 2 KB at 10,000 a day) read through the StatusIndex, eventually
        # consistent (0.5 RRU per 4 KB), compared with PostgreSQL's versions a page at a
        # time; the lost batches' DLQ drained first (one receive).
        "transactions-repair": Usage(
            invocations=(Invocation(function="transactions-repair", duration_ms=20_000),),
            tables=(TableUse(table="transactions", read_units=Decimal(7_500)),),
            kms_requests=Decimal(2),
            sqs_requests=Decimal(1),
            database_bytes=30_000,
            log_bytes=_INVOCATION_LOG_BYTES,
        ),
        # Every minute in the active Region (43,200 runs a month): the due items off the
        # sparse RetryIndex, then the live items' summary (two Queries, 0.5 RRU each: at
        # these volumes the index is nearly empty, receipts leave it within seconds); a run
        # that finds work posts it as the poster does (priced there). Three EMF documents
        # (queue_depth twice, lms_queue_oldest_age) beside the run's line.
        "lms-sweep": Usage(
            invocations=(Invocation(function="lms-sweeper", duration_ms=120),),
            tables=(TableUse(table="transaction-queue", read_units=Decimal(1)),),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES + 900,
        ),
        # Nightly (02:00 IST) in the active Region, at prod's volume (an upper bound for the
        # others): ~20,000 loans changed at the LMS a day (the day's ~10,000 receipts' loans,
        # and as many whose dues or days past due moved), read 200 a page (100 pages of
        # ~200 KB over the NAT gateway), each page applied in one PostgreSQL transaction (the
        # loans, their payments' re-division and the sync's state; ~1.5 KB of WAL a loan);
        # about 1.5 s a page, mostly the LMS's answer. One token and one secret read a run.
        "loan-sync": Usage(
            invocations=(Invocation(function="loan-sync", duration_ms=150_000),),
            secrets_calls=Decimal(1),
            kms_requests=Decimal(1),
            log_bytes=_INVOCATION_LOG_BYTES,
            nat_bytes=20_000_000,
            endpoint_bytes=2_000,
            database_bytes=30_000_000,
        ),
        # Nightly (02:30 IST) in the active Region: the employees DarwinBox changed since the
        # last run (a few hundred at most: ~400 staff, a day's joiners, leavers and
        # transfers), a page or two over the NAT gateway, each applied in PostgreSQL; ~10
        # changes a night, each audited (_AUDIT_APPEND) and, for a leaver or a joiner, one
        # staff pool call (Cognito bills no admin API call). One secret read a run.
        "hrms-sync": Usage(
            invocations=(Invocation(function="hrms-sync", duration_ms=20_000),),
            tables=(
                TableUse(
                    table="audit",
                    read_units=Decimal(10),
                    write_units=Decimal(40),
                    stored_bytes=8_000,
                ),
            ),
            secrets_calls=Decimal(1),
            kms_requests=Decimal(3),
            log_bytes=_INVOCATION_LOG_BYTES,
            s3_puts=Decimal(10),
            s3_stored_bytes=10 * _ANCHOR_VERSION_BYTES,
            nat_bytes=500_000,
            endpoint_bytes=2_000,
            database_bytes=200_000,
        ),
        # Every minute in the active Region: a token when the cached one expires (the
        # credentials read at most every 5 minutes) and one authenticated read of the LMS
        # over the NAT gateway; lms_connectivity_status published.
        "lms-heartbeat": Usage(
            invocations=(Invocation(function="lms-heartbeat", duration_ms=300),),
            secrets_calls=Decimal("0.2"),
            kms_requests=Decimal("0.2"),
            log_bytes=_INVOCATION_LOG_BYTES,
            nat_bytes=3_000,
            endpoint_bytes=500,
        ),
    },
    per_health_check=Usage(
        api_requests=Decimal(1),
        invocations=(Invocation(function="portal-health", duration_ms=40),),
        log_bytes=_INVOCATION_LOG_BYTES + _PER_REQUEST_LOG_BYTES,
    ),
    # engine/metrics.py, the metrics a deployed function publishes; a test keeps them equal.
    emitted_metrics=(
        "api_response_time",
        "event_publish_failed",
        "lms_circuit_opened",
        "lms_connectivity_status",
        "lms_posting_exceptions",
        "lms_queue_oldest_age",
        "lms_receipts_posted",
        "otp_sms_failed",
        "payment_success_rate",
        "payments_swept",
        "queue_depth",
        "stream_sync_failed_records",
        "transactions_repaired",
        "webhook_dead_lettered",
        "webhook_rejected",
    ),
)
