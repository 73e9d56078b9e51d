"""Builds the nightly HRMS sync (engine.logic.hrms_sync) from settings: the HRMS client (cached
per container, its connection pool kept warm), the engine's one PostgreSQL connection, and
the staff pool and audit log as the users routes build them (engine.wiring_users).
`reset()` forgets the client (tests swap the simulator between cases)."""

from __future__ import annotations

from functools import cache

from engine import settings, wiring, wiring_users
from engine.clients.hrms import HrmsClient, HrmsCredentials
from engine.dal.pg.hrms import HrmsSyncStore
from engine.logic.hrms_sync import HrmsSync
from shared import secrets

# Each page's GET retries within this; every attempt is one of HRMS_TIMEOUT_SECONDS.
CALL_BUDGET_SECONDS = 10.0


def credentials() -> HrmsCredentials:
    arn = settings.require("HRMS_SECRET_ARN", settings.get().hrms_secret_arn)
    secret = secrets.get_json_secret(arn)
    return HrmsCredentials(
        str(secret["api_user"]), str(secret["api_password"]), str(secret["api_key"])
    )


@cache
def hrms() -> HrmsClient:
    config = settings.get()
    return HrmsClient(
        settings.require("HRMS_BASE_URL", config.hrms_base_url),
        credentials,
        timeout_seconds=float(config.hrms_timeout_seconds),
        budget_seconds=CALL_BUDGET_SECONDS,
    )


def store() -> HrmsSyncStore:
    return HrmsSyncStore(wiring.database())


def hrms_sync() -> HrmsSync:
    return HrmsSync(store(), hrms(), wiring_users.staff_pool(), wiring_users.audit_log())


def reset() -> None:
    hrms.cache_clear()
