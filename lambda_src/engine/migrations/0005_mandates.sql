-- Payment mandates: UPI AutoPay and NACH (seed §6.2.1).
--
-- status covers the maker-checker step (PENDING -> APPROVED/REJECTED) and the provider's
-- mandate lifecycle (ACTIVE, PAUSED, and the terminal REVOKED, FAILED, EXPIRED, CANCELLED).
-- frequency uses Juspay's names (NACH's are mapped at the client edge).

CREATE TABLE payment_mandates (
    mandate_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    umrn VARCHAR(50) UNIQUE,
    loan_account_number VARCHAR(50) REFERENCES loan_accounts (loan_account_number),
    mandate_type VARCHAR(10) NOT NULL,
    bank_account_number VARCHAR(50),
    ifsc_code VARCHAR(11),
    upi_id VARCHAR(100),
    amount DECIMAL(10, 2),
    frequency VARCHAR(20) NOT NULL DEFAULT 'MONTHLY',
    start_date DATE,
    end_date DATE,
    status VARCHAR(20) NOT NULL DEFAULT 'PENDING',
    created_by UUID REFERENCES users (user_id),
    approved_by UUID REFERENCES users (user_id),
    approved_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT payment_mandates_mandate_type_check CHECK (mandate_type IN ('UPI', 'NACH')),
    -- Four letters (bank), a zero, six alphanumerics (branch), e.g. HDFC0001234.
    CONSTRAINT payment_mandates_ifsc_code_check CHECK (ifsc_code ~ '^[A-Z]{4}0[A-Z0-9]{6}$'),
    CONSTRAINT payment_mandates_upi_id_check CHECK (upi_id ~ '^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$'),
    CONSTRAINT payment_mandates_amount_check CHECK (amount >= 0),
    CONSTRAINT payment_mandates_frequency_check CHECK (
        frequency IN (
            'ONETIME', 'DAILY', 'WEEKLY', 'FORTNIGHTLY', 'MONTHLY', 'BIMONTHLY',
            'QUARTERLY', 'HALFYEARLY', 'YEARLY', 'ASPRESENTED'
        )
    ),
    CONSTRAINT payment_mandates_status_check CHECK (
        status IN (
            'PENDING', 'APPROVED', 'REJECTED', 'ACTIVE', 'PAUSED',
            'REVOKED', 'FAILED', 'EXPIRED', 'CANCELLED'
        )
    ),
    CONSTRAINT payment_mandates_dates_check CHECK (end_date >= start_date),
    -- A UPI mandate debits a VPA; a NACH mandate debits a bank account at an IFSC.
    CONSTRAINT payment_mandates_upi_details_check
        CHECK (mandate_type <> 'UPI' OR upi_id IS NOT NULL),
    CONSTRAINT payment_mandates_nach_details_check CHECK (
        mandate_type <> 'NACH' OR (bank_account_number IS NOT NULL AND ifsc_code IS NOT NULL)
    ),
    -- Approval is recorded as a pair: who and when.
    CONSTRAINT payment_mandates_approval_check
        CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);

CREATE INDEX payment_mandates_loan_account_number_idx ON payment_mandates (loan_account_number);
CREATE INDEX payment_mandates_status_idx ON payment_mandates (status);
CREATE INDEX payment_mandates_created_by_idx ON payment_mandates (created_by);
CREATE INDEX payment_mandates_approved_by_idx ON payment_mandates (approved_by);
