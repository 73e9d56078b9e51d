-- The DCR's maker-checker workflow (engine.logic.dcr, engine.models.status.DcrStatus):
-- DRAFT -> SUBMITTED (a cashier counts the day's cash) -> APPROVED or REJECTED (a branch
-- manager who is not the submitter), and REJECTED -> DRAFT (reopened for correction).
--
-- A row carries the day's totals as submitted (summed from `collections` under this row's
-- lock, never typed in), the DBS count's result (`counted_cash`, the denominations being in
-- dbs_entries), and its variance from the cash collected. A DRAFT row holds no submission: a
-- reopen clears it, and keeps the last rejection (who, when, why) for the cashier to read.
--
-- `version` counts the row's transitions. `audit_owed_at` is set by each transition, in its
-- own transaction, and cleared once the step's audit record is appended (after the commit):
-- a step whose append failed is recorded later, never lost (engine.logic.dcr.settle).

ALTER TABLE dcr_sessions
    ADD COLUMN submitted_by UUID REFERENCES users (user_id),
    ADD COLUMN rejected_by UUID REFERENCES users (user_id),
    ADD COLUMN rejected_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN rejection_reason TEXT,
    ADD COLUMN reopened_by UUID REFERENCES users (user_id),
    ADD COLUMN reopened_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN cash_collected DECIMAL(12, 2) NOT NULL DEFAULT 0,
    ADD COLUMN cheque_collected DECIMAL(12, 2) NOT NULL DEFAULT 0,
    ADD COLUMN counted_cash DECIMAL(12, 2),
    -- counted_cash - cash_collected: negative when cash is short.
    ADD COLUMN variance_amount DECIMAL(12, 2),
    ADD COLUMN variance_reason TEXT,
    ADD COLUMN version INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN audit_owed_at TIMESTAMP WITH TIME ZONE,
    ADD CONSTRAINT dcr_sessions_collected_check
        CHECK (cash_collected >= 0 AND cheque_collected >= 0),
    ADD CONSTRAINT dcr_sessions_version_check CHECK (version >= 1),
    -- Submitted (SUBMITTED, APPROVED, REJECTED) exactly when the submission is there whole.
    ADD CONSTRAINT dcr_sessions_submission_check CHECK (
        (status = 'DRAFT') = (submitted_at IS NULL)
        AND (submitted_at IS NULL) = (submitted_by IS NULL)
        AND (submitted_at IS NULL) = (counted_cash IS NULL)
        AND (counted_cash IS NULL) = (variance_amount IS NULL)
    ),
    ADD CONSTRAINT dcr_sessions_counted_check CHECK (
        counted_cash IS NULL
        OR (counted_cash >= 0 AND variance_amount = counted_cash - cash_collected)
    ),
    -- A count that differs from the cash collected says why.
    ADD CONSTRAINT dcr_sessions_variance_check CHECK (
        (variance_amount IS NULL OR variance_amount = 0 OR variance_reason IS NOT NULL)
        AND (variance_reason IS NULL OR btrim(variance_reason) <> '')
    ),
    -- A REJECTED row has its rejection whole; other rows may keep the last one (history).
    ADD CONSTRAINT dcr_sessions_rejection_check CHECK (
        (rejected_at IS NULL) = (rejected_by IS NULL)
        AND (rejected_at IS NULL) = (rejection_reason IS NULL)
        AND (status <> 'REJECTED' OR rejected_at IS NOT NULL)
        AND (rejection_reason IS NULL OR btrim(rejection_reason) <> '')
    ),
    ADD CONSTRAINT dcr_sessions_reopen_check CHECK (
        (reopened_at IS NULL) = (reopened_by IS NULL)
        AND (reopened_at IS NULL OR rejected_at IS NOT NULL)
    );

-- Who approved, and when, only on an APPROVED row (0006 only paired the two columns).
ALTER TABLE dcr_sessions DROP CONSTRAINT dcr_sessions_approval_check;
ALTER TABLE dcr_sessions ADD CONSTRAINT dcr_sessions_approval_check CHECK (
    (status = 'APPROVED') = (approved_at IS NOT NULL)
    AND (approved_at IS NULL) = (approved_by IS NULL)
);
-- 0006's "not DRAFT implies submitted_at" is part of dcr_sessions_submission_check now.
ALTER TABLE dcr_sessions DROP CONSTRAINT dcr_sessions_submitted_check;

CREATE INDEX dcr_sessions_submitted_by_idx ON dcr_sessions (submitted_by);
CREATE INDEX dcr_sessions_rejected_by_idx ON dcr_sessions (rejected_by);
CREATE INDEX dcr_sessions_reopened_by_idx ON dcr_sessions (reopened_by);
-- The settle sweep's lookup: the few rows whose audit record is still owed.
CREATE INDEX dcr_sessions_audit_owed_at_idx ON dcr_sessions (audit_owed_at)
    WHERE audit_owed_at IS NOT NULL;

-- Forward-only, as in 0008: the app role reads and writes, never deletes. A resubmitted DBS
-- replaces its rows in place (one per denomination, UPSERT), and a reopen zeroes them.
GRANT SELECT, INSERT, UPDATE ON dcr_sessions, dbs_entries TO engine_app;
REVOKE DELETE, TRUNCATE ON dcr_sessions, dbs_entries FROM engine_app;
