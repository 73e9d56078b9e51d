-- Customers and their loan accounts (seed §6.2.1). Money is DECIMAL, never float.

CREATE TABLE customers (
    customer_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_number VARCHAR(50) UNIQUE NOT NULL,
    full_name VARCHAR(200) NOT NULL,
    mobile_number VARCHAR(15),
    email VARCHAR(255),
    address JSONB,
    kyc_status VARCHAR(20),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT customers_customer_number_check CHECK (btrim(customer_number) <> ''),
    CONSTRAINT customers_full_name_check CHECK (btrim(full_name) <> ''),
    -- Digits, optionally with a leading + and country code (E.164 fits in 15 characters).
    CONSTRAINT customers_mobile_number_check CHECK (mobile_number ~ '^\+?[0-9]{10,14}$'),
    CONSTRAINT customers_email_check CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT customers_address_check
        CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
    CONSTRAINT customers_kyc_status_check
        CHECK (kyc_status IN ('PENDING', 'VERIFIED', 'REJECTED', 'EXPIRED'))
);

CREATE INDEX customers_mobile_number_idx ON customers (mobile_number);

CREATE TABLE loan_accounts (
    loan_account_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    loan_account_number VARCHAR(50) UNIQUE NOT NULL,
    customer_id UUID REFERENCES customers (customer_id),
    loan_type VARCHAR(20) NOT NULL,
    principal_amount DECIMAL(15, 2),
    outstanding_balance DECIMAL(15, 2),
    emi_amount DECIMAL(10, 2),
    next_due_date DATE,
    loan_status VARCHAR(20) NOT NULL DEFAULT 'ACTIVE',
    branch_code VARCHAR(20) REFERENCES branches (branch_code),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT loan_accounts_loan_account_number_check CHECK (btrim(loan_account_number) <> ''),
    -- LAP: loan against property; HL: home loan.
    CONSTRAINT loan_accounts_loan_type_check CHECK (loan_type IN ('LAP', 'HL')),
    CONSTRAINT loan_accounts_principal_amount_check CHECK (principal_amount >= 0),
    CONSTRAINT loan_accounts_outstanding_balance_check CHECK (outstanding_balance >= 0),
    CONSTRAINT loan_accounts_emi_amount_check CHECK (emi_amount >= 0),
    CONSTRAINT loan_accounts_loan_status_check
        CHECK (loan_status IN ('ACTIVE', 'NPA', 'CLOSED', 'FORECLOSED', 'WRITTEN_OFF'))
);

CREATE INDEX loan_accounts_customer_id_idx ON loan_accounts (customer_id);
CREATE INDEX loan_accounts_branch_code_idx ON loan_accounts (branch_code);
-- Due-date runs (pre-notifications, presentment) scan active loans by next due date.
CREATE INDEX loan_accounts_next_due_date_idx ON loan_accounts (next_due_date)
    WHERE loan_status = 'ACTIVE';
