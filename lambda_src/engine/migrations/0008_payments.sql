-- Online repayments as PostgreSQL sees them, kept in step with the Transactions table by its
-- stream (engine.logic.sync), and the loan columns the portal shows and the sync maintains.
--
-- A payments row is a copy of one Transactions item at `version`, plus what the sync did to
-- the loan for it: `balance_applied` (taken off outstanding) and `advance_amount` (the excess
-- over what was outstanding, kept as an advance), both set once, the first time the payment is
-- seen captured, so that their sum is either 0 (not yet taken into account) or the amount; and
-- `balance_restored`, the part of `refunded_amount` already taken back.

ALTER TABLE loan_accounts
    ADD COLUMN overdue_amount DECIMAL(15, 2) NOT NULL DEFAULT 0,
    ADD COLUMN days_past_due INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN advance_balance DECIMAL(15, 2) NOT NULL DEFAULT 0,
    ADD CONSTRAINT loan_accounts_overdue_amount_check CHECK (overdue_amount >= 0),
    ADD CONSTRAINT loan_accounts_days_past_due_check CHECK (days_past_due >= 0),
    ADD CONSTRAINT loan_accounts_advance_balance_check CHECK (advance_balance >= 0);

CREATE TABLE payments (
    transaction_id VARCHAR(40) PRIMARY KEY,
    -- A real foreign key: a payment for a loan PostgreSQL does not know is a failed record
    -- (reported, retried, repaired), never a balance change applied to nothing.
    loan_account_number VARCHAR(50) NOT NULL REFERENCES loan_accounts (loan_account_number),
    branch_code VARCHAR(20) NOT NULL,
    amount DECIMAL(15, 2) NOT NULL,
    status VARCHAR(20) NOT NULL,
    receipt_number VARCHAR(64),
    razorpay_order_id VARCHAR(64),
    razorpay_payment_id VARCHAR(64),
    -- No list of methods here: RazorPay adds methods, and an unknown one must not stop the sync.
    payment_method VARCHAR(20),
    channel VARCHAR(20) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    captured_at TIMESTAMP WITH TIME ZONE,
    refunded_amount DECIMAL(15, 2) NOT NULL DEFAULT 0,
    version BIGINT NOT NULL,
    balance_applied DECIMAL(15, 2) NOT NULL DEFAULT 0,
    advance_amount DECIMAL(15, 2) NOT NULL DEFAULT 0,
    balance_restored DECIMAL(15, 2) NOT NULL DEFAULT 0,
    synced_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT payments_transaction_id_check CHECK (btrim(transaction_id) <> ''),
    CONSTRAINT payments_status_check CHECK (
        status IN ('CREATED', 'AUTHORIZED', 'CAPTURED', 'FAILED', 'EXPIRED', 'REFUNDED')
    ),
    CONSTRAINT payments_amount_check CHECK (amount > 0),
    CONSTRAINT payments_refunded_amount_check
        CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    CONSTRAINT payments_version_check CHECK (version >= 1),
    CONSTRAINT payments_effects_check CHECK (
        balance_applied >= 0 AND advance_amount >= 0 AND balance_restored >= 0
    ),
    -- Taken into account whole or not at all; never more taken back than was taken.
    CONSTRAINT payments_taken_check
        CHECK (balance_applied + advance_amount IN (0, amount)),
    CONSTRAINT payments_restored_check
        CHECK (balance_restored <= balance_applied + advance_amount)
);

-- A loan's payment history, newest first, and the per-loan sum of what the sync applied.
CREATE INDEX payments_loan_account_number_created_at_idx
    ON payments (loan_account_number, created_at DESC);
-- Branch collection reports by day.
CREATE INDEX payments_branch_code_created_at_idx ON payments (branch_code, created_at);
-- Settlement reconciliation matches RazorPay's payment ids.
CREATE INDEX payments_razorpay_payment_id_idx ON payments (razorpay_payment_id)
    WHERE razorpay_payment_id IS NOT NULL;

-- Payment history is forward-only: the app role never deletes (0007's default privileges
-- say the same; granted here too so the rule does not hang on who ran the migration).
GRANT SELECT, INSERT, UPDATE ON payments TO engine_app;
REVOKE DELETE, TRUNCATE ON payments FROM engine_app;
