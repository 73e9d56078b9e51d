-- Daily collection reconciliation (DCR) and its daily balancing statement (DBS) (seed §6.2.2).
--
-- One DCR per branch per day. A DBS row counts one cash denomination in a DCR, and its
-- total_value must equal denomination * count.

CREATE TABLE dcr_sessions (
    dcr_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NOT NULL (the seed leaves it nullable): the one-DCR-per-branch-per-day key needs it.
    branch_code VARCHAR(20) NOT NULL REFERENCES branches (branch_code),
    collection_date DATE NOT NULL,
    total_field_collections DECIMAL(12, 2) NOT NULL DEFAULT 0,
    total_branch_collections DECIMAL(12, 2) NOT NULL DEFAULT 0,
    total_legal_fees DECIMAL(12, 2) NOT NULL DEFAULT 0,
    total_other_fees DECIMAL(12, 2) NOT NULL DEFAULT 0,
    total_challans DECIMAL(12, 2) NOT NULL DEFAULT 0,
    closing_balance DECIMAL(12, 2) NOT NULL DEFAULT 0,
    status VARCHAR(20) NOT NULL DEFAULT 'DRAFT',
    created_by UUID REFERENCES users (user_id),
    submitted_at TIMESTAMP WITH TIME ZONE,
    approved_by UUID REFERENCES users (user_id),
    approved_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT dcr_sessions_branch_code_collection_date_key UNIQUE (branch_code, collection_date),
    CONSTRAINT dcr_sessions_amounts_check CHECK (
        total_field_collections >= 0
        AND total_branch_collections >= 0
        AND total_legal_fees >= 0
        AND total_other_fees >= 0
        AND total_challans >= 0
        AND closing_balance >= 0
    ),
    CONSTRAINT dcr_sessions_status_check
        CHECK (status IN ('DRAFT', 'SUBMITTED', 'APPROVED', 'REJECTED')),
    CONSTRAINT dcr_sessions_submitted_check CHECK (status = 'DRAFT' OR submitted_at IS NOT NULL),
    CONSTRAINT dcr_sessions_approval_check
        CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);

CREATE INDEX dcr_sessions_collection_date_idx ON dcr_sessions (collection_date);
CREATE INDEX dcr_sessions_status_idx ON dcr_sessions (status);
CREATE INDEX dcr_sessions_created_by_idx ON dcr_sessions (created_by);
CREATE INDEX dcr_sessions_approved_by_idx ON dcr_sessions (approved_by);

CREATE TABLE dbs_entries (
    dbs_entry_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NOT NULL (the seed leaves these nullable): a row without them means nothing, and the
    -- total check below would pass on NULLs.
    dcr_id UUID NOT NULL REFERENCES dcr_sessions (dcr_id),
    denomination DECIMAL(6, 2) NOT NULL, -- 500, 200, 100, 50, etc.
    count INTEGER NOT NULL,
    total_value DECIMAL(10, 2) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    -- One row per denomination per DCR; also serves lookups by dcr_id.
    CONSTRAINT dbs_entries_dcr_id_denomination_key UNIQUE (dcr_id, denomination),
    CONSTRAINT dbs_entries_denomination_check CHECK (denomination > 0),
    CONSTRAINT dbs_entries_count_check CHECK (count >= 0),
    CONSTRAINT dbs_entries_total_value_check CHECK (total_value = denomination * count)
);
