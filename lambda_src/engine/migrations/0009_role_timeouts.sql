-- Statement timeouts on the login roles, not per session: a session-level SET through RDS Proxy
-- pins the client's connection to one backend for its life, so the proxy could no longer share
-- backends between Lambda containers. A role setting applies when the backend session starts,
-- which pins nothing. Roles belong to the cluster (see 0007), and so do these settings: two
-- databases migrating on one server at once (parallel tests) would both update the same role
-- row ("tuple concurrently updated"), so they take turns on a cluster-wide advisory lock, held
-- until this migration's transaction ends.

SELECT pg_advisory_xact_lock(hashtext('engine login role settings'));

ALTER ROLE engine_app SET statement_timeout = '5s';
ALTER ROLE engine_app SET idle_in_transaction_session_timeout = '30s';
ALTER ROLE engine_health SET statement_timeout = '2s';
