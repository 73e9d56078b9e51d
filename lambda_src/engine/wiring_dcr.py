"""Builds the DCR service: its PostgreSQL store (the container's one connection) and the
audit trail it appends each step to. Built per use: both are cheap, and a test's environment
is followed."""

from __future__ import annotations

from engine import wiring, wiring_audit
from engine.dal.pg.dcr import DcrStore
from engine.logic.dcr import DcrService


def store() -> DcrStore:
    return DcrStore(wiring.database())


def service() -> DcrService:
    return DcrService(store(), wiring_audit.audit_log())
