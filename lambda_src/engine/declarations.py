"""The payments engine's functions and API routes, declared once (see shared/declarations.py).

Two APIs: the public customer portal (API keys, WAF rate limit per IP) and the internal engine
for branch staff (Cognito, RBAC by role and branch). Each has its own health function, so a
failover check of one API exercises that API's own path to its dependencies.
"""

from __future__ import annotations

from shared.declarations import FunctionSpec, Route

PORTAL_HEALTH = FunctionSpec(
    name="PortalHealth",
    handler="engine.handlers.health.handler",
    description="GET /health of the customer portal API (DynamoDB + PostgreSQL via the proxy)",
    memory_mb=256,
    timeout_seconds=10,
)
INTERNAL_HEALTH = FunctionSpec(
    name="InternalHealth",
    handler="engine.handlers.health.handler",
    description="GET /health of the internal engine API (DynamoDB + PostgreSQL via the proxy)",
    memory_mb=256,
    timeout_seconds=10,
)
SCHEMA_MIGRATOR = FunctionSpec(
    name="SchemaMigrator",
    handler="engine.handlers.migrate.on_cfn_event",
    description="Custom resource: applies the PostgreSQL migrations through RDS Proxy on deploy",
    memory_mb=512,
    timeout_seconds=300,
)

FUNCTIONS = (PORTAL_HEALTH, INTERNAL_HEALTH, SCHEMA_MIGRATOR)

PORTAL_ROUTES = (
    Route(
        "GET",
        "/health",
        PORTAL_HEALTH.name,
        auth="none",
        summary="Customer portal health: 200 when DynamoDB and PostgreSQL answer, else 503",
        responses={200: "Healthy", 503: "A dependency is down"},
    ),
)
INTERNAL_ROUTES = (
    Route(
        "GET",
        "/health",
        INTERNAL_HEALTH.name,
        auth="none",
        summary="Internal engine health: 200 when DynamoDB and PostgreSQL answer, else 503",
        responses={200: "Healthy", 503: "A dependency is down"},
    ),
)

# Seed §3.1 user groups and §7.2 roles; the first four are privileged.
STAFF_ROLES = (
    ("SuperAdmin", "System super administrators", 1),
    ("Admin", "System administrators", 2),
    ("FinanceTeam", "Finance: reconciliation and reporting", 3),
    ("BranchManager", "Branch managers: approvals for their branch", 4),
    ("BranchCashier", "Branch cashiers: cash collection and DCR", 5),
    ("FieldOfficer", "Field officers: collections in the field", 6),
)
