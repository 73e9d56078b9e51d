-- The nightly loan master sync from the LMS (engine.logic.loan_sync, seed §6.4.2), and the
-- posting facts it needs from the Transactions stream.
--
-- payments.lms_receipt_id / lms_posted_at: set by the stream once the poster has posted the
-- receipt (the Transactions item carries them), never erased by a later image. The loan sync
-- reads lms_posted_at to leave out receipts posted so long ago that the LMS's list of recent
-- receipts (35 days) may no longer name them, although its outstanding reflects them.
--
-- loan_accounts.lms_updated_at: the LMS's `updated_at` of the version last applied; a version
-- is applied only when it is newer (a page read twice, an older version arriving after a
-- newer one change nothing). lms_receipt_references: that version's
-- `recent_receipt_references`, the receipts its outstanding already reflects; a capture the
-- stream first sees after such a version took it into account (posted before the stream
-- applied it) moves the loan no further.
--
-- The loan sync also re-divides each of a loan's payments between balance_applied and
-- advance_amount (their sum stays the amount) so that the loan's advance is held by its newest
-- payments: a later refund then takes back from the advance what the loan holds as advance.

ALTER TABLE payments
    ADD COLUMN lms_receipt_id VARCHAR(40),
    ADD COLUMN lms_posted_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE loan_accounts
    ADD COLUMN lms_updated_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN lms_receipt_references TEXT[] NOT NULL DEFAULT '{}';

-- One row per sync (today only 'lms_loans'). A run reads pages of loans changed since
-- `watermark`; after each page, in the page's own transaction, `cursor` is the LMS's cursor
-- for the next page, so a run that fails or runs out of time resumes there. The last page
-- clears `cursor` and moves `watermark` to the newest `updated_at` the run read
-- (`run_high_water`) minus a small overlap.
CREATE TABLE lms_sync_state (
    sync_name VARCHAR(40) PRIMARY KEY,
    watermark TIMESTAMP WITH TIME ZONE NOT NULL,
    cursor TEXT,
    run_high_water TIMESTAMP WITH TIME ZONE,
    run_started_at TIMESTAMP WITH TIME ZONE,
    run_pages INTEGER NOT NULL DEFAULT 0,
    last_finished_at TIMESTAMP WITH TIME ZONE,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT lms_sync_state_sync_name_check CHECK (btrim(sync_name) <> ''),
    CONSTRAINT lms_sync_state_cursor_check CHECK (cursor IS NULL OR cursor <> ''),
    CONSTRAINT lms_sync_state_run_pages_check CHECK (run_pages >= 0)
);

-- Forward-only, as in 0008: the app role reads and writes, never deletes.
GRANT SELECT, INSERT, UPDATE ON lms_sync_state TO engine_app;
REVOKE DELETE, TRUNCATE ON lms_sync_state FROM engine_app;
GRANT SELECT, INSERT, UPDATE ON payments, loan_accounts TO engine_app;
REVOKE DELETE, TRUNCATE ON payments, loan_accounts FROM engine_app;
