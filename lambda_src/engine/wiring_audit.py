"""Builds the audit trail's log and anchor store from settings.

Both are cheap (their boto3 clients are shared.aws's, cached per container), so they are built
per use and follow the environment a test sets. Every function that appends to the trail
needs AUDIT_TABLE; AUDIT_ANCHOR_BUCKET is optional: without it nothing is anchored.
"""

from __future__ import annotations

from engine import settings
from engine.clients.anchors import AnchorStore
from engine.dal.ddb.audit import AuditLog
from shared import aws


def anchors() -> AnchorStore | None:
    bucket = settings.get().audit_anchor_bucket
    return AnchorStore(aws.client("s3"), bucket) if bucket else None


def audit_log() -> AuditLog:
    table = settings.require("AUDIT_TABLE", settings.get().audit_table)
    return AuditLog(aws.client("dynamodb"), table, anchors())
