"""Builds the nightly loan master sync (engine.logic.loan_sync) from settings: the LMS client
of engine.wiring_lms (cached per container) and the engine's one PostgreSQL connection."""

from __future__ import annotations

from engine import wiring, wiring_lms
from engine.dal.pg.loan_sync import LoanSyncStore
from engine.logic.loan_sync import LoanSync


def store() -> LoanSyncStore:
    return LoanSyncStore(wiring.database())


def loan_sync() -> LoanSync:
    return LoanSync(store(), wiring_lms.lms())
