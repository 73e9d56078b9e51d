-- Login roles for the engine's functions, authenticated by IAM (RDS Proxy end-to-end IAM auth
-- in the primary region; the cross-region replica directly in the DR region).
--
-- engine_health proves the database answers (GET /health): it may connect and nothing else.
-- engine_app is the business logic's role: it reads and writes rows but never deletes them
-- (payment history is forward-only) and never touches schema_migrations.
--
-- Roles belong to the cluster, not the database: they are created only when missing, so a
-- second database on the same server (every test run) migrates cleanly. `rds_iam` exists on
-- RDS only; granting it makes a role log in with an IAM token instead of a password.

DO $$
DECLARE
    login_role TEXT;
BEGIN
    FOREACH login_role IN ARRAY ARRAY['engine_health', 'engine_app'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login_role) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', login_role);
        END IF;
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
            EXECUTE format('GRANT rds_iam TO %I', login_role);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), login_role);
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA public TO engine_app;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO engine_app;
REVOKE ALL ON schema_migrations FROM engine_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO engine_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE ON TABLES TO engine_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO engine_app;
