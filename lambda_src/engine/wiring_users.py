"""Builds what the users routes and the sign-in trigger use: the users store (the container's
one PostgreSQL connection, engine.wiring.database), the staff pool, the audit log.

Nothing here is cached beyond what it is built from (the connection, the boto3 client), so
`engine.wiring.reset()` is all a test needs between cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import settings, wiring
from engine.clients.staff_pool import StaffPool
from engine.dal.pg.users import UserStore
from shared import aws

if TYPE_CHECKING:
    from engine.models.audit import AuditSink


def users() -> UserStore:
    return UserStore(wiring.database())


def staff_pool() -> StaffPool:
    pool_id = settings.require("STAFF_USER_POOL_ID", settings.get().staff_user_pool_id)
    return StaffPool(aws.client("cognito-idp"), pool_id)


def audit_log() -> AuditSink:
    from engine import wiring_audit  # noqa: PLC0415 - the audit trail's own builders

    return wiring_audit.audit_log()
