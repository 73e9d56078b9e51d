"""The payments table, kept in step with the Transactions table, and the loan balances it moves.

`sync_payments` takes a batch of Transactions images and, in one transaction of two
statements (pipelined: one round trip on top of BEGIN and COMMIT, whatever the batch size):

1. locks the batch's loans (`FOR UPDATE`, in key order, so two consumers never deadlock).
   Every writer of a loan's payments holds that lock, so the next statement, which takes its
   snapshot only once the lock is held, sees every committed payment of those loans;
2. upserts each payment only when its version is higher than the stored one (redelivered,
   reordered and replayed images change nothing) and moves the loans by what changed:
   - a payment first seen CAPTURED (or REFUNDED, which was captured first) takes
     min(amount, outstanding) off `outstanding_balance` (`balance_applied`); the rest is an
     advance (`advance_amount`, added to `advance_balance`), never an error. Two captures of
     one loan in one batch take in stream order;
   - `refunded_amount` above what was already taken back (`balance_restored`) comes back
     off the advance first (a refund of an overpayment), then onto the outstanding. An
     advance already used elsewhere cannot go negative: that part goes onto the outstanding;
   - a capture whose receipt the loan's last LMS version already reflects (its receipt
     number is in `loan_accounts.lms_receipt_references`, written by the loan sync: the
     receipt was posted and the loan synced before the stream applied the capture) is taken
     whole into `balance_applied` without moving the loan: the outstanding the loan sync
     set already has it off. Its refunds move the loan as any other's;
   - the posting facts (`lms_receipt_id`, `lms_posted_at`) are set as soon as an image
     carries them, whatever its version (the poster marks the item posted without a new
     version), and never erased by an image without them;
   - a staff collection (engine.logic.collections) moves the loan only for an EMI: a fee or
     a challan is recorded with nothing applied (NULL `purpose` is a portal repayment, an
     EMI); a CANCELLED one gives back what its capture took (the applied part onto the
     outstanding, the advance part off the advance, the rest onto the outstanding) and
     keeps nothing applied, as the loan's captured counter was lowered with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.dal.pg.db import Cursor

CAPTURED_STATES = ("CAPTURED", "REFUNDED")


@dataclass(frozen=True)
class PaymentRow:
    """One Transactions item as the payments table stores it."""

    transaction_id: str
    loan_account_number: str
    branch_code: str
    amount: Decimal
    status: str
    version: int
    created_at: datetime
    channel: str = "PORTAL"
    receipt_number: str | None = None
    razorpay_order_id: str | None = None
    razorpay_payment_id: str | None = None
    payment_method: str | None = None
    captured_at: datetime | None = None
    refunded_amount: Decimal = Decimal("0")
    lms_receipt_id: str | None = None  # set by the poster once the LMS has the receipt
    lms_posted_at: datetime | None = None
    purpose: str | None = None  # a staff collection's (EMI, LEGAL_FEE, ...); None: an EMI


@dataclass(frozen=True)
class SyncOutcome:
    written: int  # payments rows inserted, moved to a higher version, or given posting facts
    loans_moved: int  # loan_accounts rows whose outstanding or advance changed


# The lock is a separate statement: in READ COMMITTED each statement takes its snapshot when
# it starts, so the upsert below sees what another holder of these locks committed.
_LOCK_LOANS = """
SELECT loan_account_number FROM loan_accounts
WHERE loan_account_number = ANY(%s::text[])
ORDER BY loan_account_number
FOR UPDATE
"""

# The order of the unnest() arrays in _SYNC.
_COLUMNS = (
    "transaction_id",
    "loan_account_number",
    "branch_code",
    "amount",
    "status",
    "receipt_number",
    "razorpay_order_id",
    "razorpay_payment_id",
    "payment_method",
    "channel",
    "created_at",
    "captured_at",
    "refunded_amount",
    "version",
    "lms_receipt_id",
    "lms_posted_at",
    "purpose",
)
_SYNC = """
WITH incoming AS (
    SELECT * FROM unnest(
        %s::text[], %s::text[], %s::text[], %s::numeric[], %s::text[],
        %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
        %s::timestamptz[], %s::timestamptz[], %s::numeric[], %s::bigint[],
        %s::text[], %s::timestamptz[], %s::text[],
        %s::int[]
    ) AS i (
        transaction_id, loan_account_number, branch_code, amount, status,
        receipt_number, razorpay_order_id, razorpay_payment_id, payment_method, channel,
        created_at, captured_at, refunded_amount, version,
        lms_receipt_id, lms_posted_at, purpose,
        position
    )
),
moving AS (
    SELECT i.*,
           COALESCE(p.balance_applied + p.advance_amount > 0, false) AS was_taken,
           i.status = 'CANCELLED' AS cancelled,
           -- Only an instalment moves the loan: a fee or a challan is not in the outstanding.
           COALESCE(i.purpose, 'EMI') = 'EMI' AS instalment,
           -- First seen captured, its receipt already in the loan's last LMS version.
           (COALESCE(p.balance_applied + p.advance_amount, 0) = 0
            AND i.status IN ('CAPTURED', 'REFUNDED')
            AND COALESCE(i.purpose, 'EMI') = 'EMI'
            AND COALESCE(i.receipt_number = ANY(l.lms_receipt_references), false))
               AS reflected,
           COALESCE(p.balance_applied, 0) AS was_applied,
           COALESCE(p.advance_amount, 0) AS was_advance,
           COALESCE(p.balance_restored, 0) AS was_restored,
           GREATEST(COALESCE(p.balance_restored, 0), LEAST(i.refunded_amount, i.amount))
               AS refund_total
    FROM incoming i
    LEFT JOIN payments p USING (transaction_id)
    LEFT JOIN loan_accounts l ON l.loan_account_number = i.loan_account_number
    WHERE p.version IS NULL OR i.version > p.version
),
-- What refunds and cancellations of payments taken before this batch give back to each
-- loan's outstanding (the part beyond their advance): available to this batch's captures.
restored AS (
    SELECT loan_account_number,
           SUM(CASE WHEN cancelled
                    THEN was_applied - GREATEST(was_restored - was_advance, 0)
                    ELSE refund_total - was_restored
                         - (LEAST(refund_total, was_advance) - LEAST(was_restored, was_advance))
               END) AS credit
    FROM moving
    WHERE was_taken
    GROUP BY loan_account_number
),
taking AS (
    SELECT m.transaction_id, m.loan_account_number, m.amount,
           COALESCE(SUM(m.amount) OVER (
               PARTITION BY m.loan_account_number ORDER BY m.position
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS earlier
    FROM moving m
    WHERE NOT m.was_taken AND NOT m.reflected AND m.instalment
      AND m.status IN ('CAPTURED', 'REFUNDED')
),
taken_now AS (
    SELECT t.transaction_id,
           LEAST(t.amount, GREATEST(COALESCE(l.outstanding_balance, 0)
                                    + COALESCE(r.credit, 0) - t.earlier, 0)) AS applied
    FROM taking t
    JOIN loan_accounts l USING (loan_account_number)
    LEFT JOIN restored r USING (loan_account_number)
),
-- A cancelled payment keeps nothing taken: per_loan gives back what it held.
effects AS (
    SELECT m.*,
           CASE WHEN m.cancelled THEN 0 WHEN m.was_taken THEN m.was_applied
                WHEN m.reflected THEN m.amount ELSE COALESCE(n.applied, 0) END AS applied,
           CASE WHEN m.cancelled THEN 0 WHEN m.was_taken THEN m.was_advance
                WHEN n.applied IS NOT NULL THEN m.amount - n.applied ELSE 0 END AS advance,
           (NOT m.cancelled AND (m.was_taken OR m.reflected OR n.applied IS NOT NULL)) AS taken
    FROM moving m
    LEFT JOIN taken_now n USING (transaction_id)
),
final AS (
    SELECT e.*,
           CASE WHEN e.taken THEN e.refund_total ELSE 0 END AS restored,
           CASE WHEN e.taken
                THEN LEAST(e.refund_total, e.advance) - LEAST(e.was_restored, e.was_advance)
                ELSE 0 END AS advance_back
    FROM effects e
),
upserted AS (
    INSERT INTO payments (
        transaction_id, loan_account_number, branch_code, amount, status,
        receipt_number, razorpay_order_id, razorpay_payment_id, payment_method, channel,
        created_at, captured_at, refunded_amount, version,
        balance_applied, advance_amount, balance_restored, synced_at,
        lms_receipt_id, lms_posted_at, purpose
    )
    SELECT
        transaction_id, loan_account_number, branch_code, amount, status,
        receipt_number, razorpay_order_id, razorpay_payment_id, payment_method, channel,
        created_at, captured_at, refunded_amount, version,
        applied, advance, restored, now(),
        lms_receipt_id, lms_posted_at, purpose
    FROM final
    ON CONFLICT (transaction_id) DO UPDATE SET
        loan_account_number = EXCLUDED.loan_account_number,
        branch_code = EXCLUDED.branch_code,
        amount = EXCLUDED.amount,
        status = EXCLUDED.status,
        receipt_number = EXCLUDED.receipt_number,
        razorpay_order_id = EXCLUDED.razorpay_order_id,
        razorpay_payment_id = EXCLUDED.razorpay_payment_id,
        payment_method = EXCLUDED.payment_method,
        channel = EXCLUDED.channel,
        created_at = EXCLUDED.created_at,
        captured_at = EXCLUDED.captured_at,
        refunded_amount = EXCLUDED.refunded_amount,
        version = EXCLUDED.version,
        balance_applied = EXCLUDED.balance_applied,
        advance_amount = EXCLUDED.advance_amount,
        balance_restored = EXCLUDED.balance_restored,
        synced_at = EXCLUDED.synced_at,
        purpose = EXCLUDED.purpose,
        lms_receipt_id = COALESCE(EXCLUDED.lms_receipt_id, payments.lms_receipt_id),
        lms_posted_at = COALESCE(EXCLUDED.lms_posted_at, payments.lms_posted_at)
    WHERE payments.version < EXCLUDED.version
    RETURNING transaction_id
),
-- Images no newer than the stored row (`upserted` never touches those): only the posting
-- facts they add.
posted AS (
    UPDATE payments p SET
        lms_receipt_id = COALESCE(p.lms_receipt_id, i.lms_receipt_id),
        lms_posted_at = COALESCE(p.lms_posted_at, i.lms_posted_at)
    FROM incoming i
    WHERE p.transaction_id = i.transaction_id
      AND i.version <= p.version
      AND ((p.lms_receipt_id IS NULL AND i.lms_receipt_id IS NOT NULL)
           OR (p.lms_posted_at IS NULL AND i.lms_posted_at IS NOT NULL))
    RETURNING p.transaction_id
),
-- A cancellation gives back what its capture still holds: the applied part (less what a
-- refund put back onto the outstanding) and the advance part (less what a refund took back).
per_loan AS (
    SELECT f.loan_account_number,
           SUM(CASE WHEN f.reflected THEN 0
                    WHEN f.cancelled
                        THEN GREATEST(f.was_restored - f.was_advance, 0) - f.was_applied
                    ELSE f.applied - f.was_applied END) AS applied,
           SUM(CASE WHEN f.cancelled THEN 0 ELSE f.advance - f.was_advance END) AS advance,
           SUM(CASE WHEN f.cancelled THEN 0
                    ELSE f.restored - f.was_restored - f.advance_back END) AS restore,
           SUM(CASE WHEN f.cancelled THEN f.was_advance - LEAST(f.was_restored, f.was_advance)
                    ELSE f.advance_back END) AS advance_back
    FROM final f
    JOIN upserted u USING (transaction_id)
    GROUP BY f.loan_account_number
),
moved AS (
    UPDATE loan_accounts l SET
        outstanding_balance = COALESCE(l.outstanding_balance, 0) - d.applied + d.restore
            + GREATEST(d.advance_back - (l.advance_balance + d.advance), 0),
        advance_balance = l.advance_balance + d.advance
            - LEAST(d.advance_back, l.advance_balance + d.advance)
    FROM per_loan d
    WHERE l.loan_account_number = d.loan_account_number
      AND (d.applied, d.advance, d.restore, d.advance_back) <> (0, 0, 0, 0)
    RETURNING l.loan_account_number
)
SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM posted),
       (SELECT count(*) FROM moved)
"""

_CAPTURES_APPLIED = """
SELECT COALESCE(SUM(balance_applied + advance_amount), 0)
FROM payments WHERE loan_account_number = %s
"""

_VERSIONS = """
SELECT transaction_id, version FROM payments WHERE transaction_id = ANY(%s::text[])
"""


def sync_payments(cur: Cursor, rows: Iterable[PaymentRow]) -> SyncOutcome:
    """Apply `rows` (in stream order) inside the caller's transaction."""
    latest = latest_per_payment(rows)
    if not latest:
        return SyncOutcome(0, 0)
    loans = sorted({row.loan_account_number for row in latest})
    # Sent together; the pipeline's end waits once for both answers.
    with cur.connection.pipeline():
        cur.execute(_LOCK_LOANS, (loans,))
        cur.execute(_SYNC, _arrays(latest))
    found = cur.fetchone()
    assert found is not None  # an aggregate always answers one row
    return SyncOutcome(written=int(found[0]), loans_moved=int(found[1]))


def latest_per_payment(rows: Iterable[PaymentRow]) -> list[PaymentRow]:
    """The highest version of each payment (of two equal, the later: the poster's mark adds
    posting facts without a new version), in the order each was last seen, with the posting
    facts any of its images carried.

    One statement can change a row only once, and the lower versions would change nothing.
    """
    latest: dict[str, PaymentRow] = {}
    for row in rows:
        kept = latest.pop(row.transaction_id, None)
        if kept is None:
            latest[row.transaction_id] = row
            continue
        newer, older = (row, kept) if row.version >= kept.version else (kept, row)
        latest[row.transaction_id] = replace(
            newer,
            lms_receipt_id=newer.lms_receipt_id or older.lms_receipt_id,
            lms_posted_at=newer.lms_posted_at or older.lms_posted_at,
        )
    return list(latest.values())


def _arrays(rows: Sequence[PaymentRow]) -> list[list[Any]]:
    columns: list[list[Any]] = [[getattr(row, name) for row in rows] for name in _COLUMNS]
    return [*columns, list(range(len(rows)))]


def captures_applied(cur: Cursor, loan_account_number: str) -> Decimal:
    """What the sync has taken into account for the loan: the amounts of its payments seen
    captured (applied to the outstanding or kept as an advance), refunds not subtracted."""
    found = cur.execute(_CAPTURES_APPLIED, (loan_account_number,)).fetchone()
    return Decimal(found[0]) if found else Decimal("0")


def stored_versions(cur: Cursor, transaction_ids: Sequence[str]) -> dict[str, int]:
    """transaction_id -> the version PostgreSQL holds, for those it holds at all."""
    found = cur.execute(_VERSIONS, (list(transaction_ids),)).fetchall()
    return {str(tid): int(version) for tid, version in found}
