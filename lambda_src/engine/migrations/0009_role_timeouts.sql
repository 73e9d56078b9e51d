-- Statement timeouts on the login roles, not per session: a session-level SET through RDS Proxy
-- pins the client's connection to one backend for its life, so the proxy could no longer share
-- backends between Lambda containers. A role setting applies when the backend session starts,
-- which pins nothing. Roles belong to the cluster (see 0007), and so do these settings.

ALTER ROLE engine_app SET statement_timeout = '5s';
ALTER ROLE engine_app SET idle_in_transaction_session_timeout = '30s';
ALTER ROLE engine_health SET statement_timeout = '2s';
