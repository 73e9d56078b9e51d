-- Extensions the schema relies on.
--
-- gen_random_uuid() is built into PostgreSQL 13 and newer; pgcrypto provides it on older
-- servers and is a trusted extension (no superuser needed on RDS). IF NOT EXISTS keeps this
-- harmless where it is already installed.
--
-- Migrations are forward-only: never edit a file once it has been applied anywhere (the
-- runner refuses a changed checksum); add a new, higher-numbered file instead. Each file runs
-- in one transaction that the runner opens, so a file must not contain BEGIN/COMMIT/ROLLBACK
-- or statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM).

CREATE EXTENSION IF NOT EXISTS pgcrypto;
