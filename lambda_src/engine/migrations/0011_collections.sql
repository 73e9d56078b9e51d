-- Staff collections: cash, cheque and demand-draft receipts taken by field officers and branch
-- cashiers (engine.logic.collections). PostgreSQL is their ledger and the point where they are
-- serialised: each collection is written in one unit of work that holds its branch's DCR row
-- for the business date (engine.dal.pg.business_day) and, for cash, a lock on its payer's day
-- (the s.269ST limit); its Transactions item and LMS posting are written to DynamoDB after
-- the commit (`recorded_at` says when), and the stream brings it back into `payments`.
--
-- business_date: the DCR the collection counts in (the branch's open day when written: a
-- SUBMITTED or APPROVED day is closed and the next date takes it). collected_on: the IST
-- calendar date of collected_at, the day the cash limit is counted per payer.
-- payer_key: `customer:<uuid>` (the borrower, by default) or `mobile:<10 digits>` (a third
-- party): what the limit is counted by, across branches. It holds a mobile number: PII,
-- never answered or logged.

CREATE TABLE collections (
    collection_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    transaction_id VARCHAR(40) NOT NULL,
    receipt_number VARCHAR(64) NOT NULL,
    branch_code VARCHAR(20) NOT NULL REFERENCES branches (branch_code),
    business_date DATE NOT NULL,
    loan_account_number VARCHAR(50) NOT NULL REFERENCES loan_accounts (loan_account_number),
    customer_id UUID REFERENCES customers (customer_id),
    amount NUMERIC(12, 2) NOT NULL,
    mode VARCHAR(20) NOT NULL,
    -- {number, bank_name, instrument_date} for a cheque or a demand draft; none for cash.
    instrument JSONB,
    purpose VARCHAR(20) NOT NULL,
    channel VARCHAR(10) NOT NULL,
    payer_key VARCHAR(80) NOT NULL,
    payer_name VARCHAR(200),
    collected_at TIMESTAMP WITH TIME ZONE NOT NULL,
    collected_on DATE NOT NULL,
    created_by UUID NOT NULL REFERENCES users (user_id),
    -- sha256 hex of the Idempotency-Key, and of the request it came with.
    idempotency_key_hash CHAR(64) NOT NULL,
    request_hash CHAR(64) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'CAPTURED',
    cancelled_by UUID REFERENCES users (user_id),
    cancelled_at TIMESTAMP WITH TIME ZONE,
    cancellation_reason VARCHAR(500),
    -- When DynamoDB got the collection (its Transactions item and LMS posting), and, once
    -- cancelled, its cancellation: NULL until then (the repair job completes what is left).
    recorded_at TIMESTAMP WITH TIME ZONE,
    cancel_recorded_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT collections_transaction_id_key UNIQUE (transaction_id),
    CONSTRAINT collections_receipt_number_key UNIQUE (receipt_number),
    -- A staff member's Idempotency-Key names one collection (the field app retries offline).
    CONSTRAINT collections_created_by_idempotency_key_hash_key
        UNIQUE (created_by, idempotency_key_hash),
    CONSTRAINT collections_amount_check CHECK (amount > 0),
    CONSTRAINT collections_mode_check CHECK (mode IN ('CASH', 'CHEQUE', 'DEMAND_DRAFT')),
    CONSTRAINT collections_instrument_check CHECK (
        (mode = 'CASH' AND instrument IS NULL)
        -- IS NOT NULL first: jsonb_typeof(NULL) is NULL, and a CHECK lets NULL through.
        OR (mode <> 'CASH' AND instrument IS NOT NULL AND jsonb_typeof(instrument) = 'object')
    ),
    CONSTRAINT collections_purpose_check
        CHECK (purpose IN ('EMI', 'LEGAL_FEE', 'OTHER_FEE', 'CHALLAN')),
    CONSTRAINT collections_channel_check CHECK (channel IN ('FIELD', 'BRANCH')),
    CONSTRAINT collections_payer_key_check
        CHECK (payer_key ~ '^(customer:[0-9a-f-]{36}|mobile:[0-9]{10})$'),
    CONSTRAINT collections_hashes_check CHECK (
        idempotency_key_hash ~ '^[0-9a-f]{64}$' AND request_hash ~ '^[0-9a-f]{64}$'
    ),
    CONSTRAINT collections_status_check CHECK (status IN ('CAPTURED', 'CANCELLED')),
    -- Cancelled with who, when and why, or not cancelled at all.
    CONSTRAINT collections_cancellation_check CHECK (
        (status = 'CANCELLED') = (cancelled_by IS NOT NULL)
        AND (cancelled_by IS NULL) = (cancelled_at IS NULL)
        AND (cancelled_by IS NULL) = (cancellation_reason IS NULL)
        AND (cancellation_reason IS NULL OR btrim(cancellation_reason) <> '')
    ),
    CONSTRAINT collections_cancel_recorded_check
        CHECK (cancel_recorded_at IS NULL OR status = 'CANCELLED')
);

-- The DCR's totals: a branch's collections by business date.
CREATE INDEX collections_branch_code_business_date_idx
    ON collections (branch_code, business_date);
-- The cash limit: a payer's cash on one day, across branches.
CREATE INDEX collections_payer_key_collected_on_idx
    ON collections (payer_key, collected_on) WHERE mode = 'CASH';
-- Listings, newest first: a branch's, a field officer's own, everyone's (head office).
CREATE INDEX collections_branch_code_created_at_idx
    ON collections (branch_code, created_at DESC, collection_id DESC);
CREATE INDEX collections_created_by_created_at_idx
    ON collections (created_by, created_at DESC, collection_id DESC);
CREATE INDEX collections_created_at_idx ON collections (created_at DESC, collection_id DESC);
CREATE INDEX collections_loan_account_number_idx ON collections (loan_account_number);
CREATE INDEX collections_customer_id_idx ON collections (customer_id);
CREATE INDEX collections_cancelled_by_idx ON collections (cancelled_by);
-- What the repair job completes: collections and cancellations DynamoDB has not had yet.
CREATE INDEX collections_unrecorded_idx ON collections (created_at) WHERE recorded_at IS NULL;
CREATE INDEX collections_cancel_unrecorded_idx ON collections (cancelled_at)
    WHERE status = 'CANCELLED' AND cancel_recorded_at IS NULL;

-- The stream brings collections into payments too: their purpose (only an EMI moves the
-- outstanding; NULL is a portal repayment, an EMI) and a cancellation, which undoes what
-- the capture did to the loan.
ALTER TABLE payments
    ADD COLUMN purpose VARCHAR(20),
    ADD CONSTRAINT payments_purpose_check
        CHECK (purpose IN ('EMI', 'LEGAL_FEE', 'OTHER_FEE', 'CHALLAN')),
    DROP CONSTRAINT payments_status_check,
    ADD CONSTRAINT payments_status_check CHECK (
        status IN (
            'CREATED', 'AUTHORIZED', 'CAPTURED', 'FAILED', 'EXPIRED', 'REFUNDED', 'CANCELLED'
        )
    );

-- A ledger: the app role reads, writes and cancels, never deletes.
GRANT SELECT, INSERT, UPDATE ON collections TO engine_app;
REVOKE DELETE, TRUNCATE ON collections FROM engine_app;
