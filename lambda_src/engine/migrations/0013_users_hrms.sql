-- The nightly HRMS (DarwinBox) sync (engine.logic.hrms_sync, docs/hrms-api.yml).
--
-- users.employee_id: the HRMS's id of the employee the row belongs to; NULL for a row made by
-- hand (the first sync links such a row to its employee by username). users.exited_at: when
-- the sync took a leaver's access away. users.hrms_updated_at: the HRMS's `updated_at` of the
-- employee version last applied; a version is applied only when it is newer (a page read
-- twice, the overlap between runs, change nothing).

ALTER TABLE users
    ADD COLUMN employee_id VARCHAR(32),
    ADD COLUMN exited_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN hrms_updated_at TIMESTAMP WITH TIME ZONE,
    ADD CONSTRAINT users_employee_id_key UNIQUE (employee_id),
    ADD CONSTRAINT users_employee_id_check CHECK (employee_id IS NULL OR btrim(employee_id) <> '');

-- The sync's one state row, as lms_sync_state is the loan sync's (0010): a run reads pages
-- of employees changed since `watermark`; after each page, in the page's own transaction,
-- `cursor` is the HRMS's cursor for the next page, so a run that fails or runs out of time
-- resumes there. The last page clears `cursor` and moves `watermark` to the newest
-- `updated_at` the run read (`run_high_water`) minus a small overlap.
CREATE TABLE hrms_sync_state (
    sync_name VARCHAR(40) PRIMARY KEY,
    watermark TIMESTAMP WITH TIME ZONE NOT NULL,
    cursor TEXT,
    run_high_water TIMESTAMP WITH TIME ZONE,
    run_started_at TIMESTAMP WITH TIME ZONE,
    run_pages INTEGER NOT NULL DEFAULT 0,
    last_finished_at TIMESTAMP WITH TIME ZONE,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT hrms_sync_state_sync_name_check CHECK (btrim(sync_name) <> ''),
    CONSTRAINT hrms_sync_state_cursor_check CHECK (cursor IS NULL OR cursor <> ''),
    CONSTRAINT hrms_sync_state_run_pages_check CHECK (run_pages >= 0)
);

-- Each change the sync made to a users row, written in the same transaction as the change:
-- what is still to be carried outside PostgreSQL (the staff pool's user created or disabled,
-- the audit trail's entry) is recorded before it is tried, and a change is done (`done_at`)
-- only once both happened. A run claims a pending change for a short lease
-- (`claimed_until`), so two runs never carry the same change at once, and a failure leaves
-- it pending, tried again later (`attempts`, `last_error`: the error's type, never text).
-- The details are the audit entry's: ids, branch codes and the role, never PII.
CREATE TABLE hrms_changes (
    change_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (user_id),
    action VARCHAR(40) NOT NULL,
    pool_action VARCHAR(20),
    branch_code VARCHAR(20),
    details JSONB NOT NULL DEFAULT '{}'::jsonb,
    changed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until TIMESTAMP WITH TIME ZONE,
    last_error VARCHAR(100),
    done_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT hrms_changes_action_check CHECK (
        action IN ('USER_CREATED', 'USER_DEACTIVATED', 'USER_TRANSFERRED', 'USER_LINKED')
    ),
    CONSTRAINT hrms_changes_pool_action_check CHECK (
        pool_action IS NULL OR pool_action IN ('CREATE', 'DISABLE')
    ),
    CONSTRAINT hrms_changes_details_check CHECK (jsonb_typeof(details) = 'object'),
    CONSTRAINT hrms_changes_attempts_check CHECK (attempts >= 0)
);

CREATE INDEX hrms_changes_user_id_idx ON hrms_changes (user_id);
-- The changes still to carry, oldest first: the few a run looks for.
CREATE INDEX hrms_changes_pending_idx ON hrms_changes (change_id) WHERE done_at IS NULL;

-- Forward-only, as in 0008 and 0010: the app role reads and writes, never deletes.
GRANT SELECT, INSERT, UPDATE ON hrms_sync_state, hrms_changes, users TO engine_app;
REVOKE DELETE, TRUNCATE ON hrms_sync_state, hrms_changes, users FROM engine_app;
GRANT USAGE, SELECT ON SEQUENCE hrms_changes_change_id_seq TO engine_app;
